//! The `secp256k1_blake160_multisig_all` lock's script and witness layout
//! (the 2-of-2 lock of a Spilman channel cell). The multisig script is
//! `S | R | M | N | blake160(pubkey) × N` (format 0, the first R keys
//! required, M of N signatures); the lock args are its blake160, optionally
//! followed by an 8-byte little-endian `since` that every spending input
//! must respect. The witness lock is the script followed by M 65-byte
//! recoverable signatures, in any order.

use crate::channel::{ckb_hash, KeyId};

/// Bytes of one recoverable signature.
pub const SIGNATURE_LEN: usize = 65;

/// Why a multisig script cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MultisigError {
    /// Threshold 0, above the key count, fewer keys than the required
    /// first ones, or more than 255 keys.
    #[error("invalid multisig shape")]
    InvalidShape,
}

/// An M-of-N multisig script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultisigScript {
    require_first_n: u8,
    threshold: u8,
    keys: Vec<KeyId>,
}

impl MultisigScript {
    /// M-of-N over `keys` (in this order), the first `require_first_n` of
    /// which must sign.
    pub fn new(require_first_n: u8, threshold: u8, keys: Vec<KeyId>) -> Result<MultisigScript, MultisigError> {
        let n = u8::try_from(keys.len()).map_err(|_| MultisigError::InvalidShape)?;
        if threshold == 0 || threshold > n || require_first_n > threshold {
            return Err(MultisigError::InvalidShape);
        }
        Ok(MultisigScript { require_first_n, threshold, keys })
    }

    /// The 2-of-2 of a channel: buyer then seller, both required.
    pub fn two_of_two(buyer: KeyId, seller: KeyId) -> MultisigScript {
        MultisigScript { require_first_n: 0, threshold: 2, keys: vec![buyer, seller] }
    }

    /// The serialized script.
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = u8::try_from(self.keys.len()).unwrap_or(u8::MAX);
        let mut out = vec![0, self.require_first_n, self.threshold, n];
        for key in &self.keys {
            out.extend_from_slice(&key.0);
        }
        out
    }

    /// The lock args: blake160 of the script, then the `since` (little
    /// endian) if the lock carries one.
    pub fn lock_args(&self, since: Option<u64>) -> Vec<u8> {
        let hash = ckb_hash(&[&self.to_bytes()]);
        let mut args = hash[..20].to_vec();
        if let Some(since) = since {
            args.extend_from_slice(&since.to_le_bytes());
        }
        args
    }

    /// The bytes of the witness lock once signed: the script and M signatures.
    pub fn witness_lock_len(&self) -> usize {
        4 + 20 * self.keys.len() + SIGNATURE_LEN * usize::from(self.threshold)
    }

    /// The witness lock with `signatures` (M of them, any order).
    pub fn witness_lock(&self, signatures: &[[u8; SIGNATURE_LEN]]) -> Result<Vec<u8>, MultisigError> {
        if signatures.len() != usize::from(self.threshold) {
            return Err(MultisigError::InvalidShape);
        }
        let mut out = self.to_bytes();
        for signature in signatures {
            out.extend_from_slice(signature);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_two_of_two_script_and_its_witness() {
        let (a, b) = (KeyId([1; 20]), KeyId([2; 20]));
        let script = MultisigScript::two_of_two(a, b);
        let bytes = script.to_bytes();
        assert_eq!(&bytes[..4], &[0, 0, 2, 2]);
        assert_eq!(&bytes[4..24], &[1; 20]);
        assert_eq!(&bytes[24..], &[2; 20]);
        // REFERENCE: a 2-of-2 witness lock is 174 bytes.
        assert_eq!(script.witness_lock_len(), 174);
        let lock = script.witness_lock(&[[7; 65], [8; 65]]).expect("two signatures");
        assert_eq!(lock.len(), 174);
        assert_eq!(script.witness_lock(&[[7; 65]]), Err(MultisigError::InvalidShape));
        // Args: blake160 of the script, then the since.
        let args = script.lock_args(Some(0x2000_0000_0000_0001));
        assert_eq!(&args[..20], &ckb_hash(&[&bytes])[..20]);
        assert_eq!(&args[20..], &[1, 0, 0, 0, 0, 0, 0, 0x20]);
        assert_eq!(script.lock_args(None).len(), 20);
        // The order of keys is part of the script.
        assert_ne!(MultisigScript::two_of_two(b, a).lock_args(None), script.lock_args(None));
    }

    #[test]
    fn bad_shapes_are_refused() {
        let keys = vec![KeyId([1; 20]), KeyId([2; 20])];
        assert_eq!(MultisigScript::new(0, 0, keys.clone()), Err(MultisigError::InvalidShape));
        assert_eq!(MultisigScript::new(0, 3, keys.clone()), Err(MultisigError::InvalidShape));
        assert_eq!(MultisigScript::new(2, 1, keys.clone()), Err(MultisigError::InvalidShape));
        assert_eq!(MultisigScript::new(0, 2, keys.clone()), Ok(MultisigScript::two_of_two(keys[0], keys[1])));
    }
}
