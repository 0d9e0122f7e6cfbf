//! Token amounts (exact, in the token's smallest units), the unique amounts
//! open sessions are given, EIP-681 links and the points a payment buys.

use super::Address;
use crate::money::{format_decimal, parse_decimal};
use crate::MoneyError;

/// Why an amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not a plain non-negative decimal, or finer than the token's units.
    #[error("amount {0:?} is not a decimal the token can hold: {1}")]
    NotDecimal(String, MoneyError),
    /// Zero.
    #[error("amount must be more than zero")]
    Zero,
    /// Above the configured largest amount.
    #[error("amount {amount} is above the largest accepted, {max}")]
    TooLarge {
        /// The amount asked for.
        amount: String,
        /// The largest accepted.
        max: String,
    },
    /// The sum does not fit.
    #[error("amount overflows")]
    Overflow,
}

/// An exact amount of a token with `decimals` decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TokenAmount {
    /// Smallest units (wei for an 18-decimal token).
    pub units: u128,
    /// The token's decimals.
    pub decimals: u8,
}

impl TokenAmount {
    /// Parses display text ("10", "10.5") exactly; zero, more precision
    /// than the token has, or more than `max_units` is refused.
    pub fn parse(text: &str, decimals: u8, max_units: u128) -> Result<TokenAmount, AmountError> {
        let units = parse_decimal(text.trim(), decimals).map_err(|e| AmountError::NotDecimal(text.chars().take(80).collect(), e))?;
        if units == 0 {
            return Err(AmountError::Zero);
        }
        if units > max_units {
            return Err(AmountError::TooLarge { amount: text.chars().take(80).collect(), max: format_decimal(max_units, decimals) });
        }
        Ok(TokenAmount { units, decimals })
    }

    /// Display text, exact, without trailing zeros ("10.000001").
    pub fn display(&self) -> String {
        format_decimal(self.units, self.decimals)
    }
}

/// The amounts a new session for `base` may be given, in order of
/// preference: `base` itself, then `base + step`, `base + 2·step`, … for
/// `slots` amounts in all. The store gives the first one no open session
/// holds (a unique index decides races).
pub fn amount_candidates(base: u128, step: u128, slots: u32) -> Result<Vec<u128>, AmountError> {
    (0..u128::from(slots))
        .map(|k| k.checked_mul(step).and_then(|extra| base.checked_add(extra)).ok_or(AmountError::Overflow))
        .collect()
}

/// The EIP-681 link a wallet opens to pay `units` of `token` to `to` on
/// chain `chain_id`: `ethereum:{token}@{chainId}/transfer?address={to}&uint256={units}`.
pub fn payment_uri(token: &Address, chain_id: u64, to: &Address, units: u128) -> String {
    format!("ethereum:{token}@{chain_id}/transfer?address={to}&uint256={units}")
}

/// Points bought by `units` of a token with `decimals` decimals at
/// `points_per_token` points per whole token, rounded down (the buyer
/// never gets a fraction of a point; the exact rule is in
/// docs/stablecoin.md).
pub fn points_for(units: u128, decimals: u8, points_per_token: u128) -> Result<u128, AmountError> {
    let scale = 10u128.checked_pow(u32::from(decimals)).ok_or(AmountError::Overflow)?;
    let whole = units / scale;
    let fraction = units % scale;
    // whole·rate + fraction·rate/scale, without overflowing on fraction·rate.
    let from_whole = whole.checked_mul(points_per_token).ok_or(AmountError::Overflow)?;
    let from_fraction = mul_div_floor(fraction, points_per_token, scale).ok_or(AmountError::Overflow)?;
    from_whole.checked_add(from_fraction).ok_or(AmountError::Overflow)
}

/// `a·b/c` rounded down, for `a < c`, without an intermediate overflow
/// when `a·b` alone would overflow (long multiplication in 64-bit limbs).
fn mul_div_floor(a: u128, b: u128, c: u128) -> Option<u128> {
    if let Some(product) = a.checked_mul(b) {
        return Some(product / c);
    }
    // a < c, so the quotient is below b and fits. Bit by bit over b, from
    // the top: a·(b's prefix) = quotient·c + remainder, remainder < c.
    let (mut quotient, mut remainder) = (0u128, 0u128);
    for bit in (0..128).rev() {
        quotient <<= 1;
        remainder = remainder.checked_mul(2)?;
        if (b >> bit) & 1 == 1 {
            remainder = remainder.checked_add(a)?;
        }
        if remainder >= c {
            let times = remainder / c;
            quotient = quotient.checked_add(times)?;
            remainder -= times * c;
        }
    }
    Some(quotient)
}

#[cfg(test)]
mod tests {
    use super::*;

    const E18: u128 = 1_000_000_000_000_000_000;

    #[test]
    fn parsing_is_exact_and_refuses_zero_too_fine_and_too_large() {
        let max = 1_000_000 * E18;
        assert_eq!(TokenAmount::parse("10.5", 18, max).expect("ok").units, 10 * E18 + E18 / 2);
        assert_eq!(TokenAmount::parse("0.000000000000000001", 18, max).expect("ok").units, 1);
        assert_eq!(TokenAmount::parse("0", 18, max), Err(AmountError::Zero));
        assert_eq!(TokenAmount::parse("0.00", 18, max), Err(AmountError::Zero));
        assert!(matches!(TokenAmount::parse("0.0000000000000000001", 18, max), Err(AmountError::NotDecimal(..))));
        assert!(matches!(TokenAmount::parse("-1", 18, max), Err(AmountError::NotDecimal(..))));
        assert!(matches!(TokenAmount::parse("1e3", 18, max), Err(AmountError::NotDecimal(..))));
        assert!(matches!(TokenAmount::parse("1000000.000000000000000001", 18, max), Err(AmountError::TooLarge { .. })));
        assert!(matches!(TokenAmount::parse(&"9".repeat(60), 18, max), Err(AmountError::NotDecimal(..))));
        assert_eq!(TokenAmount { units: 10 * E18 + 1_000_000_000_000, decimals: 18 }.display(), "10.000001");
    }

    #[test]
    fn candidates_start_at_the_base_and_step_up() {
        assert_eq!(amount_candidates(100, 7, 3).expect("ok"), vec![100, 107, 114]);
        assert_eq!(amount_candidates(u128::MAX, 1, 2), Err(AmountError::Overflow));
    }

    #[test]
    fn the_payment_link_is_eip681() {
        let token: Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3".parse().expect("addr");
        let to: Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".parse().expect("addr");
        assert_eq!(
            payment_uri(&token, 56, &to, 1_000_001),
            "ethereum:0x5FbDB2315678afecb367f032d93F642f64180aa3@56/transfer?address=0x70997970C51812dc3A010C7d01b50e0d17dc79C8&uint256=1000001"
        );
    }

    #[test]
    fn points_round_down_exactly() {
        assert_eq!(points_for(E18, 18, 10_000), Ok(10_000));
        assert_eq!(points_for(E18 + 1_000_000_000_000, 18, 10_000), Ok(10_000));
        assert_eq!(points_for(E18 / 3, 18, 10_000), Ok(3_333));
        assert_eq!(points_for(E18 - 1, 18, 1), Ok(0));
        // fraction·rate overflows u128 but the answer does not.
        let rate = u128::MAX / E18;
        assert_eq!(points_for(E18 - 1, 18, rate), Ok(mul_div_reference(E18 - 1, rate, E18)));
        assert_eq!(points_for(u128::MAX, 0, 2), Err(AmountError::Overflow));
    }

    /// a·b/c by splitting b, for the check above.
    fn mul_div_reference(a: u128, b: u128, c: u128) -> u128 {
        let (hi, lo) = (b >> 64, b & u128::from(u64::MAX));
        // a·b = a·hi·2^64 + a·lo; a < c < 2^64 here.
        let high = a * hi;
        let (q_high, r_high) = (high / c, high % c);
        // (r_high·2^64 + a·lo) / c, r_high < c < 2^64.
        let rest = (r_high << 64) + a * lo;
        (q_high << 64) + rest / c
    }
}
