//! The SubRAV (sub-channel receipt and voucher): the payer's signed
//! statement that it owes the payee `accumulated` in total on one
//! sub-channel of one channel. Canonical binary encoding, version 1
//! (big-endian, fixed width, 93 bytes):
//!
//! | offset | size | field |
//! | ---: | ---: | --- |
//! | 0 | 1 | version (1) |
//! | 1 | 8 | chain id |
//! | 9 | 32 | channel id |
//! | 41 | 8 | channel epoch |
//! | 49 | 20 | sub-channel (the payer key's blake160) |
//! | 69 | 8 | nonce |
//! | 77 | 16 | accumulated amount (minor units) |
//!
//! The signed message is `ckb_hash("tollway/subrav/v1" ‖ encoding)`; a
//! signed SubRAV is the encoding followed by a 65-byte recoverable
//! secp256k1 signature (r ‖ s ‖ recovery id), 158 bytes.

use super::identity::{ckb_hash, verify_recoverable, KeyId, PayerKey};
use crate::Amount;
use secp256k1::PublicKey;
use std::fmt;

/// The encoding version this code writes and reads.
pub const SUBRAV_VERSION: u8 = 1;
/// Bytes of an encoded SubRAV.
pub const SUBRAV_LEN: usize = 93;
/// Bytes of an encoded signed SubRAV.
pub const SIGNED_SUBRAV_LEN: usize = SUBRAV_LEN + 65;
/// Prefix of every signed message: a signature over a SubRAV can never be
/// taken for one over anything else (a CKB transaction, another protocol).
pub const SIGNING_DOMAIN: &[u8] = b"tollway/subrav/v1";

/// A channel's id (on CKB: the hash of its funding outpoint).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelId(pub [u8; 32]);

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChannelId({self})")
    }
}

/// A receipt for the total owed on one sub-channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubRav {
    /// Encoding version ([`SUBRAV_VERSION`]).
    pub version: u8,
    /// The chain (or ledger) the channel lives on.
    pub chain_id: u64,
    /// The channel.
    pub channel_id: ChannelId,
    /// The channel's epoch: bumped when a channel is reset, so receipts of
    /// an earlier life cannot be replayed.
    pub epoch: u64,
    /// The sub-channel: the id of the payer key that signs.
    pub sub_channel: KeyId,
    /// Strictly increasing per signed receipt.
    pub nonce: u64,
    /// Total owed on this sub-channel, never decreasing.
    pub accumulated: Amount,
}

/// Bytes that are not a SubRAV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Wrong length.
    #[error("a SubRAV is {expected} bytes, got {got}")]
    Length {
        /// Bytes expected.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// A version this code does not know.
    #[error("unsupported SubRAV version {0}")]
    Version(u8),
    /// The recovery id byte is not 0-3.
    #[error("signature recovery id {0} is not 0-3")]
    RecoveryId(u8),
}

/// A signature that does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the signature does not verify for this sub-channel's key")]
pub struct BadSignature;

fn take<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
}

impl SubRav {
    /// The canonical encoding.
    pub fn encode(&self) -> [u8; SUBRAV_LEN] {
        let mut out = [0u8; SUBRAV_LEN];
        out[0] = self.version;
        out[1..9].copy_from_slice(&self.chain_id.to_be_bytes());
        out[9..41].copy_from_slice(&self.channel_id.0);
        out[41..49].copy_from_slice(&self.epoch.to_be_bytes());
        out[49..69].copy_from_slice(&self.sub_channel.0);
        out[69..77].copy_from_slice(&self.nonce.to_be_bytes());
        out[77..93].copy_from_slice(&self.accumulated.units().to_be_bytes());
        out
    }

    /// Reads an encoding: exactly [`SUBRAV_LEN`] bytes of version 1.
    pub fn decode(bytes: &[u8]) -> Result<SubRav, DecodeError> {
        if bytes.len() != SUBRAV_LEN {
            return Err(DecodeError::Length { expected: SUBRAV_LEN, got: bytes.len() });
        }
        if bytes[0] != SUBRAV_VERSION {
            return Err(DecodeError::Version(bytes[0]));
        }
        Ok(SubRav {
            version: bytes[0],
            chain_id: u64::from_be_bytes(take(bytes, 1)),
            channel_id: ChannelId(take(bytes, 9)),
            epoch: u64::from_be_bytes(take(bytes, 41)),
            sub_channel: KeyId(take(bytes, 49)),
            nonce: u64::from_be_bytes(take(bytes, 69)),
            accumulated: Amount::new(u128::from_be_bytes(take(bytes, 77))),
        })
    }

    /// The 32-byte digest that is signed.
    pub fn signing_hash(&self) -> [u8; 32] {
        ckb_hash(&[SIGNING_DOMAIN, &self.encode()])
    }

    /// Signs with `key` (whose id should be `sub_channel`).
    pub fn sign(self, key: &PayerKey) -> SignedSubRav {
        SignedSubRav { rav: self, signature: key.sign_digest(self.signing_hash()) }
    }
}

/// A SubRAV with the payer's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedSubRav {
    /// The receipt.
    pub rav: SubRav,
    /// r ‖ s ‖ recovery id.
    pub signature: [u8; 65],
}

impl SignedSubRav {
    /// The canonical encoding: SubRAV then signature.
    pub fn encode(&self) -> [u8; SIGNED_SUBRAV_LEN] {
        let mut out = [0u8; SIGNED_SUBRAV_LEN];
        out[..SUBRAV_LEN].copy_from_slice(&self.rav.encode());
        out[SUBRAV_LEN..].copy_from_slice(&self.signature);
        out
    }

    /// Reads an encoding: exactly [`SIGNED_SUBRAV_LEN`] bytes.
    pub fn decode(bytes: &[u8]) -> Result<SignedSubRav, DecodeError> {
        if bytes.len() != SIGNED_SUBRAV_LEN {
            return Err(DecodeError::Length { expected: SIGNED_SUBRAV_LEN, got: bytes.len() });
        }
        let rav = SubRav::decode(&bytes[..SUBRAV_LEN])?;
        let signature: [u8; 65] = take(bytes, SUBRAV_LEN);
        if signature[64] > 3 {
            return Err(DecodeError::RecoveryId(signature[64]));
        }
        Ok(SignedSubRav { rav, signature })
    }

    /// Checks the signature against `key`, which must also be the
    /// sub-channel's key (its id equal to `sub_channel`). Only one byte
    /// string verifies for a receipt: high-S signatures are refused, and
    /// the recovery id must be the one that recovers `key` (otherwise four
    /// copies differing in the last byte would all verify, and a payee
    /// could hand the payer back a receipt it does not recognise).
    pub fn verify(&self, key: &PublicKey) -> Result<(), BadSignature> {
        if KeyId::of(key) != self.rav.sub_channel {
            return Err(BadSignature);
        }
        match verify_recoverable(self.rav.signing_hash(), &self.signature, key) {
            true => Ok(()),
            false => Err(BadSignature),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> PayerKey {
        PayerKey::from_bytes([byte; 32]).expect("valid key")
    }

    /// The published test vector (docs/channels.md).
    fn vector() -> (PayerKey, SubRav) {
        let k = key(0x11);
        let rav = SubRav {
            version: 1,
            chain_id: 0x0102_0304_0506_0708,
            channel_id: ChannelId([0xab; 32]),
            epoch: 2,
            sub_channel: k.id(),
            nonce: 7,
            accumulated: Amount::new(1_000_000_000_000_000_000),
        };
        (k, rav)
    }

    #[test]
    fn published_test_vector() {
        let (k, rav) = vector();
        let encoded = rav.encode();
        assert_eq!(
            hex::encode(encoded),
            format!(
                "01{}{}{}{}{}{}",
                "0102030405060708",
                "ab".repeat(32),
                "0000000000000002",
                hex::encode(k.id().0),
                "0000000000000007",
                "00000000000000000de0b6b3a7640000"
            ),
            "field layout"
        );
        assert_eq!(hex::encode(k.id().0), TEST_KEY_ID);
        assert_eq!(hex::encode(rav.signing_hash()), TEST_SIGNING_HASH);
        let signed = rav.sign(&k);
        assert_eq!(hex::encode(signed.signature), TEST_SIGNATURE);
        assert_eq!(SignedSubRav::decode(&signed.encode()), Ok(signed));
        assert_eq!(signed.verify(&k.public()), Ok(()));
    }

    const TEST_KEY_ID: &str = "f949a9cc83edefcd580eb3f0f3bae187c4d008db";
    const TEST_SIGNING_HASH: &str = "2ae8c86746ecc9a6f2fb0cc1cf4b9f0feae24c1be93d86ee6fc21a6a44d55e26";
    const TEST_SIGNATURE: &str = "47226e6e6ba9d21cb707105e160c41985ed77579b5bac927c42176be46f0e1a87b9fc7276aa5b5cb14cfeb8ca62d8a6a6e3a43dd2ea30e43003e11bec859c32501";

    #[test]
    fn any_changed_field_breaks_the_signature() {
        let (k, rav) = vector();
        let signed = rav.sign(&k);
        let mut changed = Vec::new();
        for i in 0..SUBRAV_LEN {
            let mut bytes = signed.encode();
            bytes[i] ^= 1;
            match SignedSubRav::decode(&bytes) {
                Ok(other) => changed.push(other.verify(&k.public())),
                Err(e) => assert_eq!((i, e), (0, DecodeError::Version(0)), "only the version byte is refused at decoding"),
            }
        }
        assert_eq!(changed.len(), SUBRAV_LEN - 1);
        assert!(changed.iter().all(|r| *r == Err(BadSignature)), "{changed:?}");
        assert_eq!(signed.verify(&key(0x22).public()), Err(BadSignature), "another key");
    }

    #[test]
    fn high_s_twin_is_refused() {
        let (k, rav) = vector();
        let signed = rav.sign(&k);
        // s' = n - s verifies mathematically but is the malleable twin.
        let n = hex::decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141").expect("hex");
        let s = &signed.signature[32..64];
        let mut twin = signed;
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let d = i16::from(n[i]) - i16::from(s[i]) - borrow;
            borrow = i16::from(d < 0);
            twin.signature[32 + i] = (d + 256 * borrow) as u8;
        }
        assert_ne!(twin.signature, signed.signature);
        assert_eq!(twin.verify(&k.public()), Err(BadSignature));
    }

    #[test]
    fn only_the_recovery_id_that_recovers_the_key_verifies() {
        let (k, rav) = vector();
        let signed = rav.sign(&k);
        let twins: Vec<_> = (0u8..4)
            .filter(|v| *v != signed.signature[64])
            .map(|v| {
                let mut twin = signed;
                twin.signature[64] = v;
                SignedSubRav::decode(&twin.encode()).expect("decodes").verify(&k.public())
            })
            .collect();
        assert_eq!(twins, vec![Err(BadSignature); 3], "the other three recovery ids");
        assert_eq!(signed.verify(&k.public()), Ok(()));
    }

    #[test]
    fn malformed_bytes_are_refused() {
        let (k, rav) = vector();
        let good = rav.sign(&k).encode();
        assert_eq!(SignedSubRav::decode(&good[..157]), Err(DecodeError::Length { expected: 158, got: 157 }));
        assert_eq!(SubRav::decode(&[]), Err(DecodeError::Length { expected: 93, got: 0 }));
        let mut bad = good;
        bad[0] = 2;
        assert_eq!(SignedSubRav::decode(&bad), Err(DecodeError::Version(2)));
        let mut bad = good;
        bad[157] = 4;
        assert_eq!(SignedSubRav::decode(&bad), Err(DecodeError::RecoveryId(4)));
    }
}
