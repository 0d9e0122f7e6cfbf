//! The `since` field of a CKB input (RFC 0017): the input may be spent
//! only after a point in time. A u64 whose top bit says relative (1) or
//! absolute (0), bits 61-62 the metric (00 block number, 01 epoch,
//! 10 timestamp in seconds, the median of the last 37 blocks), bits 56-60
//! must be 0, and the low 56 bits hold the value. A public Spilman demo
//! built these bytes in the wrong order and turned a timeout into a block
//! number; [`Since::encode`] and [`Since::decode`] are tested against the
//! values the RFC gives.

/// Relative flag (bit 63).
const RELATIVE: u64 = 1 << 63;
/// Metric flags (bits 61-62).
const METRIC_MASK: u64 = 0b11 << 61;
const METRIC_BLOCK: u64 = 0b00 << 61;
const METRIC_EPOCH: u64 = 0b01 << 61;
const METRIC_TIMESTAMP: u64 = 0b10 << 61;
/// Reserved bits 56-60, which must be 0.
const RESERVED_MASK: u64 = 0b1_1111 << 56;
/// The value: the low 56 bits.
const VALUE_MASK: u64 = (1 << 56) - 1;

/// An epoch with a fraction: `number + index / length` (RFC 0017's
/// `EpochNumberWithFraction`: number 24 bits, index 16, length 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochFraction {
    /// Whole epochs.
    pub number: u32,
    /// Blocks into the epoch.
    pub index: u16,
    /// Blocks in the epoch (index < length, or both 0).
    pub length: u16,
}

/// A timelock on an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// Spendable from this block number on.
    AbsoluteBlock(u64),
    /// Spendable from this epoch on.
    AbsoluteEpoch(EpochFraction),
    /// Spendable once the median time of the last 37 blocks reaches this
    /// unix time, seconds.
    AbsoluteTimestamp(u64),
    /// Spendable this many blocks after the input's cell was committed.
    RelativeBlocks(u64),
    /// Spendable this many epochs after the input's cell was committed.
    RelativeEpochs(EpochFraction),
    /// Spendable this many seconds (of median time) after the input's
    /// cell was committed.
    RelativeSeconds(u64),
}

/// Why a `since` value or a timelock cannot be encoded or decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SinceError {
    /// The value does not fit in 56 bits.
    #[error("the value {0} does not fit in a since field's 56 bits")]
    ValueTooLarge(u64),
    /// Reserved bits 56-60 are set.
    #[error("since {0:#018x} sets reserved bits")]
    ReservedBits(u64),
    /// Metric 11 is not defined.
    #[error("since {0:#018x} has an undefined metric")]
    UnknownMetric(u64),
    /// An epoch fraction with index ≥ length (other than 0/0), or a
    /// number above 24 bits.
    #[error("invalid epoch fraction")]
    InvalidEpoch,
}

impl SinceError {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            SinceError::ValueTooLarge(_) => "since_value_too_large",
            SinceError::ReservedBits(_) => "since_reserved_bits",
            SinceError::UnknownMetric(_) => "since_unknown_metric",
            SinceError::InvalidEpoch => "since_invalid_epoch",
        }
    }
}

impl EpochFraction {
    /// The 56-bit packed form: number | index << 24 | length << 40.
    fn pack(self) -> Result<u64, SinceError> {
        let valid_fraction = (self.index == 0 && self.length == 0) || self.index < self.length;
        if self.number >= 1 << 24 || !valid_fraction {
            return Err(SinceError::InvalidEpoch);
        }
        Ok(u64::from(self.number) | u64::from(self.index) << 24 | u64::from(self.length) << 40)
    }

    fn unpack(value: u64) -> Result<EpochFraction, SinceError> {
        let part = |shift: u32, bits: u32| (value >> shift) & ((1 << bits) - 1);
        let epoch = EpochFraction {
            number: u32::try_from(part(0, 24)).map_err(|_| SinceError::InvalidEpoch)?,
            index: u16::try_from(part(24, 16)).map_err(|_| SinceError::InvalidEpoch)?,
            length: u16::try_from(part(40, 16)).map_err(|_| SinceError::InvalidEpoch)?,
        };
        epoch.pack()?;
        Ok(epoch)
    }
}

fn value(v: u64) -> Result<u64, SinceError> {
    if v > VALUE_MASK {
        Err(SinceError::ValueTooLarge(v))
    } else {
        Ok(v)
    }
}

impl Since {
    /// The u64 the input carries (serialized little-endian in the
    /// transaction, like every CKB integer).
    pub fn encode(self) -> Result<u64, SinceError> {
        Ok(match self {
            Since::AbsoluteBlock(n) => METRIC_BLOCK | value(n)?,
            Since::AbsoluteEpoch(e) => METRIC_EPOCH | e.pack()?,
            Since::AbsoluteTimestamp(t) => METRIC_TIMESTAMP | value(t)?,
            Since::RelativeBlocks(n) => RELATIVE | METRIC_BLOCK | value(n)?,
            Since::RelativeEpochs(e) => RELATIVE | METRIC_EPOCH | e.pack()?,
            Since::RelativeSeconds(s) => RELATIVE | METRIC_TIMESTAMP | value(s)?,
        })
    }

    /// Reads an input's `since`; `None` for 0 (no timelock).
    pub fn decode(raw: u64) -> Result<Option<Since>, SinceError> {
        if raw == 0 {
            return Ok(None);
        }
        if raw & RESERVED_MASK != 0 {
            return Err(SinceError::ReservedBits(raw));
        }
        let relative = raw & RELATIVE != 0;
        let v = raw & VALUE_MASK;
        let since = match (raw & METRIC_MASK, relative) {
            (METRIC_BLOCK, false) => Since::AbsoluteBlock(v),
            (METRIC_BLOCK, true) => Since::RelativeBlocks(v),
            (METRIC_EPOCH, false) => Since::AbsoluteEpoch(EpochFraction::unpack(v)?),
            (METRIC_EPOCH, true) => Since::RelativeEpochs(EpochFraction::unpack(v)?),
            (METRIC_TIMESTAMP, false) => Since::AbsoluteTimestamp(v),
            (METRIC_TIMESTAMP, true) => Since::RelativeSeconds(v),
            _ => return Err(SinceError::UnknownMetric(raw)),
        };
        Ok(Some(since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_the_rfc_s() {
        // RFC 0017 and docs/REFERENCE: relative timestamp 0xC000…|secs,
        // absolute timestamp 0x4000…|secs, relative blocks 0x8000…|n.
        assert_eq!(Since::RelativeSeconds(3_600).encode(), Ok(0xC000_0000_0000_0E10));
        assert_eq!(Since::AbsoluteTimestamp(1_767_225_600).encode(), Ok(0x4000_0000_6955_B900));
        assert_eq!(Since::RelativeBlocks(100).encode(), Ok(0x8000_0000_0000_0064));
        assert_eq!(Since::AbsoluteBlock(12_345).encode(), Ok(0x0000_0000_0000_3039));
        // Epoch 1024 and 10/100 of the next: 0x20 metric, length 100 at bit 40, index 10 at bit 24.
        let epoch = EpochFraction { number: 1_024, index: 10, length: 100 };
        assert_eq!(Since::AbsoluteEpoch(epoch).encode(), Ok(0x2000_6400_0A00_0400));
        assert_eq!(Since::RelativeEpochs(epoch).encode(), Ok(0xA000_6400_0A00_0400));
    }

    #[test]
    fn the_byte_order_mistake_is_not_the_same_lock() {
        // The 8 bytes of a one-hour relative timelock read in the wrong
        // order: reserved bits set, so no timelock the chain accepts.
        let right = Since::RelativeSeconds(3_600).encode().expect("fits");
        let wrong = u64::from_le_bytes(right.to_be_bytes());
        assert_eq!(wrong, 0x100E_0000_0000_00C0);
        assert_eq!(Since::decode(wrong), Err(SinceError::ReservedBits(wrong)));
        // A timestamp put where a block number goes is another lock too.
        let as_blocks = Since::AbsoluteBlock(1_767_225_600).encode().expect("fits");
        assert_ne!(Since::decode(as_blocks), Ok(Some(Since::AbsoluteTimestamp(1_767_225_600))));
    }

    #[test]
    fn every_encoding_decodes_back() {
        let epoch = EpochFraction { number: 7, index: 3, length: 1_800 };
        for since in [
            Since::AbsoluteBlock(1),
            Since::AbsoluteBlock(VALUE_MASK),
            Since::AbsoluteEpoch(epoch),
            Since::AbsoluteTimestamp(1_767_225_600),
            Since::RelativeBlocks(6),
            Since::RelativeEpochs(EpochFraction { number: 1, index: 0, length: 0 }),
            Since::RelativeSeconds(86_400),
        ] {
            let raw = since.encode().expect("encodes");
            assert_eq!(Since::decode(raw), Ok(Some(since)), "{raw:#018x}");
        }
        assert_eq!(Since::decode(0), Ok(None));
    }

    #[test]
    fn bad_values_are_refused() {
        assert_eq!(Since::AbsoluteBlock(1 << 56).encode(), Err(SinceError::ValueTooLarge(1 << 56)));
        assert_eq!(Since::RelativeSeconds(u64::MAX).encode(), Err(SinceError::ValueTooLarge(u64::MAX)));
        let bad_epoch = EpochFraction { number: 1, index: 5, length: 5 };
        assert_eq!(Since::AbsoluteEpoch(bad_epoch).encode(), Err(SinceError::InvalidEpoch));
        assert_eq!(Since::decode(1 << 56), Err(SinceError::ReservedBits(1 << 56)));
        assert_eq!(Since::decode(0x6000_0000_0000_0001), Err(SinceError::UnknownMetric(0x6000_0000_0000_0001)));
        assert_eq!(Since::decode(0x2000_0500_0500_0001), Err(SinceError::InvalidEpoch), "index 5 of 5");
    }
}
