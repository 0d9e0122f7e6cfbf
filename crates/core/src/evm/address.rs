//! 20-byte addresses (EIP-55 checksummed text) and 32-byte hashes.

use sha3::{Digest, Keccak256};
use std::fmt;
use std::str::FromStr;

/// Why a hex value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// Not `0x` followed by the right number of hex digits.
    #[error("{what} must be 0x followed by {digits} hex digits, got {got:?}")]
    Malformed {
        /// What was being read ("address", "hash").
        what: &'static str,
        /// How many hex digits it needs.
        digits: usize,
        /// The text, cut to 80 characters.
        got: String,
    },
    /// Mixed-case address text whose case is not its EIP-55 checksum.
    #[error("address {0} has a wrong EIP-55 checksum (mixed case that is not the checksum)")]
    BadChecksum(String),
}

/// Keccak-256 of `bytes`.
pub fn keccak256(bytes: &[u8]) -> [u8; 32] {
    Keccak256::digest(bytes).into()
}

fn parse_hex<const N: usize>(text: &str, what: &'static str) -> Result<[u8; N], HexError> {
    let malformed = || HexError::Malformed { what, digits: N * 2, got: text.chars().take(80).collect() };
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).ok_or_else(malformed)?;
    if digits.len() != N * 2 {
        return Err(malformed());
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(digits, &mut out).map_err(|_| malformed())?;
    Ok(out)
}

/// An EVM account or contract address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// The EIP-55 checksummed text (`0x` + mixed-case hex).
    pub fn checksummed(&self) -> String {
        let lower = hex::encode(self.0);
        let hash = keccak256(lower.as_bytes());
        let mut out = String::with_capacity(42);
        out.push_str("0x");
        for (i, c) in lower.chars().enumerate() {
            let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
            out.push(if c.is_ascii_alphabetic() && nibble >= 8 { c.to_ascii_uppercase() } else { c });
        }
        out
    }

    /// The address as the 32-byte topic of an indexed event argument.
    pub fn as_topic(&self) -> [u8; 32] {
        let mut topic = [0u8; 32];
        topic[12..].copy_from_slice(&self.0);
        topic
    }
}

impl FromStr for Address {
    type Err = HexError;

    /// `0x` + 40 hex digits: all lower case, all upper case, or exactly the
    /// EIP-55 checksum (anything else is a typo the checksum caught).
    fn from_str(text: &str) -> Result<Self, HexError> {
        let address = Address(parse_hex::<20>(text, "address")?);
        let digits = &text[2..];
        let mixed = digits.chars().any(|c| c.is_ascii_lowercase()) && digits.chars().any(|c| c.is_ascii_uppercase());
        if mixed && address.checksummed()[2..] != *digits {
            return Err(HexError::BadChecksum(text.to_owned()));
        }
        Ok(address)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.checksummed())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

/// A transaction or block hash.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash32(pub [u8; 32]);

impl FromStr for Hash32 {
    type Err = HexError;

    /// `0x` + 64 hex digits, either case.
    fn from_str(text: &str) -> Result<Self, HexError> {
        parse_hex::<32>(text, "hash").map(Hash32)
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eip55_vectors_round_trip_and_a_wrong_case_is_refused() {
        // The EIP-55 specification's own examples.
        for text in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let address: Address = text.parse().expect("valid");
            assert_eq!(address.to_string(), text);
            assert_eq!(text.to_lowercase().parse::<Address>().expect("lower case"), address);
        }
        let wrong = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD";
        assert_eq!(wrong.parse::<Address>(), Err(HexError::BadChecksum(wrong.into())));
    }

    #[test]
    fn malformed_text_is_refused() {
        for text in ["", "0x", "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae", "0xzz"] {
            assert!(matches!(text.parse::<Address>(), Err(HexError::Malformed { .. })), "{text:?}");
        }
        assert!("0x12".parse::<Hash32>().is_err());
        let hash = "0xDDF252AD1BE2C89B69C2B068FC378DAA952BA7F163C4A11628F55A4DF523B3EF".parse::<Hash32>().expect("upper");
        assert_eq!(hash.to_string(), super::super::TRANSFER_TOPIC);
    }

    #[test]
    fn the_transfer_topic_is_the_event_signature_hash() {
        let topic = Hash32(keccak256(b"Transfer(address,address,uint256)"));
        assert_eq!(topic.to_string(), super::super::TRANSFER_TOPIC);
    }
}
