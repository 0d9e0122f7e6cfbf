//! Decimal text <-> scaled integers, exactly.

use super::MoneyError;

/// Parses `text` ("12", "12.5", "0.0010330") as a non-negative decimal and
/// returns it scaled by `10^scale`. Trailing zeros beyond the scale are
/// accepted; any other extra precision is an error, never rounded.
pub fn parse_decimal(text: &str, scale: u8) -> Result<u128, MoneyError> {
    let not_decimal = || MoneyError::NotDecimal(text.to_owned());
    let (int_part, frac_part) = match text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (text, ""),
    };
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty() || !digits_only(int_part) || !digits_only(frac_part) {
        return Err(not_decimal());
    }
    if text.contains('.') && frac_part.is_empty() {
        return Err(not_decimal());
    }
    let frac_trimmed = frac_part.trim_end_matches('0');
    if frac_trimmed.len() > usize::from(scale) {
        return Err(MoneyError::TooPrecise { value: text.to_owned(), scale });
    }
    let mut value: u128 = 0;
    for b in int_part.bytes().chain(frac_trimmed.bytes()) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u128::from(b - b'0')))
            .ok_or(MoneyError::Overflow)?;
    }
    let pad = u32::from(scale) - u32::try_from(frac_trimmed.len()).map_err(|_| MoneyError::Overflow)?;
    let factor = 10u128.checked_pow(pad).ok_or(MoneyError::Overflow)?;
    value.checked_mul(factor).ok_or(MoneyError::Overflow)
}

/// Formats `units` scaled by `10^scale` as decimal text with no trailing
/// fractional zeros ("12.5", "7", "0.001").
pub fn format_decimal(units: u128, scale: u8) -> String {
    let digits = units.to_string();
    let scale = usize::from(scale);
    if scale == 0 {
        return digits;
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int_part, frac_part) = padded.split_at(padded.len() - scale);
    let frac_part = frac_part.trim_end_matches('0');
    if frac_part.is_empty() {
        int_part.to_owned()
    } else {
        format!("{int_part}.{frac_part}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_exactly() {
        assert_eq!(parse_decimal("0.0010330", 7), Ok(10_330));
        assert_eq!(parse_decimal("12", 2), Ok(1200));
        assert_eq!(parse_decimal("1.50", 1), Ok(15));
        assert_eq!(parse_decimal("0", 0), Ok(0));
    }

    #[test]
    fn rejects_junk_and_extra_precision() {
        for bad in ["", ".", "1.", ".5", "-1", "+1", "1e5", "1,5", " 1", "0x10", "1.2.3", "NaN"] {
            assert!(matches!(parse_decimal(bad, 4), Err(MoneyError::NotDecimal(_))), "{bad:?}");
        }
        assert!(matches!(parse_decimal("0.125", 2), Err(MoneyError::TooPrecise { .. })));
        assert_eq!(parse_decimal("999999999999999999999999999999999999999999", 0), Err(MoneyError::Overflow));
        assert_eq!(parse_decimal("340282366920938463463374607431768211455", 1), Err(MoneyError::Overflow));
    }

    #[test]
    fn formats() {
        assert_eq!(format_decimal(1, 8), "0.00000001");
        assert_eq!(format_decimal(150, 2), "1.5");
        assert_eq!(format_decimal(0, 3), "0");
        assert_eq!(format_decimal(42, 0), "42");
    }

    proptest! {
        #[test]
        fn round_trips(units in any::<u128>(), scale in 0u8..=18) {
            prop_assert_eq!(parse_decimal(&format_decimal(units, scale), scale), Ok(units));
        }
    }
}
