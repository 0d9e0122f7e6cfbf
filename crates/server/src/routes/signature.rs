//! Webhook signatures: `X-Tollway-Signature: sha256=<hex>` is the
//! HMAC-SHA256, keyed by the app's signing secret, of
//! `"{X-Tollway-Timestamp}.{raw body}"`; the timestamp is Unix seconds and
//! must be within the configured tolerance of the server clock.

use crate::ApiError;
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying the app's API key.
pub const KEY_HEADER: &str = "x-tollway-key";
/// Header carrying the signing time (Unix seconds).
pub const TIMESTAMP_HEADER: &str = "x-tollway-timestamp";
/// Header carrying `sha256=<hex HMAC>`.
pub const SIGNATURE_HEADER: &str = "x-tollway-signature";

/// Computes the signature header value for a body (used by clients and tests).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!("any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// Checks timestamp freshness and the signature, in constant time.
pub fn verify(headers: &HeaderMap, body: &[u8], secret: &str, now_secs: i64, tolerance: i64) -> Result<(), ApiError> {
    let missing = || {
        ApiError::unauthorized(
            "signature_missing",
            format!("send {TIMESTAMP_HEADER} (Unix seconds) and {SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of \"timestamp.body\">"),
        )
    };
    let ts_text = header(headers, TIMESTAMP_HEADER).ok_or_else(missing)?;
    let sig_text = header(headers, SIGNATURE_HEADER).ok_or_else(missing)?;
    let ts: i64 = ts_text
        .parse()
        .map_err(|_| ApiError::unauthorized("timestamp_invalid", format!("{TIMESTAMP_HEADER} must be Unix seconds")))?;
    if (now_secs - ts).abs() > tolerance {
        return Err(ApiError::unauthorized(
            "timestamp_stale",
            format!("timestamp is more than {tolerance} s from the server clock"),
        ));
    }
    let invalid = || ApiError::unauthorized("signature_invalid", "signature does not match the body");
    let hex_sig = sig_text.strip_prefix("sha256=").ok_or_else(invalid)?;
    let expected = hex::decode(hex_sig).map_err(|_| invalid())?;
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret.as_bytes()).map_err(|_| invalid())?;
    mac.update(ts_text.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&expected).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(ts: &str, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(TIMESTAMP_HEADER, HeaderValue::from_str(ts).expect("ts"));
        h.insert(SIGNATURE_HEADER, HeaderValue::from_str(sig).expect("sig"));
        h
    }

    #[test]
    fn accepts_fresh_valid_and_refuses_the_rest() {
        let body = br#"{"a":1}"#;
        let sig = sign("s3cret", 1_000, body);
        assert_eq!(verify(&headers("1000", &sig), body, "s3cret", 1_100, 300), Ok(()));
        let code = |r: Result<(), ApiError>| r.err().map(|e| e.code);
        assert_eq!(code(verify(&headers("1000", &sig), b"{\"a\":2}", "s3cret", 1_100, 300)), Some("signature_invalid"));
        assert_eq!(code(verify(&headers("1000", &sig), body, "other", 1_100, 300)), Some("signature_invalid"));
        assert_eq!(code(verify(&headers("1000", &sig), body, "s3cret", 1_301, 300)), Some("timestamp_stale"));
        assert_eq!(code(verify(&headers("x", &sig), body, "s3cret", 1_000, 300)), Some("timestamp_invalid"));
        assert_eq!(code(verify(&headers("1000", "sha256=zz"), body, "s3cret", 1_000, 300)), Some("signature_invalid"));
        assert_eq!(code(verify(&HeaderMap::new(), body, "s3cret", 1_000, 300)), Some("signature_missing"));
    }
}
