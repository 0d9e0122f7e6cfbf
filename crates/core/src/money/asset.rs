use super::{format_decimal, parse_decimal, Amount, MoneyError};

/// An asset with a fixed number of decimal places. Amounts of it are
/// integers in its minor unit (`10^-scale` of one whole unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Asset {
    /// Stable code used in storage and APIs.
    pub code: &'static str,
    /// Decimal places of one whole unit.
    pub scale: u8,
}

impl Asset {
    /// Prepaid points. Whole points only: prices may be finer (see
    /// `pricing`), but every charge rounds up to a whole point.
    pub const POINTS: Asset = Asset { code: "POINTS", scale: 0 };
    /// CKB, counted in shannons (10^-8 CKB).
    pub const CKB: Asset = Asset { code: "CKB", scale: 8 };
    /// BEP-20 USDT on BNB Smart Chain (18 decimals there).
    pub const USDT_BSC: Asset = Asset { code: "USDT-BSC", scale: 18 };
    /// BEP-20 USDC on BNB Smart Chain (18 decimals there).
    pub const USDC_BSC: Asset = Asset { code: "USDC-BSC", scale: 18 };

    /// Every asset Tollway knows.
    pub const ALL: [Asset; 4] = [Asset::POINTS, Asset::CKB, Asset::USDT_BSC, Asset::USDC_BSC];

    /// Looks an asset up by its code.
    pub fn from_code(code: &str) -> Result<Asset, MoneyError> {
        Asset::ALL
            .into_iter()
            .find(|a| a.code == code)
            .ok_or_else(|| MoneyError::UnknownAsset(code.to_owned()))
    }

    /// Parses a decimal string of whole units ("1.5") into minor units.
    pub fn parse(self, text: &str) -> Result<Amount, MoneyError> {
        parse_decimal(text, self.scale).map(Amount::new)
    }

    /// Formats minor units as a decimal string of whole units.
    pub fn format(self, amount: Amount) -> String {
        format_decimal(amount.units(), self.scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ckb_and_bep20_scales() {
        assert_eq!(Asset::CKB.parse("61"), Ok(Amount::new(6_100_000_000)));
        assert_eq!(Asset::CKB.format(Amount::new(6_100_000_001)), "61.00000001");
        assert_eq!(Asset::USDT_BSC.parse("0.000000000000000001"), Ok(Amount::new(1)));
        assert!(Asset::CKB.parse("0.000000001").is_err());
        assert_eq!(Asset::from_code("CKB"), Ok(Asset::CKB));
        assert!(Asset::from_code("DOGE").is_err());
    }
}
