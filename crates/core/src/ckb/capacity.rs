//! Cell capacity and transaction fees, in shannons (1 CKB = 10^8).
//!
//! A cell's capacity must cover its own bytes: 8 (the capacity field) +
//! the lock script (32 code hash + 1 hash type + args) + the type script
//! if any (the same layout) + data, each byte costing 1 CKB. So a plain
//! secp256k1 cell (20-byte args) needs 61 CKB, and nothing below that can
//! be paid to anyone on chain: the reason for channels and the hub.

/// An amount of CKB in shannons.
pub type Shannons = u64;

/// Shannons in one CKB.
pub const CKB: Shannons = 100_000_000;

/// The node's default minimum fee rate, shannons per 1,000 bytes.
pub const MIN_FEE_RATE: u64 = 1_000;

/// Bytes of a script besides its args: code hash and hash type.
const SCRIPT_FIXED: u64 = 32 + 1;
/// Bytes of a cell's capacity field.
const CAPACITY_FIELD: u64 = 8;
/// What the node adds to a transaction's serialized size when it weighs
/// its fee (the transaction's offset in the block).
const TX_IN_BLOCK_OVERHEAD: u64 = 4;

/// The least capacity of a cell with a lock whose args are `lock_args`
/// bytes, an optional type script with `type_args` bytes of args, and
/// `data` bytes of data; `None` on overflow.
pub fn occupied_capacity(lock_args: u64, type_args: Option<u64>, data: u64) -> Option<Shannons> {
    let type_bytes = match type_args {
        Some(args) => SCRIPT_FIXED.checked_add(args)?,
        None => 0,
    };
    let bytes = CAPACITY_FIELD.checked_add(SCRIPT_FIXED)?.checked_add(lock_args)?.checked_add(type_bytes)?.checked_add(data)?;
    bytes.checked_mul(CKB)
}

/// The fee a transaction of `serialized` bytes must pay at `rate`
/// shannons per 1,000 bytes, rounded up (the node compares with the
/// rounded-down figure, so this always passes); `None` on overflow.
pub fn fee_for_size(serialized: u64, rate: u64) -> Option<Shannons> {
    let weighed = serialized.checked_add(TX_IN_BLOCK_OVERHEAD)?;
    Some(weighed.checked_mul(rate)?.div_ceil(1_000))
}

/// A plain (sighash, 20-byte args, no type, no data) cell's minimum
/// capacity: 61 CKB, the least anything can be paid on chain.
pub const PLAIN_CELL: Shannons = 61 * CKB;

/// Reads a CKB amount written in CKB (`5`, `0.5`, `61.00000001`: at most
/// 8 decimals) as shannons, exactly; `None` for anything else (signs,
/// exponents, more decimals, past `u64`).
pub fn parse_ckb(text: &str) -> Option<Shannons> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 8 || (text.contains('.') && fraction.is_empty()) {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let fraction: u64 = if fraction.is_empty() { 0 } else { format!("{fraction:0<8}").parse().ok()? };
    whole.checked_mul(CKB)?.checked_add(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ckb_amounts_read_exactly() {
        assert_eq!(parse_ckb("5"), Some(5 * CKB));
        assert_eq!(parse_ckb("0.5"), Some(CKB / 2));
        assert_eq!(parse_ckb("61.00000001"), Some(61 * CKB + 1));
        assert_eq!(parse_ckb("0"), Some(0));
        for bad in ["", ".5", "5.", "-1", "+1", "1e3", "0.000000001", "1,5", " 1", "184467440738", "0x10", "NaN"] {
            assert_eq!(parse_ckb(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_plain_cell_needs_61_ckb() {
        assert_eq!(occupied_capacity(20, None, 0), Some(61 * CKB));
        assert_eq!(occupied_capacity(20, None, 0), Some(PLAIN_CELL));
        // A 2-of-2 multisig lock's args: blake160 of the multisig script (20 bytes),
        // with an optional 8-byte since: 69 CKB.
        assert_eq!(occupied_capacity(28, None, 0), Some(69 * CKB));
        assert_eq!(occupied_capacity(20, Some(32), 16), Some((61 + 33 + 32 + 16) * CKB));
        assert_eq!(occupied_capacity(u64::MAX, None, 0), None);
    }

    #[test]
    fn fees_round_up_and_count_the_block_overhead() {
        assert_eq!(fee_for_size(650, MIN_FEE_RATE), Some(654));
        assert_eq!(fee_for_size(996, MIN_FEE_RATE), Some(1_000));
        assert_eq!(fee_for_size(997, 1_500), Some(1_502), "1,001 × 1.5 = 1,501.5, rounded up");
        assert_eq!(fee_for_size(u64::MAX, 1), None);
    }
}
