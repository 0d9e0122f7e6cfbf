use super::MoneyError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A non-negative amount in the minor unit of some asset (points, shannons,
/// token base units). All arithmetic is checked: overflow is an error.
/// In JSON it is a string of decimal digits (a u128 does not fit a JSON
/// number that every client reads exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(u128);

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Amount::from_units_str(&text).map_err(serde::de::Error::custom)
    }
}

impl Amount {
    /// Zero.
    pub const ZERO: Amount = Amount(0);
    /// The largest amount representable.
    pub const MAX: Amount = Amount(u128::MAX);

    /// An amount of `units` minor units.
    pub const fn new(units: u128) -> Self {
        Amount(units)
    }

    /// The number of minor units.
    pub const fn units(self) -> u128 {
        self.0
    }

    /// True when the amount is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + other`, or `Overflow`.
    pub fn checked_add(self, other: Amount) -> Result<Amount, MoneyError> {
        self.0.checked_add(other.0).map(Amount).ok_or(MoneyError::Overflow)
    }

    /// `self - other`, or `Negative` when `other > self`.
    pub fn checked_sub(self, other: Amount) -> Result<Amount, MoneyError> {
        self.0.checked_sub(other.0).map(Amount).ok_or(MoneyError::Negative)
    }

    /// `self - other`, floored at zero.
    pub fn saturating_sub(self, other: Amount) -> Amount {
        Amount(self.0.saturating_sub(other.0))
    }

    /// The smaller of two amounts.
    pub fn min(self, other: Amount) -> Amount {
        Amount(self.0.min(other.0))
    }

    /// Parses the canonical storage form: decimal digits of minor units.
    pub fn from_units_str(s: &str) -> Result<Amount, MoneyError> {
        if s.is_empty() || s.len() > 39 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MoneyError::NotDecimal(s.to_owned()));
        }
        s.parse::<u128>().map(Amount).map_err(|_| MoneyError::Overflow)
    }
}

impl fmt::Display for Amount {
    /// Formats the minor units as plain decimal digits (the storage form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(Amount::MAX.checked_add(Amount::new(1)), Err(MoneyError::Overflow));
        assert_eq!(Amount::new(1).checked_sub(Amount::new(2)), Err(MoneyError::Negative));
        assert_eq!(Amount::new(5).checked_sub(Amount::new(2)), Ok(Amount::new(3)));
    }

    #[test]
    fn storage_form_round_trips_and_rejects_junk() {
        let a = Amount::new(340_282_366_920_938_463_463_374_607_431_768_211_455);
        assert_eq!(Amount::from_units_str(&a.to_string()), Ok(a));
        for bad in ["", "-1", "1.0", " 1", "1e3", "340282366920938463463374607431768211456"] {
            assert!(Amount::from_units_str(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn json_is_a_decimal_string() {
        let a = Amount::MAX;
        let json = serde_json::to_string(&a).expect("serialize");
        assert_eq!(json, format!("\"{}\"", u128::MAX));
        assert_eq!(serde_json::from_str::<Amount>(&json).expect("parse"), a);
        for bad in ["12", "\"-1\"", "\"1.5\"", "\"\""] {
            assert!(serde_json::from_str::<Amount>(bad).is_err(), "{bad} accepted");
        }
    }
}
