//! Keys and identities as CKB sees them: blake2b-256 with CKB's
//! personalization, and a key's id = the first 20 bytes of the hash of its
//! compressed public key (blake160), the `args` of a
//! `secp256k1_blake160_sighash_all` lock. The same keys pay on the CKB rail.

use secp256k1::ecdsa::{RecoverableSignature, RecoveryId, Signature};
use secp256k1::{Message, PublicKey, SecretKey, SECP256K1};
use std::fmt;

/// CKB's blake2b personalization.
const CKB_PERSONALIZATION: &[u8; 16] = b"ckb-default-hash";

/// blake2b-256 with CKB's personalization.
pub fn ckb_hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut state = blake2b_simd::Params::new().hash_length(32).personal(CKB_PERSONALIZATION).to_state();
    for part in parts {
        state.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(state.finalize().as_bytes());
    out
}

/// Whether `signature` (r ‖ s ‖ recovery id) is the one canonical
/// signature of `digest` by `key`: S low (the high-S twin is refused) and
/// the recovery id the one that recovers `key` (the other three are
/// refused). Recovering the key proves the signature valid for it, in one
/// curve operation.
pub fn verify_recoverable(digest: [u8; 32], signature: &[u8; 65], key: &PublicKey) -> bool {
    let Ok(compact) = Signature::from_compact(&signature[..64]) else { return false };
    let mut low = compact;
    low.normalize_s();
    if low != compact {
        return false;
    }
    let Ok(recovery) = RecoveryId::try_from(i32::from(signature[64])) else { return false };
    let Ok(recoverable) = RecoverableSignature::from_compact(&signature[..64], recovery) else { return false };
    SECP256K1.recover_ecdsa(&Message::from_digest(digest), &recoverable).is_ok_and(|recovered| recovered == *key)
}

/// A key's identity: blake160 of its compressed public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub [u8; 20]);

impl KeyId {
    /// The id of `key`.
    pub fn of(key: &PublicKey) -> KeyId {
        let hash = ckb_hash(&[&key.serialize()]);
        let mut id = [0u8; 20];
        id.copy_from_slice(&hash[..20]);
        KeyId(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A payer's signing key.
pub struct PayerKey(SecretKey);

/// 32 bytes that are not a valid secp256k1 secret key (zero or ≥ the order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid secp256k1 secret key")]
pub struct InvalidKey;

/// A secret key written as text that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretKeyTextError {
    /// Not `0x` + 64 hex digits.
    #[error("a secret key is 0x + 64 hex digits")]
    NotHex,
    /// 32 bytes, but no secp256k1 secret key.
    #[error(transparent)]
    Invalid(#[from] InvalidKey),
}

impl PayerKey {
    /// The key of 32 secret bytes.
    pub fn from_bytes(secret: [u8; 32]) -> Result<PayerKey, InvalidKey> {
        SecretKey::from_byte_array(&secret).map(PayerKey).map_err(|_| InvalidKey)
    }

    /// The key written as `0x` + 64 hex digits (how settings, the CLI and
    /// the payer's files hold it).
    pub fn from_hex(text: &str) -> Result<PayerKey, SecretKeyTextError> {
        let digits = text.strip_prefix("0x").filter(|d| d.len() == 64).ok_or(SecretKeyTextError::NotHex)?;
        let mut secret = [0u8; 32];
        hex::decode_to_slice(digits, &mut secret).map_err(|_| SecretKeyTextError::NotHex)?;
        Ok(PayerKey::from_bytes(secret)?)
    }

    /// Its public key.
    pub fn public(&self) -> PublicKey {
        PublicKey::from_secret_key(SECP256K1, &self.0)
    }

    /// Its identity.
    pub fn id(&self) -> KeyId {
        KeyId::of(&self.public())
    }

    /// A recoverable signature of `digest`: r ‖ s ‖ recovery id (65 bytes,
    /// low-S, RFC 6979 nonce, as CKB locks expect).
    pub fn sign_digest(&self, digest: [u8; 32]) -> [u8; 65] {
        let message = secp256k1::Message::from_digest(digest);
        let (recovery, compact) = SECP256K1.sign_ecdsa_recoverable(&message, &self.0).serialize_compact();
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&compact);
        out[64] = u8::try_from(i32::from(recovery)).unwrap_or(0);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ckb_hash_of_nothing_is_ckbs_known_value() {
        // CKB's blake2b-256 of the empty input (the hash of an empty cell's data).
        assert_eq!(hex::encode(ckb_hash(&[])), "44f4c69744d5f8c55d642062949dcae49bc4e7ef43d388c5a12f42b5633d163e");
        assert_eq!(ckb_hash(&[b"ab", b"c"]), ckb_hash(&[b"abc"]), "parts are concatenated");
    }

    #[test]
    fn key_id_is_ckbs_lock_args() {
        // The CKB dev chain's well-known first account: secret key and the
        // lock args CKB derives for it.
        let secret = hex::decode("d00c06bfd800d27397002dca6fb0993d5ba6399b4238b2f29ee9deb97593d2bc").expect("hex");
        let key = PayerKey::from_bytes(secret.try_into().expect("32 bytes")).expect("valid key");
        assert_eq!(key.id().to_string(), "0xc8328aabcd9b9e8e64fbc566c4385c3bdeb219d7");
    }

    #[test]
    fn invalid_secret_keys_are_refused() {
        assert_eq!(PayerKey::from_bytes([0; 32]).err(), Some(InvalidKey));
        assert_eq!(PayerKey::from_bytes([0xff; 32]).err(), Some(InvalidKey));
        assert!(PayerKey::from_bytes([1; 32]).is_ok());
    }

    #[test]
    fn secret_keys_as_text_are_0x_and_64_hex_digits_of_a_valid_key() {
        let one = format!("0x{}", "01".repeat(32));
        let id = PayerKey::from_bytes([1; 32]).expect("a key").id();
        assert_eq!(PayerKey::from_hex(&one).map(|k| k.id()), Ok(id));
        assert_eq!(
            PayerKey::from_hex(&format!("0x{}", "AB".repeat(32))).map(|k| k.id()),
            PayerKey::from_hex(&format!("0x{}", "ab".repeat(32))).map(|k| k.id())
        );
        for bad in
            ["", "0x", &"01".repeat(32), &format!("0x{}", "01".repeat(31)), &format!("0x{}", "01".repeat(33)), &format!("0x{}zz", "01".repeat(31))]
        {
            assert_eq!(PayerKey::from_hex(bad).err(), Some(SecretKeyTextError::NotHex), "{bad:?}");
        }
        assert_eq!(PayerKey::from_hex(&format!("0x{}", "00".repeat(32))).err(), Some(SecretKeyTextError::Invalid(InvalidKey)));
        assert_eq!(PayerKey::from_hex(&format!("0x{}", "ff".repeat(32))).err(), Some(SecretKeyTextError::Invalid(InvalidKey)));
    }
}
