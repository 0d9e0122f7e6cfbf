//! Per-model token prices with effective-dated versions, and the one
//! rounding rule: a charge is rounded up to the asset's minor unit, once
//! per charge (never per token, never per side).

use crate::ledger::Timestamp;
use crate::money::{format_decimal, parse_decimal, Amount, Asset, MoneyError};
use crate::usage::TokenUsage;
use serde::{Deserialize, Serialize};

/// Prices carry this many decimal places beyond their asset's scale, so a
/// price of 0.0015 points per 1,000 tokens is exact.
pub const PRICE_EXTRA_DIGITS: u8 = 6;

/// The rule name that prices any model without a rule of its own, when
/// the operator has set one.
pub const DEFAULT_RULE: &str = "*";

/// A price per 1,000 tokens, in units of `10^-(scale + PRICE_EXTRA_DIGITS)`
/// of the asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Price(pub u128);

impl Price {
    /// Parses a decimal price in whole asset units per 1,000 tokens.
    pub fn parse(text: &str, asset: Asset) -> Result<Price, MoneyError> {
        parse_decimal(text, asset.scale + PRICE_EXTRA_DIGITS).map(Price)
    }

    /// Formats as a decimal in whole asset units per 1,000 tokens.
    pub fn format(self, asset: Asset) -> String {
        format_decimal(self.0, asset.scale + PRICE_EXTRA_DIGITS)
    }
}

/// One version of a model's price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceRule {
    /// Model name, or [`DEFAULT_RULE`].
    pub model: String,
    /// Version number, increasing per model from 1.
    pub version: i64,
    /// Price of 1,000 input (prompt) tokens.
    pub input_per_1k: Price,
    /// Price of 1,000 output (completion) tokens.
    pub output_per_1k: Price,
    /// From when this version applies.
    pub effective_from: Timestamp,
    /// False for a version that withdraws the model.
    pub active: bool,
}

/// Why a cost could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// No active rule for the model and no default rule.
    #[error("no price is set for model {0:?}")]
    UnknownModel(String),
    /// The cost overflows.
    #[error("cost overflows")]
    Overflow,
}

impl PriceRule {
    /// The cost of `usage` under this rule:
    /// `ceil((input × input_price + output × output_price) / (1000 × 10^6))`
    /// minor units.
    pub fn cost(&self, usage: TokenUsage) -> Result<Amount, PricingError> {
        let side = |tokens: u64, price: Price| u128::from(tokens).checked_mul(price.0).ok_or(PricingError::Overflow);
        let total = side(usage.input, self.input_per_1k)?
            .checked_add(side(usage.output, self.output_per_1k)?)
            .ok_or(PricingError::Overflow)?;
        let divisor = 1000 * 10u128.pow(u32::from(PRICE_EXTRA_DIGITS));
        Ok(Amount::new(total.div_ceil(divisor)))
    }
}

impl PriceRule {
    /// The same rule in another asset worth `units_per_point` of its minor
    /// units per point (a CKB channel: shannons per point). Exact: prices
    /// are multiplied, costs still round up once per charge.
    pub fn converted(&self, units_per_point: u64) -> Result<PriceRule, PricingError> {
        let scale = |p: Price| p.0.checked_mul(u128::from(units_per_point)).map(Price).ok_or(PricingError::Overflow);
        Ok(PriceRule { input_per_1k: scale(self.input_per_1k)?, output_per_1k: scale(self.output_per_1k)?, ..self.clone() })
    }
}

/// The rule in force for `model` at `at`: its latest version with
/// `effective_from <= at`, falling back to the default rule. A withdrawn
/// (inactive) latest version counts as no rule.
pub fn rule_at<'a>(rules: &'a [PriceRule], model: &str, at: Timestamp) -> Result<&'a PriceRule, PricingError> {
    let latest = |name: &str| {
        rules
            .iter()
            .filter(|r| r.model == name && r.effective_from <= at)
            .max_by_key(|r| (r.effective_from, r.version))
            .filter(|r| r.active)
    };
    latest(model).or_else(|| latest(DEFAULT_RULE)).ok_or_else(|| PricingError::UnknownModel(model.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(model: &str, version: i64, input: &str, output: &str, from: Timestamp, active: bool) -> PriceRule {
        PriceRule {
            model: model.into(),
            version,
            input_per_1k: Price::parse(input, Asset::POINTS).unwrap_or_default(),
            output_per_1k: Price::parse(output, Asset::POINTS).unwrap_or_default(),
            effective_from: from,
            active,
        }
    }

    #[test]
    fn seed_example_and_ceiling() {
        let gpt4 = rule("gpt-4", 1, "30", "60", 0, true);
        // 1500 × 30/1000 + 800 × 60/1000 = 45 + 48
        assert_eq!(gpt4.cost(TokenUsage { input: 1500, output: 800 }), Ok(Amount::new(93)));
        // 1 token at 30 per 1k is 0.03 points: rounds up to 1, once.
        assert_eq!(gpt4.cost(TokenUsage { input: 1, output: 0 }), Ok(Amount::new(1)));
        assert_eq!(gpt4.cost(TokenUsage { input: 0, output: 0 }), Ok(Amount::ZERO));
        let fine = rule("tiny", 1, "0.0015", "0.000001", 0, true);
        assert_eq!(fine.cost(TokenUsage { input: 1_000_000, output: 1_000_000 }), Ok(Amount::new(2)));
    }

    #[test]
    fn versions_and_default() {
        let rules = vec![
            rule("m", 1, "1", "1", 0, true),
            rule("m", 2, "2", "2", 100, true),
            rule("m", 3, "0", "0", 200, false),
            rule("*", 1, "9", "9", 0, true),
        ];
        assert_eq!(rule_at(&rules, "m", 50).map(|r| r.version), Ok(1));
        assert_eq!(rule_at(&rules, "m", 150).map(|r| r.version), Ok(2));
        assert_eq!(rule_at(&rules, "m", 250).map(|r| r.model.as_str()), Ok("*"));
        assert_eq!(rule_at(&rules, "other", 0).map(|r| r.model.as_str()), Ok("*"));
        assert_eq!(rule_at(&rules[..3], "other", 0), Err(PricingError::UnknownModel("other".into())));
    }

    #[test]
    fn a_converted_rule_costs_exactly_the_rate_times_more() {
        let points = rule("m", 1, "3", "5", 0, true);
        let shannons = points.converted(100_000).expect("no overflow");
        let usage = TokenUsage { input: 1_000, output: 2_000 };
        assert_eq!(points.cost(usage), Ok(Amount::new(13)));
        assert_eq!(shannons.cost(usage), Ok(Amount::new(1_300_000)));
        // 1 output token at 5 points per 1k: 0.005 points, 500 shannons.
        assert_eq!(shannons.cost(TokenUsage { input: 0, output: 1 }), Ok(Amount::new(500)));
        let huge = PriceRule { input_per_1k: Price(u128::MAX / 2), ..points };
        assert_eq!(huge.converted(3), Err(PricingError::Overflow));
    }

    #[test]
    fn huge_usage_overflows_cleanly() {
        let r = PriceRule { input_per_1k: Price(u128::MAX), ..rule("m", 1, "1", "1", 0, true) };
        assert_eq!(r.cost(TokenUsage { input: 2, output: 0 }), Err(PricingError::Overflow));
    }
}
