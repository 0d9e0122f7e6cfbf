use super::*;
use proptest::prelude::*;
use serde_json::json;

const DEFAULTS: Sources<'static> = Sources { user: &Source::Default, model: &Source::Default, user_header: None };

fn code(body: &Value) -> Option<&'static str> {
    parse(body, DEFAULTS).err().map(|e| e.code())
}

fn dify(prompt: Value, completion: Value) -> Value {
    json!({"event":"message_end","conversation_id":"c","message_id":"m2","id":"m2",
        "created_at":1705395332,"task_id":"t","user":"u","model":"gpt-4",
        "metadata":{"usage":{"prompt_tokens":prompt,"prompt_unit_price":"0.001","prompt_price_unit":"0.001",
        "prompt_price":"0.0010330","completion_tokens":completion,"completion_unit_price":"0.002",
        "completion_price_unit":"0.001","completion_price":"0.0002560",
        "total_price":"0.0012890","currency":"USD","latency":0.768}}})
}

#[test]
fn relay_shape() {
    let r = parse(
        &json!({"event":"message_end","data":{"conversation_id":"c","message_id":"m1","user_id":"u",
            "model_name":"gpt-4","input_tokens":1500,"output_tokens":800,"total_tokens":2300,
            "timestamp":"2024-01-15T10:30:00Z"},"request_id":"r"}),
        DEFAULTS,
    )
    .expect("parse");
    assert_eq!((r.message_id.as_str(), r.user.as_str(), r.model.as_str()), ("m1", "u", "gpt-4"));
    assert_eq!(r.usage, TokenUsage { input: 1500, output: 800 });
}

#[test]
fn dify_shape_with_string_prices() {
    let r = parse(&dify(json!(1033), json!(128)), DEFAULTS).expect("parse");
    assert_eq!(r.usage, TokenUsage { input: 1033, output: 128 });
    assert_eq!(r.reported_price.as_deref(), Some("0.0012890"));
}

#[test]
fn the_app_says_where_the_user_and_model_are() {
    // Dify's message_end as Dify sends it: no user, no model.
    let mut body = dify(json!(10), json!(5));
    body.as_object_mut().map(|o| (o.remove("user"), o.remove("model")));
    assert_eq!(code(&body), Some("missing_user"));
    let header = Source::Header("x-dify-user".into());
    let fixed = Source::Fixed("GPT-4".into());
    let r = parse(&body, Sources { user: &header, model: &fixed, user_header: Some("alice") }).expect("parse");
    assert_eq!((r.user.as_str(), r.model.as_str()), ("alice", "GPT-4"));
    let missing = parse(&body, Sources { user: &header, model: &fixed, user_header: None }).expect_err("no header");
    assert_eq!((missing.code(), missing.field()), ("missing_user", Some("header x-dify-user")));
    body["from_end_user_id"] = json!(42);
    body["inputs"] = json!({"model": "gpt-4"});
    let (user, model) = (Source::Field("from_end_user_id".into()), Source::Field("inputs.model".into()));
    let r = parse(&body, Sources { user: &user, model: &model, user_header: None }).expect("parse");
    assert_eq!((r.user.as_str(), r.model.as_str()), ("42", "gpt-4"));
    let elsewhere = Source::Field("inputs.nobody".into());
    let e = parse(&body, Sources { user: &elsewhere, model: &model, user_header: None }).expect_err("missing");
    assert_eq!((e.code(), e.field()), ("missing_user", Some("inputs.nobody")));
}

#[test]
fn sources_round_trip_and_refuse_junk() {
    for s in [Source::Default, Source::Field("a.b_c".into()), Source::Header("x-user".into()), Source::Fixed("GPT-4".into())] {
        assert_eq!(Source::decode(s.encode().as_deref()), Some(s.clone()));
    }
    assert_eq!(Source::user("header", "X-User"), Ok(Source::Header("x-user".into())));
    for (kind, value) in [("field", ""), ("field", "a..b"), ("field", "a b"), ("header", "x:y"), ("fixed", "m"), ("nope", "x")] {
        assert!(Source::user(kind, value).is_err(), "{kind} {value}");
    }
    assert!(Source::model("header", "x").is_err());
    assert!(Source::model("fixed", &"m".repeat(201)).is_err());
    assert!(Source::model("field", &["a"; 9].join(".")).is_err());
}

#[test]
fn bad_token_counts() {
    for v in [json!(-1), json!(i64::MIN), json!(1.5), json!(1.0), json!("10"), json!(1e30), json!(1e308), json!(100_000_001u64), json!(u64::MAX), json!(null), json!([1]), json!({"a": 1})] {
        let body = json!({"event":"message_end","data":{"message_id":"m","user_id":"u","model_name":"x",
            "input_tokens":v,"output_tokens":1}});
        assert_eq!(code(&body), Some("invalid_tokens"), "{v}");
        assert_eq!(code(&dify(json!(1), v.clone())), Some("invalid_tokens"), "{v}");
    }
    let big: Value = serde_json::from_str(
        r#"{"event":"message_end","data":{"message_id":"m","user_id":"u",
        "model_name":"x","input_tokens":123456789012345678901234567890,"output_tokens":1}}"#,
    )
    .expect("json");
    assert_eq!(code(&big), Some("invalid_tokens"));
}

#[test]
fn hostile_numbers_elsewhere() {
    let mut b = dify(json!(1), json!(1));
    b["metadata"]["usage"]["total_tokens"] = json!(u64::MAX);
    assert_eq!(code(&b), Some("invalid_tokens"));
    b["metadata"]["usage"]["total_tokens"] = json!(3);
    assert_eq!(code(&b), Some("invalid_tokens"));
    for (path, v, expected) in [
        ("created_at", json!(-1), "invalid_field"),
        ("created_at", json!(1e308), "invalid_field"),
        ("created_at", json!(u64::MAX), "invalid_field"),
        ("created_at", json!(i64::MAX), ""),
        ("latency", json!(-0.5), "invalid_field"),
        ("latency", json!("1"), "invalid_field"),
        ("latency", json!(1e308), ""),
        ("total_price", json!("1e308"), "invalid_price"),
        ("total_price", json!("-1"), "invalid_price"),
        ("total_price", json!("9".repeat(60)), "invalid_price"),
        ("total_price", json!(0.5), "invalid_field"),
        ("prompt_price", json!("0.0000000000000000001"), "invalid_price"),
        ("reservation_id", json!("x".repeat(129)), "invalid_field"),
        ("user", json!(i64::MIN), ""),
        ("user", json!(1.5), "invalid_field"),
        ("user", json!("u".repeat(201)), "invalid_field"),
        ("message_id", json!(""), "invalid_field"),
        ("id", json!("other"), "invalid_field"),
    ] {
        let mut b = dify(json!(1), json!(1));
        if path.contains("price") || path == "latency" {
            b["metadata"]["usage"][path] = v.clone();
        } else {
            b[path] = v.clone();
        }
        assert_eq!(code(&b).unwrap_or(""), expected, "{path} = {v}");
    }
}

#[test]
fn missing_things() {
    assert_eq!(code(&json!({"event":"message"})), Some("unsupported_event"));
    assert_eq!(code(&json!({"event": "x".repeat(100_000)})), Some("unsupported_event"));
    assert_eq!(code(&json!([1])), Some("malformed_json"));
    let no_user = json!({"event":"message_end","data":{"message_id":"m","model_name":"x","input_tokens":1,"output_tokens":1}});
    assert_eq!(code(&no_user), Some("missing_user"));
    let no_message = json!({"event":"message_end","data":{"user_id":"u","model_name":"x","input_tokens":1,"output_tokens":1}});
    assert_eq!(code(&no_message), Some("invalid_field"));
}

/// JSON numbers at and past every edge.
fn extreme_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(i64::MIN)),
        Just(json!(i64::MAX)),
        Just(json!(u64::MAX)),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(MAX_TOKENS)),
        Just(json!(MAX_TOKENS + 1)),
        Just(json!(1e308)),
        Just(json!(-1e308)),
        Just(json!(f64::MIN_POSITIVE)),
        Just(json!("9".repeat(400))),
        Just(json!("-0.0000001")),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "[0-9.e-]{0,40}".prop_map(|s| json!(s)),
    ]
}

proptest! {
    #[test]
    fn extremes_in_every_numeric_field_never_panic(
        values in proptest::collection::vec(extreme_number(), 8),
    ) {
        let mut relay = json!({"event":"message_end","data":{"message_id":"m","user_id":"u","model_name":"x"}});
        for (name, v) in ["input_tokens", "output_tokens", "total_tokens", "latency", "reservation_id", "user_id"].iter().zip(&values) {
            relay["data"][*name] = v.clone();
        }
        let mut d = dify(values[0].clone(), values[1].clone());
        for (name, v) in ["total_tokens", "latency", "total_price", "prompt_price"].iter().zip(&values[2..]) {
            d["metadata"]["usage"][*name] = v.clone();
        }
        d["created_at"] = values[6].clone();
        d["user"] = values[7].clone();
        for body in [relay, d] {
            if let Ok(r) = parse(&body, DEFAULTS) {
                prop_assert!(r.usage.input <= MAX_TOKENS && r.usage.output <= MAX_TOKENS);
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,300}") {
        if let Ok(v) = serde_json::from_str::<Value>(&text) {
            let _ = parse(&v, DEFAULTS);
        }
    }
}
