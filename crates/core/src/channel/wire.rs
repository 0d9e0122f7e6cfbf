//! Payment data as it travels over HTTP (docs/channels.md, "Wire"): ids,
//! keys and receipts as `0x`-prefixed lowercase hex in JSON; the request
//! and response headers are that JSON in unpadded base64url. Every decoder
//! here reads client-supplied bytes, so each refuses anything oversized,
//! mistyped or with unknown fields, and each has a fuzz target.

use super::identity::KeyId;
use super::subrav::{ChannelId, SignedSubRav, SubRav, SIGNED_SUBRAV_LEN, SUBRAV_LEN};
use crate::Amount;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use secp256k1::PublicKey;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The header that carries [`PaymentData`] on requests and [`PaymentDue`]
/// on responses.
pub const PAYMENT_HEADER: &str = "x-tollway-channel";
/// The longest header value accepted (the largest valid one is under 700).
pub const MAX_HEADER_LEN: usize = 2048;

/// Why payment data could not be read; all of it is the client's
/// `malformed_payment`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Longer than [`MAX_HEADER_LEN`].
    #[error("the payment header is longer than {MAX_HEADER_LEN} bytes")]
    TooLong,
    /// Not unpadded base64url.
    #[error("the payment header is not unpadded base64url")]
    Base64,
    /// Not the JSON expected.
    #[error("the payment data is not valid: {0}")]
    Json(String),
}

impl WireError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        "malformed_payment"
    }
}

/// Reads `0x` + exactly `2 * N` lowercase or uppercase hex digits.
pub fn parse_hex<const N: usize>(text: &str) -> Result<[u8; N], String> {
    let digits = text.strip_prefix("0x").ok_or_else(|| "hex must start with 0x".to_owned())?;
    if digits.len() != 2 * N {
        return Err(format!("expected {} hex digits, got {}", 2 * N, digits.len()));
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(digits, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn parse_hex_vec(text: &str, len: usize) -> Result<Vec<u8>, String> {
    let digits = text.strip_prefix("0x").ok_or_else(|| "hex must start with 0x".to_owned())?;
    if digits.len() != 2 * len {
        return Err(format!("expected {} hex digits, got {}", 2 * len, digits.len()));
    }
    hex::decode(digits).map_err(|e| e.to_string())
}

fn to_hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// Reads a compressed secp256k1 public key (33 bytes, `0x…`).
pub fn parse_public_key(text: &str) -> Result<PublicKey, String> {
    let bytes: [u8; 33] = parse_hex(text)?;
    PublicKey::from_slice(&bytes).map_err(|_| "not a valid compressed secp256k1 public key".to_owned())
}

/// A public key as `0x` + 66 hex digits.
pub fn public_key_hex(key: &PublicKey) -> String {
    to_hex(&key.serialize())
}

impl std::str::FromStr for ChannelId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex(s).map(ChannelId)
    }
}

impl std::str::FromStr for KeyId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex(s).map(KeyId)
    }
}

/// Serde as hex text for the fixed-size payment types.
macro_rules! hex_serde {
    ($ty:ty, $to_bytes:expr, $from_text:expr) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&to_hex(&$to_bytes(self)))
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $from_text(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_serde!(ChannelId, |c: &ChannelId| c.0, |t: &str| t.parse::<ChannelId>());
hex_serde!(KeyId, |k: &KeyId| k.0, |t: &str| t.parse::<KeyId>());
hex_serde!(SubRav, |r: &SubRav| r.encode(), |t: &str| parse_hex_vec(t, SUBRAV_LEN)
    .and_then(|b| SubRav::decode(&b).map_err(|e| e.to_string())));
hex_serde!(SignedSubRav, |r: &SignedSubRav| r.encode(), |t: &str| parse_hex_vec(t, SIGNED_SUBRAV_LEN)
    .and_then(|b| SignedSubRav::decode(&b).map_err(|e| e.to_string())));

/// The longest CKB commitment transaction accepted, bytes (a true one is
/// under 500).
pub const MAX_COMMITMENT_LEN: usize = 800;

/// On the CKB rail, the buyer-signed commitment transaction that pays a
/// receipt's total on chain (serialized CKB transaction, the seller's
/// signature slot empty; docs/ckb.md). Only its length is checked here:
/// the payee checks the transaction itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commitment(pub Vec<u8>);

fn parse_commitment(text: &str) -> Result<Commitment, String> {
    let digits = text.strip_prefix("0x").ok_or_else(|| "hex must start with 0x".to_owned())?;
    if digits.is_empty() || digits.len() > 2 * MAX_COMMITMENT_LEN {
        return Err(format!("a commitment is 1 to {MAX_COMMITMENT_LEN} bytes"));
    }
    hex::decode(digits).map(Commitment).map_err(|e| e.to_string())
}

hex_serde!(Commitment, |c: &Commitment| c.0.clone(), parse_commitment);

/// What a payer sends with a paid request (in [`PAYMENT_HEADER`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentData {
    /// The channel paid from.
    pub channel: ChannelId,
    /// The payer key's sub-channel.
    pub sub_channel: KeyId,
    /// The most this request may cost (the payer refuses to sign more
    /// anyway; the payee stops the answer there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_amount: Option<Amount>,
    /// The signed receipt for the latest proposal (postpaid: the previous
    /// request's cost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<SignedSubRav>,
}

/// A signed receipt posted on its own (`POST /api/channels/{id}/receipts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptSubmission {
    /// The receipt.
    pub receipt: SignedSubRav,
    /// On a CKB-backed channel, the commitment paying the receipt's total
    /// (required there, refused elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<Commitment>,
}

/// What the payee asks to be signed: on a response (in [`PAYMENT_HEADER`]),
/// with every paid chunk, and in a stream's pause event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentDue {
    /// The receipt to sign: the sub-channel's new total.
    pub proposal: SubRav,
    /// What the request has cost so far.
    pub cost: Amount,
    /// The sub-channel's latest accepted total.
    pub accepted: Amount,
    /// In a pause: the total that must be accepted before the stream goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<Amount>,
    /// On a stream's last chunk, when the payee stopped it early: why
    /// (`payment_timeout`, `max_amount_reached`, `collateral_exhausted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// Encodes `value` as a header value: unpadded base64url of its JSON.
pub fn encode_header<T: Serialize>(value: &T) -> String {
    // Serialising these types cannot fail: fixed fields, string keys.
    let json = serde_json::to_vec(value).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a header value written by [`encode_header`].
pub fn decode_header<T: DeserializeOwned>(value: &[u8]) -> Result<T, WireError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(WireError::TooLong);
    }
    let json = URL_SAFE_NO_PAD.decode(value).map_err(|_| WireError::Base64)?;
    decode_json(&json)
}

/// Decodes a JSON body (a receipt submission, a pause event's data).
pub fn decode_json<T: DeserializeOwned>(json: &[u8]) -> Result<T, WireError> {
    if json.len() > MAX_HEADER_LEN {
        return Err(WireError::TooLong);
    }
    serde_json::from_slice(json).map_err(|e| WireError::Json(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::{PayerKey, SUBRAV_VERSION};

    fn signed() -> (PayerKey, SignedSubRav) {
        let key = PayerKey::from_bytes([7; 32]).expect("valid key");
        let rav = SubRav {
            version: SUBRAV_VERSION,
            chain_id: 9,
            channel_id: ChannelId([3; 32]),
            epoch: 1,
            sub_channel: key.id(),
            nonce: 4,
            accumulated: Amount::new(1234),
        };
        let s = rav.sign(&key);
        (key, s)
    }

    #[test]
    fn payment_data_round_trips_through_the_header() {
        let (key, receipt) = signed();
        let data = PaymentData { channel: ChannelId([3; 32]), sub_channel: key.id(), max_amount: Some(Amount::new(50)), receipt: Some(receipt) };
        let header = encode_header(&data);
        assert!(header.len() < 700, "header is {} bytes", header.len());
        assert_eq!(decode_header::<PaymentData>(header.as_bytes()), Ok(data));
    }

    #[test]
    fn payment_due_round_trips_and_amounts_are_strings() {
        let (_, receipt) = signed();
        let due = PaymentDue { proposal: receipt.rav, cost: Amount::new(5), accepted: Amount::new(3), required: None, stopped: None };
        let json = serde_json::to_value(&due).expect("json");
        assert_eq!(json["cost"], "5");
        assert!(json.get("required").is_none());
        assert_eq!(json["proposal"].as_str().map(str::len), Some(2 + 2 * SUBRAV_LEN));
        assert_eq!(decode_header::<PaymentDue>(encode_header(&due).as_bytes()), Ok(due));
    }

    #[test]
    fn malformed_input_is_refused() {
        let (key, receipt) = signed();
        let long = vec![b'A'; MAX_HEADER_LEN + 1];
        assert_eq!(decode_header::<PaymentData>(&long), Err(WireError::TooLong));
        assert_eq!(decode_header::<PaymentData>(b"not base64!"), Err(WireError::Base64));
        let unknown = format!(r#"{{"channel":"0x{}","sub_channel":"{}","extra":1}}"#, "03".repeat(32), key.id());
        assert!(matches!(decode_json::<PaymentData>(unknown.as_bytes()), Err(WireError::Json(_))));
        let no_prefix = format!(r#"{{"receipt":"{}"}}"#, hex::encode(receipt.encode()));
        assert!(matches!(decode_json::<ReceiptSubmission>(no_prefix.as_bytes()), Err(WireError::Json(_))));
        let short = format!(r#"{{"receipt":"0x{}"}}"#, hex::encode(&receipt.encode()[..157]));
        assert!(matches!(decode_json::<ReceiptSubmission>(short.as_bytes()), Err(WireError::Json(_))));
        let good = format!(r#"{{"receipt":"0x{}"}}"#, hex::encode(receipt.encode()));
        assert_eq!(decode_json::<ReceiptSubmission>(good.as_bytes()), Ok(ReceiptSubmission { receipt, commitment: None }));
        let with = format!(r#"{{"receipt":"0x{}","commitment":"0x0102"}}"#, hex::encode(receipt.encode()));
        assert_eq!(decode_json::<ReceiptSubmission>(with.as_bytes()).map(|s| s.commitment), Ok(Some(Commitment(vec![1, 2]))));
        let huge = format!(r#"{{"receipt":"0x{}","commitment":"0x{}"}}"#, hex::encode(receipt.encode()), "00".repeat(MAX_COMMITMENT_LEN + 1));
        assert!(decode_json::<ReceiptSubmission>(huge.as_bytes()).is_err());
    }

    #[test]
    fn keys_parse_only_when_compressed_and_valid() {
        let key = PayerKey::from_bytes([7; 32]).expect("valid key").public();
        assert_eq!(parse_public_key(&public_key_hex(&key)), Ok(key));
        assert!(parse_public_key(&format!("0x04{}", "11".repeat(32))).is_err());
        assert!(parse_public_key("0x02").is_err());
    }
}
