//! Wallet login: the server's challenge, single-use and short-lived,
//! naming the site it is for, and the check of its signature by the
//! wallet's key (the same secp256k1 keys and canonical signatures as
//! receipts, under their own domain so a login signature is never a
//! receipt's nor a CKB transaction's). docs/web.md, "Wallet login".

use crate::channel::{ckb_hash, verify_recoverable, KeyId};
use secp256k1::PublicKey;

/// Prefix of every signed login message.
pub const LOGIN_DOMAIN: &[u8] = b"tollway/login/v1";

/// A challenge to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginChallenge {
    /// The site it is for (the server's public origin).
    pub site: String,
    /// The key that may answer it.
    pub key_id: KeyId,
    /// Random, chosen by the server: the challenge's identity.
    pub nonce: String,
    /// When it stops being accepted (Unix ms).
    pub expires_at: i64,
}

impl LoginChallenge {
    /// The text the wallet shows and signs.
    pub fn text(&self) -> String {
        format!("Tollway login\nsite: {}\nkey: {}\nnonce: {}\nexpires: {}", self.site, self.key_id, self.nonce, self.expires_at)
    }
}

/// The digest a wallet signs for `text`.
pub fn login_signing_hash(text: &str) -> [u8; 32] {
    ckb_hash(&[LOGIN_DOMAIN, text.as_bytes()])
}

/// Whether `signature` is `key`'s canonical signature of `text`.
pub fn verify_login(text: &str, signature: &[u8; 65], key: &PublicKey) -> bool {
    verify_recoverable(login_signing_hash(text), signature, key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::PayerKey;

    fn challenge(key: &PayerKey) -> LoginChallenge {
        LoginChallenge { site: "https://pay.example".into(), key_id: key.id(), nonce: "ab12".into(), expires_at: 1_700_000_000_000 }
    }

    #[test]
    fn the_wallet_s_signature_verifies_and_nothing_else_does() {
        let key = PayerKey::from_bytes([0x11; 32]).expect("key");
        let text = challenge(&key).text();
        assert_eq!(text, "Tollway login\nsite: https://pay.example\nkey: 0xf949a9cc83edefcd580eb3f0f3bae187c4d008db\nnonce: ab12\nexpires: 1700000000000");
        let signature = key.sign_digest(login_signing_hash(&text));
        // Also asserted by web/src/lib/login.test.ts: the page signs the same bytes.
        assert_eq!(format!("0x{}", hex::encode(signature)), "0x5e3cb386291636a6f502483b09a98f33e6e4c3bb3ba86435943041a3a1b2baad21789a9f140c804d71eee1ce4e36f189450739229e396c82657a2a122e3141f400");
        assert!(verify_login(&text, &signature, &key.public()));
        let other = PayerKey::from_bytes([0x22; 32]).expect("key");
        assert!(!verify_login(&text, &signature, &other.public()), "another key");
        assert!(!verify_login(&text.replace("pay.example", "evil.example"), &signature, &key.public()), "another site");
        let mut twin = signature;
        twin[64] ^= 1;
        assert!(!verify_login(&text, &twin, &key.public()), "another recovery id");
        // A receipt's signature over the same bytes is not a login's.
        let receipt_domain = key.sign_digest(ckb_hash(&[crate::channel::SIGNING_DOMAIN, text.as_bytes()]));
        assert!(!verify_login(&text, &receipt_domain, &key.public()));
    }
}
