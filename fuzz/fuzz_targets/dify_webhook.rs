//! Decodes arbitrary bytes as a Dify webhook body (`POST /api/dify/webhook`:
//! Dify's `message_end` or the relay shape), with the app's sources chosen
//! by the first byte (built-in places; a user header and a fixed model;
//! body fields). Whatever decodes must be within every bound the charge
//! relies on (token counts, text lengths, input + output = total), and
//! decoding must never panic, whatever the numbers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollway_core::usage::MAX_TOKENS;
use tollway_core::usage_report::{parse, Source, Sources, TEXT_MAX};

fuzz_target!(|data: &[u8]| {
    let Some((&choice, body)) = data.split_first() else { return };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else { return };
    let (header, fixed) = (Source::Header("x-dify-user".into()), Source::Fixed("gpt-4".into()));
    let (user_field, model_field) = (Source::Field("from_end_user_id".into()), Source::Field("inputs.model".into()));
    let sources = match choice % 3 {
        0 => Sources { user: &Source::Default, model: &Source::Default, user_header: None },
        1 => Sources { user: &header, model: &fixed, user_header: Some("alice") },
        _ => Sources { user: &user_field, model: &model_field, user_header: None },
    };
    if let Ok(report) = parse(&json, sources) {
        assert!(report.usage.input <= MAX_TOKENS && report.usage.output <= MAX_TOKENS);
        for text in [&report.message_id, &report.user, &report.model] {
            assert!(!text.is_empty() && text.len() <= TEXT_MAX, "{text:?}");
        }
        assert_eq!(parse(&json, sources), Ok(report), "decoding is deterministic");
    }
});
