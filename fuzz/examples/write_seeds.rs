//! Writes the seed corpora, valid encodings of each target's input, into
//! fuzz/seeds/<target>/ (tracked; scripts/fuzz.sh hands them to every run
//! alongside the growing, untracked fuzz/corpus/<target>/):
//!   cargo run --manifest-path fuzz/Cargo.toml --example write_seeds

#[path = "../fuzz_targets/fixtures.rs"]
mod fixtures;

use ckb_types::core::TransactionView;
use ckb_types::prelude::*;
use std::path::Path;
use tollway_core::channel::wire::{encode_header, PaymentData, PaymentDue, ReceiptSubmission};
use tollway_core::channel::{ChannelId, PayerKey, SignedSubRav, SubRav};
use tollway_core::ckb::CKB;
use tollway_core::Amount;

/// The payer's receipt for `nonce` and `accumulated` on the fixture channel.
fn receipt(nonce: u64, accumulated: u128) -> SignedSubRav {
    SubRav { nonce, accumulated: Amount::new(accumulated), ..fixtures::last_receipt() }.sign(fixtures::payer())
}

fn proposal(nonce: u64, accumulated: u128) -> SubRav {
    SubRav { nonce, accumulated: Amount::new(accumulated), ..fixtures::last_receipt() }
}

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir).expect("create the seed directory");
    std::fs::write(dir.join(name), bytes).expect("write a seed");
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let payer = fixtures::payer();
    let other = PayerKey::from_bytes([2; 32]).expect("valid key");
    // Receipts the payee's checks sort differently: accepted, a replay, a
    // stale nonce, over the collateral, signed by another key, another epoch.
    let receipts = [
        ("accepted", receipt(4, 550)),
        ("replay", receipt(3, 500)),
        ("stale", receipt(2, 600)),
        ("over_collateral", receipt(4, 1_001)),
        ("other_key", SubRav { nonce: 4, accumulated: Amount::new(550), ..fixtures::last_receipt() }.sign(&other)),
        ("other_epoch", SubRav { epoch: 1, ..receipt(4, 550).rav }.sign(payer)),
    ];

    for (name, signed) in &receipts {
        write(&dir, "signed_subrav", name, &signed.encode());
        let submission = ReceiptSubmission { receipt: *signed, commitment: None };
        write(&dir, "receipt_submission", name, &serde_json::to_vec(&submission).expect("json"));
    }

    let channel = ChannelId([0; 32]);
    let payments = [
        ("first", PaymentData { channel, sub_channel: payer.id(), max_amount: None, receipt: None }),
        ("max_amount", PaymentData { channel, sub_channel: payer.id(), max_amount: Some(Amount::new(50)), receipt: None }),
        ("receipt", PaymentData { channel, sub_channel: payer.id(), max_amount: None, receipt: Some(receipts[0].1) }),
        ("all", PaymentData { channel, sub_channel: payer.id(), max_amount: Some(Amount::new(100)), receipt: Some(receipts[1].1) }),
    ];
    for (name, payment) in &payments {
        write(&dir, "payment_header", name, encode_header(payment).as_bytes());
    }

    // Proposals the payer's review sorts differently, in the two forms the
    // payer reads (a response header; a chunk's or pause event's JSON).
    let due = |proposal, cost: u128, required: Option<u128>, stopped: Option<&str>| PaymentDue {
        proposal,
        cost: Amount::new(cost),
        accepted: Amount::new(500),
        required: required.map(Amount::new),
        stopped: stopped.map(str::to_owned),
    };
    let dues = [
        ("next", due(proposal(4, 550), 50, None, None)),
        ("same_again", due(proposal(3, 500), 0, None, None)),
        ("over_max_amount", due(proposal(4, 700), 200, None, None)),
        ("over_budget", due(SubRav { nonce: 4, accumulated: Amount::new(1_050), ..fixtures::last_receipt() }, 550, None, None)),
        ("nonce_skipped", due(proposal(5, 550), 50, None, None)),
        ("pause", due(proposal(4, 600), 100, Some(600), None)),
        ("stopped", due(proposal(4, 520), 20, None, Some("max_amount_reached"))),
    ];
    for (name, due) in &dues {
        write(&dir, "payment_due", &format!("{name}.header"), encode_header(due).as_bytes());
        write(&dir, "payment_due", &format!("{name}.json"), &serde_json::to_vec(due).expect("json"));
    }
    // Commitments on the CKB channel, half-signed by the buyer as the
    // payee receives them: the payee accepts the first three and refuses
    // the others (the seller's slot filled, another signer, cut short).
    let (terms, scripts) = (fixtures::terms(), fixtures::lock_scripts());
    let commitment = |cumulative: u64| terms.commitment(scripts, cumulative).expect("within the channel");
    let half_signed = |tx: &TransactionView, key: &PayerKey| terms.with_signatures(tx, Some(&terms.sign(tx, key)), None);
    let honest = half_signed(&commitment(10 * CKB), payer);
    let fully_signed = {
        let tx = commitment(10 * CKB);
        terms.with_signatures(&tx, Some(&terms.sign(&tx, payer)), Some(&terms.sign(&tx, fixtures::seller())))
    };
    let honest_bytes = honest.data().as_slice().to_vec();
    let commitments: [(&str, Vec<u8>); 6] = [
        ("honest", honest_bytes.clone()),
        ("zero", half_signed(&commitment(0), payer).data().as_slice().to_vec()),
        ("max_payment", half_signed(&commitment(fixtures::ckb_funds().max_payment()), payer).data().as_slice().to_vec()),
        ("fully_signed", fully_signed.data().as_slice().to_vec()),
        ("other_key", half_signed(&commitment(10 * CKB), &other).data().as_slice().to_vec()),
        ("truncated", honest_bytes[..honest_bytes.len() / 2].to_vec()),
    ];
    for (i, (name, bytes)) in commitments.iter().enumerate() {
        let checked = ckb_types::packed::Transaction::from_slice(bytes).map(|tx| terms.check_commitment(scripts, &tx.into_view()));
        assert_eq!(matches!(checked, Ok(Ok(_))), i < 3, "{name}: {checked:?}");
        write(&dir, "commitment", name, bytes);
    }
    // Dify webhook bodies, each after the byte that picks the app's
    // sources (0: built-in places, 1: user header and fixed model, 2: body
    // fields).
    for (name, choice, body) in DIFY_BODIES {
        write(&dir, "dify_webhook", name, &[&[choice], body.as_bytes()].concat());
    }
    println!("seeds written under {}", dir.display());
}

/// Seed webhook bodies: the seed's relay shape, Dify's own `message_end`
/// (as the relay forwards it and as Dify emits it), and extremes.
const DIFY_BODIES: [(&str, u8, &str); 4] = [
    ("relay", 0, r#"{"event":"message_end","data":{"conversation_id":"conv_123","message_id":"msg_456","user_id":"user_789","model_name":"gpt-4","input_tokens":1500,"output_tokens":800,"total_tokens":2300,"timestamp":"2024-01-15T10:30:00Z"},"request_id":"req_abc123"}"#),
    ("message_end", 0, r#"{"event":"message_end","task_id":"t","id":"m","message_id":"m","conversation_id":"c","created_at":1705395332,"user":"u","model":"gpt-4","reservation_id":"k1","metadata":{"usage":{"prompt_tokens":1033,"prompt_unit_price":"0.001","prompt_price_unit":"0.001","prompt_price":"0.0010330","completion_tokens":128,"completion_unit_price":"0.002","completion_price_unit":"0.001","completion_price":"0.0002560","total_tokens":1161,"total_price":"0.0012890","currency":"USD","latency":0.768}}}"#),
    ("verbatim_header", 1, r#"{"event":"message_end","id":"m","message_id":"m","conversation_id":"c","created_at":1705395332,"metadata":{"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"total_price":"0.1","currency":"USD","latency":1.5}}}"#),
    ("extremes", 2, r#"{"event":"message_end","message_id":"m","from_end_user_id":-9223372036854775808,"inputs":{"model":"m"},"created_at":18446744073709551615,"metadata":{"usage":{"prompt_tokens":100000000,"completion_tokens":18446744073709551615,"total_tokens":1e308,"latency":-1e308,"total_price":"99999999999999999999999999999999999999999"}}}"#),
];
