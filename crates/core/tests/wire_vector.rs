//! The shared wire vector (docs/vectors/wire.json): the browser app's
//! TypeScript (web/src/lib/wire.test.ts) checks the same bytes, so both
//! sides encode the `X-Tollway-Channel` header and read a `PaymentDue`
//! alike.

use serde_json::Value;
use tollway_core::channel::wire::{decode_header, decode_json, encode_header, PaymentData, PaymentDue};
use tollway_core::channel::{ChannelId, PayerKey, SubRav, SUBRAV_VERSION};
use tollway_core::Amount;

fn vector() -> Value {
    serde_json::from_str(include_str!("../../../docs/vectors/wire.json")).expect("the vector is JSON")
}

fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or_else(|| panic!("{name} is a string in the vector"))
}

/// The vector's data, built here from its fields.
fn built(v: &Value) -> (PaymentData, PaymentDue) {
    let key = PayerKey::from_bytes(tollway_core::channel::wire::parse_hex(field(v, "secret_key")).expect("secret")).expect("key");
    let r = &v["receipt"];
    let number = |name: &str| field(r, name).parse::<u64>().expect("u64");
    let rav = SubRav {
        version: SUBRAV_VERSION,
        chain_id: number("chain_id"),
        channel_id: field(r, "channel_id").parse::<ChannelId>().expect("channel id"),
        epoch: number("epoch"),
        sub_channel: key.id(),
        nonce: number("nonce"),
        accumulated: Amount::from_units_str(field(r, "accumulated")).expect("amount"),
    };
    let max_amount = Amount::from_units_str(field(v, "max_amount")).expect("max");
    let data = PaymentData { channel: rav.channel_id, sub_channel: rav.sub_channel, max_amount: Some(max_amount), receipt: Some(rav.sign(&key)) };
    let two = Amount::new(2);
    let next = SubRav { nonce: rav.nonce + 1, accumulated: rav.accumulated.checked_add(two).expect("sum"), ..rav };
    let due = PaymentDue { proposal: next, cost: two, accepted: rav.accumulated, required: None, stopped: None };
    (data, due)
}

#[test]
fn rust_encodes_the_shared_vector() {
    let v = vector();
    let (data, due) = built(&v);
    if std::env::var("TOLLWAY_PRINT_VECTOR").is_ok() {
        println!("payment_data_json {}", serde_json::to_string(&data).expect("json"));
        println!("payment_header {}", encode_header(&data));
        println!("payment_due_json {}", serde_json::to_string(&due).expect("json"));
        println!("payment_due_header {}", encode_header(&due));
    }
    assert_eq!(serde_json::to_string(&data).expect("json"), field(&v, "payment_data_json"));
    assert_eq!(encode_header(&data), field(&v, "payment_header"));
    assert_eq!(serde_json::to_string(&due).expect("json"), field(&v, "payment_due_json"));
    assert_eq!(encode_header(&due), field(&v, "payment_due_header"));
    assert_eq!(decode_header::<PaymentData>(field(&v, "payment_header").as_bytes()), Ok(data));
    assert_eq!(decode_json::<PaymentDue>(field(&v, "payment_due_json").as_bytes()), Ok(due));
}
