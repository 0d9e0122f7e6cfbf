//! The hub's configured parties, read once at start: the platform, the
//! gateway and the split rules by receiver, every address parsed and every
//! rule validated, so a bad configuration stops the server instead of a
//! payment.

use super::config::HubConfig;
use std::collections::HashMap;
use tollway_core::ckb::hub::{SplitParty, SplitRule};
use tollway_core::ckb::{parse_sighash, AddressNetwork, SighashArgs};

/// Who the hub pays besides receivers, and how.
#[derive(Debug, Clone)]
pub struct HubRules {
    /// The network addresses are written for.
    pub network: AddressNetwork,
    /// The hub's own key's lock args.
    pub hub: SighashArgs,
    /// Where the fees go.
    pub platform: SighashArgs,
    /// Payments to it top up points.
    pub gateway: SighashArgs,
    default_rule: SplitRule,
    by_receiver: HashMap<SighashArgs, SplitRule>,
}

/// A configuration the hub cannot run with.
#[derive(Debug, thiserror::Error)]
#[error("hub configuration: {0}")]
pub struct RulesError(pub String);

impl HubRules {
    /// Reads `config` for the hub key `hub`.
    pub fn from_config(config: &HubConfig, hub: SighashArgs) -> Result<HubRules, RulesError> {
        let network = match config.address_prefix.as_str() {
            "ckb" => AddressNetwork::Mainnet,
            "ckt" => AddressNetwork::Testnet,
            other => return Err(RulesError(format!("address_prefix must be ckb or ckt, not {other:?}"))),
        };
        let parse = |what: &str, text: &str| parse_sighash(text, network).map_err(|e| RulesError(format!("{what} {text:?}: {e}")));
        let platform = config.platform_address.as_deref().map(|a| parse("platform_address", a)).transpose()?.unwrap_or(hub);
        let gateway = config.gateway_address.as_deref().map(|a| parse("gateway_address", a)).transpose()?.unwrap_or(platform);
        if config.pool_cell_capacity < tollway_core::ckb::PLAIN_CELL {
            return Err(RulesError("pool_cell_capacity must be at least 61 CKB".into()));
        }
        let default_rule = SplitRule { fee_bps: config.fee_bps, parties: Vec::new() };
        default_rule.validate(gateway, platform).map_err(|e| RulesError(format!("fee_bps: {e}")))?;
        let mut by_receiver = HashMap::new();
        for split in &config.splits {
            let receiver = parse("split receiver", &split.receiver)?;
            let parties = split
                .parties
                .iter()
                .map(|p| Ok(SplitParty { party: parse("split party", &p.address)?, bps: p.bps }))
                .collect::<Result<Vec<_>, RulesError>>()?;
            let rule = SplitRule { fee_bps: split.fee_bps.unwrap_or(config.fee_bps), parties };
            rule.validate(receiver, platform).map_err(|e| RulesError(format!("split for {}: {e}", split.receiver)))?;
            if by_receiver.insert(receiver, rule).is_some() {
                return Err(RulesError(format!("two split rules for {}", split.receiver)));
            }
        }
        Ok(HubRules { network, hub, platform, gateway, default_rule, by_receiver })
    }

    /// The rule for payments to `receiver`.
    pub fn rule_for(&self, receiver: &SighashArgs) -> &SplitRule {
        self.by_receiver.get(receiver).unwrap_or(&self.default_rule)
    }

    /// `args` written as an address of this network.
    pub fn address(&self, args: &SighashArgs) -> String {
        args.address(self.network)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::config::{SplitConfig, SplitPartyConfig};

    fn who(n: u8) -> SighashArgs {
        SighashArgs([n; 20])
    }

    #[test]
    fn rules_default_to_the_hub_and_refuse_bad_configurations() {
        let config = HubConfig::default();
        let rules = HubRules::from_config(&config, who(1)).expect("defaults");
        assert_eq!((rules.platform, rules.gateway), (who(1), who(1)));
        assert_eq!(rules.rule_for(&who(5)).fee_bps, 100);
        let split = |receiver: SighashArgs, bps: u32| SplitConfig {
            receiver: receiver.address(AddressNetwork::Testnet),
            fee_bps: Some(50),
            parties: vec![SplitPartyConfig { address: who(7).to_hex(), bps }],
        };
        let with = HubConfig { splits: vec![split(who(5), 2_000)], ..HubConfig::default() };
        let rules = HubRules::from_config(&with, who(1)).expect("a split");
        assert_eq!(rules.rule_for(&who(5)).parties, vec![SplitParty { party: who(7), bps: 2_000 }]);
        assert_eq!(rules.rule_for(&who(6)).parties, vec![]);
        let refused = |config: HubConfig| HubRules::from_config(&config, who(1)).expect_err("refused").to_string();
        assert!(refused(HubConfig { splits: vec![split(who(5), 9_951)], ..HubConfig::default() }).contains("10,000"));
        assert!(refused(HubConfig { splits: vec![split(who(5), 1), split(who(5), 2)], ..HubConfig::default() }).contains("two split rules"));
        assert!(refused(HubConfig { fee_bps: 10_001, ..HubConfig::default() }).contains("fee_bps"));
        let mainnet = who(5).address(AddressNetwork::Mainnet);
        assert!(refused(HubConfig { gateway_address: Some(mainnet), ..HubConfig::default() }).contains("gateway_address"));
        assert!(refused(HubConfig { address_prefix: "btc".into(), ..HubConfig::default() }).contains("address_prefix"));
        assert!(refused(HubConfig { pool_cell_capacity: 60 * tollway_core::ckb::CKB, ..HubConfig::default() }).contains("61 CKB"));
    }
}
