//! Transfer id namespaces. Ids a client chooses and ids the system derives
//! live in disjoint spaces, so a client can never take (or probe) an id the
//! system will later need:
//!
//! * a client key is 1-64 of `[A-Za-z0-9._-]`: no `:` and no `/`;
//! * a client's key is stored under its owner's prefix: a user's
//!   reservation `abc` is `u{user}/rsv/abc`, an operator's grant key `abc`
//!   is `op/abc`;
//! * every id the system derives from another id appends `:suffix`
//!   ([`TransferId::derive`]), so it contains a `:`, which no client id
//!   does; ids the system makes from scratch (`chatcmpl-…`, `dify:…`,
//!   `channel/…`) never start with `u{digits}/` or `op/`.
//!
//! Derived ids are always valid, whatever the base: a base too long for
//! its suffix is replaced by a digest (`h/{40 hex}`).

use super::{Links, Operation, Reason, TransferId, TransferRequest};

/// Longest client key.
pub const CLIENT_KEY_MAX: usize = 64;

/// True when `key` is 1-[`CLIENT_KEY_MAX`] of `[A-Za-z0-9._-]`.
pub fn is_client_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= CLIENT_KEY_MAX
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// What a valid client key looks like, for error messages.
pub const CLIENT_KEY_RULE: &str = "1-64 characters of [A-Za-z0-9._-]";

/// The longest id [`TransferId::derive`] leaves readable (with a 16-byte
/// suffix it stays within the 128-byte limit).
const READABLE_BASE_MAX: usize = 128 - 17;

impl TransferId {
    /// The ledger id of the reservation user `user_id` named `key`, or
    /// `None` when `key` is not a client key.
    pub fn reservation(user_id: i64, key: &str) -> Option<TransferId> {
        is_client_key(key).then(|| TransferId(format!("u{user_id}/rsv/{key}")))
    }

    /// The ledger id of an operator's grant or adjustment keyed `key`, or
    /// `None` when `key` is not a client key.
    pub fn operator(key: &str) -> Option<TransferId> {
        is_client_key(key).then(|| TransferId(format!("op/{key}")))
    }

    /// The client's own key inside a namespaced id (`u7/rsv/abc` → `abc`),
    /// or the whole id for ids the system made.
    pub fn client_key(&self) -> &str {
        let s = self.0.as_str();
        if let Some(rest) = s.strip_prefix("op/") {
            return rest;
        }
        match s.strip_prefix('u').and_then(|r| r.split_once('/')) {
            Some((number, rest)) if is_integer(number) => {
                rest.split_once('/').map_or(rest, |(_, key)| key)
            }
            _ => s,
        }
    }

    /// The id the system derives from this one for `suffix` (a short
    /// constant of `[a-z0-9]`): `{self}:{suffix}`, or, when `self` is too
    /// long or not valid, `h/{digest of self}:{suffix}`. Always valid.
    pub fn derive(&self, suffix: &str) -> TransferId {
        debug_assert!(!suffix.is_empty() && suffix.len() <= 16 && suffix.bytes().all(|b| b.is_ascii_alphanumeric()));
        if self.is_valid() && self.0.len() <= READABLE_BASE_MAX {
            return TransferId(format!("{}:{suffix}", self.0));
        }
        let digest = blake2b_simd::Params::new().hash_length(20).hash(self.0.as_bytes());
        TransferId(format!("h/{}:{suffix}", hex::encode(digest.as_bytes())))
    }

    /// True when the id is in a client's namespace (`u{digits}/…` or `op/…`).
    pub fn is_client_chosen(&self) -> bool {
        self.client_key().len() != self.0.len()
    }
}

/// True for a decimal integer, optionally negative.
fn is_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

impl TransferRequest {
    /// The expiry of `hold`, under the id the system derives for it
    /// (`{hold}:expire`): the expiry sweep and a late settlement build the
    /// same request, so whichever comes second is a replay or a harmless
    /// refusal, never a second release.
    pub fn expiry(hold: TransferId, links: Links) -> TransferRequest {
        TransferRequest { id: hold.derive("expire"), op: Operation::Expire { pending_id: hold }, reason: Reason::Expiry, links }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_keys_cannot_hold_separators() {
        assert!(is_client_key("abc-1.2_3"));
        for bad in ["", "a:b", "a/b", "a b", "é", &"x".repeat(65)] {
            assert!(!is_client_key(bad), "{bad:?}");
        }
        assert!(TransferId::reservation(7, "a:settle").is_none());
    }

    #[test]
    fn namespaced_ids_are_valid_and_disjoint_from_derived_ones() {
        let longest = "k".repeat(CLIENT_KEY_MAX);
        let r = TransferId::reservation(i64::MIN, &longest).expect("key");
        assert!(r.is_valid(), "{r}");
        assert!(!r.0.contains(':'));
        assert_eq!(r.client_key(), longest);
        assert!(r.is_client_chosen());
        let op = TransferId::operator("welcome").expect("key");
        assert_eq!((op.0.as_str(), op.client_key()), ("op/welcome", "welcome"));
        let system = TransferId("chatcmpl-abc".into());
        assert!(!system.is_client_chosen());
        assert!(system.derive("settle").0.contains(':'));
    }

    #[test]
    fn derived_ids_are_always_valid() {
        let long = TransferId("x".repeat(128));
        let d = long.derive("expire");
        assert!(d.is_valid(), "{d}");
        assert_ne!(d, TransferId("y".repeat(128)).derive("expire"));
        let invalid = TransferId("bad id with spaces".into());
        assert!(invalid.derive("post").is_valid());
        assert_eq!(TransferId("a".into()).derive("post").0, "a:post");
    }
}
