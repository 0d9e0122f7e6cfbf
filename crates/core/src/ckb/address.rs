//! CKB addresses (RFC 0021): a lock script written as one line. The hub
//! pays and is paid only by plain keys (`secp256k1_blake160_sighash_all`),
//! so what it needs from an address is those 20 bytes of lock args.
//!
//! Read: the full format (`0x00 | code_hash | hash_type | args`, bech32m),
//! the deprecated short format (`0x01 | 0x00 | args`, bech32) and the
//! deprecated full formats (`0x02`/`0x04 | code_hash | args`, bech32), each
//! with its checksum variant enforced; and `0x` + 40 hex digits, taken as
//! the lock args of a sighash lock. Written: the full format only. The
//! prefix is `ckb` on mainnet and `ckt` on every other chain (the devnet
//! included).

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32, Bech32m, Hrp};

/// The type hash of `secp256k1_blake160_sighash_all` (the same in every
/// genesis made from CKB's bundled specs).
pub const SIGHASH_CODE_HASH: [u8; 32] = [
    0x9b, 0xd7, 0xe0, 0x6f, 0x3e, 0xcf, 0x4b, 0xe0, 0xf2, 0xfc, 0xd2, 0x18, 0x8b, 0x23, 0xf1, 0xb9, 0xfc, 0xc8, 0x8e, 0x5d, 0x4b, 0x65, 0xa8, 0x63,
    0x7b, 0x17, 0x72, 0x3b, 0xbd, 0xa3, 0xcc, 0xe8,
];

/// `hash_type` of a script matched by its type hash.
const HASH_TYPE_TYPE: u8 = 1;

/// Which chain an address is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressNetwork {
    /// Prefix `ckb`.
    Mainnet,
    /// Prefix `ckt`: testnet and dev chains.
    Testnet,
}

impl AddressNetwork {
    fn prefix(self) -> &'static str {
        match self {
            AddressNetwork::Mainnet => "ckb",
            AddressNetwork::Testnet => "ckt",
        }
    }
}

/// A lock script as an address names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockAddress {
    /// The script's code hash.
    pub code_hash: [u8; 32],
    /// 0 data, 1 type, 2 data1, 4 data2.
    pub hash_type: u8,
    /// The script's args.
    pub args: Vec<u8>,
    /// The network its prefix names (`None` for a bare `0x` lock args).
    pub network: Option<AddressNetwork>,
}

/// The 20-byte lock args of a plain key's lock (blake160 of its
/// compressed public key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SighashArgs(pub [u8; 20]);

impl SighashArgs {
    /// `0x` + 40 lowercase hex digits: how the hub's books store a party.
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }

    /// The full-format address of this key's plain lock.
    pub fn address(&self, network: AddressNetwork) -> String {
        LockAddress { code_hash: SIGHASH_CODE_HASH, hash_type: HASH_TYPE_TYPE, args: self.0.to_vec(), network: Some(network) }.encode(network)
    }
}

impl std::fmt::Display for SighashArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Why text is not an address the hub can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Not bech32 / bech32m with a valid checksum, or a payload too short
    /// for its format.
    #[error("not a CKB address: {0}")]
    Malformed(String),
    /// A prefix other than `ckb` or `ckt`.
    #[error("the address prefix must be ckb or ckt, not {0}")]
    UnknownPrefix(String),
    /// A lock other than a plain key's (`secp256k1_blake160_sighash_all`
    /// with 20 bytes of args).
    #[error("only plain secp256k1 (sighash) addresses are supported")]
    UnsupportedLock,
    /// Written for the other network.
    #[error("the address is for {found:?}, this chain is {expected:?}")]
    WrongNetwork {
        /// This chain's.
        expected: AddressNetwork,
        /// The address's.
        found: AddressNetwork,
    },
}

impl AddressError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            AddressError::Malformed(_) | AddressError::UnknownPrefix(_) => "invalid_address",
            AddressError::UnsupportedLock => "unsupported_lock",
            AddressError::WrongNetwork { .. } => "wrong_network",
        }
    }
}

impl LockAddress {
    /// Reads an address or `0x` + 40 hex digits (a sighash lock's args).
    pub fn parse(text: &str) -> Result<LockAddress, AddressError> {
        let text = text.trim();
        if let Some(hex_args) = text.strip_prefix("0x") {
            let mut args = [0u8; 20];
            hex::decode_to_slice(hex_args, &mut args).map_err(|_| AddressError::Malformed("0x lock args must be 40 hex digits".into()))?;
            return Ok(LockAddress { code_hash: SIGHASH_CODE_HASH, hash_type: HASH_TYPE_TYPE, args: args.to_vec(), network: None });
        }
        let malformed = |e: &dyn std::fmt::Display| AddressError::Malformed(e.to_string());
        let unchecked = CheckedHrpstring::new::<bech32::NoChecksum>(text).map_err(|e| malformed(&e))?;
        let network = match unchecked.hrp().to_lowercase().as_str() {
            "ckb" => AddressNetwork::Mainnet,
            "ckt" => AddressNetwork::Testnet,
            other => return Err(AddressError::UnknownPrefix(other.to_owned())),
        };
        // The format byte decides the checksum: bech32m for the full
        // format, bech32 for the deprecated ones.
        let checked = match CheckedHrpstring::new::<Bech32m>(text) {
            Ok(c) => Some((c.byte_iter().collect::<Vec<u8>>(), true)),
            Err(_) => CheckedHrpstring::new::<Bech32>(text).ok().map(|c| (c.byte_iter().collect::<Vec<u8>>(), false)),
        };
        let (payload, is_bech32m) = checked.ok_or_else(|| AddressError::Malformed("bad checksum".into()))?;
        let (format, rest) = payload.split_first().ok_or_else(|| AddressError::Malformed("empty payload".into()))?;
        let address = match (*format, is_bech32m) {
            (0x00, true) if rest.len() >= 33 => {
                LockAddress { code_hash: take32(&rest[..32]), hash_type: rest[32], args: rest[33..].to_vec(), network: Some(network) }
            }
            (0x01, false) if rest.len() == 21 && rest[0] == 0x00 => {
                LockAddress { code_hash: SIGHASH_CODE_HASH, hash_type: HASH_TYPE_TYPE, args: rest[1..].to_vec(), network: Some(network) }
            }
            (0x01, false) if rest.len() == 21 => return Err(AddressError::UnsupportedLock),
            (0x02 | 0x04, false) if rest.len() >= 32 => LockAddress {
                code_hash: take32(&rest[..32]),
                hash_type: if *format == 0x02 { 0 } else { HASH_TYPE_TYPE },
                args: rest[32..].to_vec(),
                network: Some(network),
            },
            _ => return Err(AddressError::Malformed(format!("unknown or short payload (format 0x{format:02x})"))),
        };
        Ok(address)
    }

    /// The full-format (bech32m) address.
    pub fn encode(&self, network: AddressNetwork) -> String {
        let mut payload = Vec::with_capacity(34 + self.args.len());
        payload.push(0x00);
        payload.extend_from_slice(&self.code_hash);
        payload.push(self.hash_type);
        payload.extend_from_slice(&self.args);
        let hrp = Hrp::parse_unchecked(network.prefix());
        // Encoding into a String cannot fail; no length limit applies to
        // bech32m (RFC 0021 lifts the 90-character limit).
        bech32::encode::<Bech32m>(hrp, &payload).unwrap_or_default()
    }

    /// The lock args when this is a plain key's lock.
    pub fn sighash_args(&self) -> Result<SighashArgs, AddressError> {
        if self.code_hash != SIGHASH_CODE_HASH || self.hash_type != HASH_TYPE_TYPE || self.args.len() != 20 {
            return Err(AddressError::UnsupportedLock);
        }
        let mut args = [0u8; 20];
        args.copy_from_slice(&self.args);
        Ok(SighashArgs(args))
    }
}

/// Reads `text` as a plain key's address on `network` (a bare `0x` lock
/// args fits any network).
pub fn parse_sighash(text: &str, network: AddressNetwork) -> Result<SighashArgs, AddressError> {
    let address = LockAddress::parse(text)?;
    if let Some(found) = address.network.filter(|found| *found != network) {
        return Err(AddressError::WrongNetwork { expected: network, found });
    }
    address.sighash_args()
}

fn take32(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARGS: &str = "b39bbc0b3673c7d36450bc14cfcdad2d559c6c64";
    // RFC 0021's examples.
    const FULL: &str = "ckb1qzda0cr08m85hc8jlnfp3zer7xulejywt49kt2rr0vthywaa50xwsqdnnw7qkdnnclfkg59uzn8umtfd2kwxceqxwquc4";
    const SHORT: &str = "ckb1qyqt8xaupvm8837nv3gtc9x0ekkj64vud3jqfwyw5v";
    const SHORT_MULTISIG: &str = "ckb1qyq5lv479ewscx3ms620sv34pgeuz6zagaaqklhtgg";
    const DEPRECATED_FULL: &str = "ckb1qjda0cr08m85hc8jlnfp3zer7xulejywt49kt2rr0vthywaa50xw3vumhs9nvu786dj9p0q5elx66t24n3kxgj53qks";

    fn args() -> SighashArgs {
        let mut a = [0u8; 20];
        hex::decode_to_slice(ARGS, &mut a).expect("hex");
        SighashArgs(a)
    }

    #[test]
    fn the_rfc_examples_read_and_the_full_one_is_written_back() {
        for text in [FULL, SHORT, DEPRECATED_FULL] {
            assert_eq!(parse_sighash(text, AddressNetwork::Mainnet), Ok(args()), "{text}");
        }
        assert_eq!(args().address(AddressNetwork::Mainnet), FULL);
        assert_eq!(parse_sighash(&format!("0x{ARGS}"), AddressNetwork::Testnet), Ok(args()));
        let devnet = args().address(AddressNetwork::Testnet);
        assert!(devnet.starts_with("ckt1"), "{devnet}");
        assert_eq!(parse_sighash(&devnet, AddressNetwork::Testnet), Ok(args()));
    }

    #[test]
    fn hostile_addresses_are_refused_with_their_code() {
        let code = |text: &str| parse_sighash(text, AddressNetwork::Mainnet).map_err(|e| e.code()).err();
        assert_eq!(code(SHORT_MULTISIG), Some("unsupported_lock"), "a multisig short address");
        assert_eq!(code(&args().address(AddressNetwork::Testnet)), Some("wrong_network"));
        // One character changed: the checksum fails.
        let mut flipped = FULL.to_owned();
        flipped.replace_range(20..21, if &FULL[20..21] == "q" { "p" } else { "q" });
        assert_eq!(code(&flipped), Some("invalid_address"));
        // The full format under the old bech32 checksum is not accepted.
        let payload: Vec<u8> = std::iter::once(0u8).chain(SIGHASH_CODE_HASH).chain([1]).chain(args().0).collect();
        let bech32_full = bech32::encode::<Bech32>(Hrp::parse_unchecked("ckb"), &payload).expect("encode");
        assert_eq!(code(&bech32_full), Some("invalid_address"));
        for text in [
            "",
            "0x",
            "0x1234",
            &format!("0x{ARGS}00"),
            "0xzz9bbc0b3673c7d36450bc14cfcdad2d559c6c64",
            "btc1qqqq",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        ] {
            assert!(code(text).is_some(), "{text:?} must be refused");
        }
        assert_eq!(code("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"), Some("invalid_address"));
        // Another lock's full address (a type-script code hash of zeros).
        let other = LockAddress { code_hash: [0; 32], hash_type: 1, args: args().0.to_vec(), network: None }.encode(AddressNetwork::Mainnet);
        assert_eq!(code(&other), Some("unsupported_lock"));
        // Sighash code hash with 21 bytes of args.
        let long = LockAddress { code_hash: SIGHASH_CODE_HASH, hash_type: 1, args: vec![7; 21], network: None }.encode(AddressNetwork::Mainnet);
        assert_eq!(code(&long), Some("unsupported_lock"));
    }
}
