//! Webhook signatures: `X-Tollway-Signature: sha256=<hex>` is the
//! HMAC-SHA256, keyed by the app's signing secret, of
//! `"{X-Tollway-Timestamp}.{raw body}"`; the timestamp is Unix seconds and
//! must be within the configured tolerance of the server clock. For an app
//! whose reports name the user in a header, the header's value is signed
//! too: the HMAC is of `"{timestamp}.{user}\n{body}"` (a header value
//! cannot hold a newline, so the parts cannot be shifted).

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

/// The MAC over the signed parts; `user` is the user header's value for
/// apps that name the user in a header.
fn mac(secret: &str, timestamp: &str, user: Option<&str>, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!("any key length"));
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    if let Some(user) = user {
        mac.update(user.as_bytes());
        mac.update(b"\n");
    }
    mac.update(body);
    mac
}

/// Computes the signature header value for a body (used by clients and tests).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(mac(secret, &timestamp.to_string(), None, body).finalize().into_bytes()))
}

/// The signature for an app that names the user in a header: the header's
/// value is signed with the timestamp and the body.
pub fn sign_with_user(secret: &str, timestamp: i64, user: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(mac(secret, &timestamp.to_string(), Some(user), body).finalize().into_bytes()))
}

/// True when `ts` is within `tolerance` seconds of `now`, in checked
/// arithmetic: any timestamp, `i64::MIN` included, is answered, never a
/// panic or a wrap.
pub fn fresh(now: i64, ts: i64, tolerance: i64) -> bool {
    now.checked_sub(ts).and_then(i64::checked_abs).is_some_and(|gap| gap <= tolerance)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// Checks timestamp freshness and the signature, in constant time. `user`
/// is the user header's value when the app names the user in a header
/// (it is then signed too).
pub fn verify(
    headers: &HeaderMap,
    body: &[u8],
    secret: &str,
    (now_secs, tolerance): (i64, i64),
    user: Option<&str>,
) -> Result<(), ApiError> {
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
    if !fresh(now_secs, ts, tolerance) {
        return Err(ApiError::unauthorized(
            "timestamp_stale",
            format!("timestamp is more than {tolerance} s from the server clock"),
        ));
    }
    let invalid = || ApiError::unauthorized("signature_invalid", "signature does not match the body");
    let hex_sig = sig_text.strip_prefix("sha256=").ok_or_else(invalid)?;
    let expected = hex::decode(hex_sig).map_err(|_| invalid())?;
    mac(secret, ts_text, user, body).verify_slice(&expected).map_err(|_| invalid())
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
        assert_eq!(verify(&headers("1000", &sig), body, "s3cret", (1_100, 300), None), Ok(()));
        let code = |r: Result<(), ApiError>| r.err().map(|e| e.code);
        assert_eq!(code(verify(&headers("1000", &sig), b"{\"a\":2}", "s3cret", (1_100, 300), None)), Some("signature_invalid"));
        assert_eq!(code(verify(&headers("1000", &sig), body, "other", (1_100, 300), None)), Some("signature_invalid"));
        assert_eq!(code(verify(&headers("1000", &sig), body, "s3cret", (1_301, 300), None)), Some("timestamp_stale"));
        assert_eq!(code(verify(&headers("x", &sig), body, "s3cret", (1_000, 300), None)), Some("timestamp_invalid"));
        assert_eq!(code(verify(&headers("1000", "sha256=zz"), body, "s3cret", (1_000, 300), None)), Some("signature_invalid"));
        assert_eq!(code(verify(&HeaderMap::new(), body, "s3cret", (1_000, 300), None)), Some("signature_missing"));
        // The user header is signed: another user with the same body fails.
        let bound = sign_with_user("s3cret", 1_000, "alice", body);
        assert_eq!(verify(&headers("1000", &bound), body, "s3cret", (1_000, 300), Some("alice")), Ok(()));
        assert_eq!(code(verify(&headers("1000", &bound), body, "s3cret", (1_000, 300), Some("mallory"))), Some("signature_invalid"));
        assert_eq!(code(verify(&headers("1000", &sig), body, "s3cret", (1_000, 300), Some("alice"))), Some("signature_invalid"));
    }

    #[test]
    fn hostile_timestamps_are_stale_never_a_panic() {
        let body = b"{}";
        for (ts, now) in [(i64::MIN, 1_000), (i64::MAX, 1_000), (i64::MIN, i64::MAX), (i64::MAX, i64::MIN), (-1, i64::MAX)] {
            let sig = sign("s", ts, body);
            let r = verify(&headers(&ts.to_string(), &sig), body, "s", (now, 300), None);
            assert_eq!(r.err().map(|e| e.code), Some("timestamp_stale"), "ts {ts} now {now}");
        }
        for text in ["9223372036854775808", "-9223372036854775809", "1e3", " ", "+-1"] {
            let r = verify(&headers(text, "sha256=00"), body, "s", (1_000, 300), None);
            assert_eq!(r.err().map(|e| e.code), Some("timestamp_invalid"), "{text}");
        }
        assert!(fresh(i64::MAX, i64::MAX, 0) && fresh(i64::MIN, i64::MIN, 0) && !fresh(0, 1, -1));
    }

    proptest::proptest! {
        #[test]
        fn freshness_is_total(now in proptest::num::i64::ANY, ts in proptest::num::i64::ANY, tol in proptest::num::i64::ANY) {
            let expected = (i128::from(now) - i128::from(ts)).abs() <= i128::from(tol);
            proptest::prop_assert_eq!(fresh(now, ts, tol), expected);
        }
    }
}
