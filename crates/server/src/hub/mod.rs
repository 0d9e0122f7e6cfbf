//! The CKB hub (seed 002, docs/hub.md): payments of any amount, even below
//! the 61 CKB cell minimum, through 2-in-2-out transactions with the
//! hub's pool cells; split by the configured rules once committed, paid
//! out on chain once a party's balance is above the threshold. Every move
//! is stored (compare-and-set) before the transaction it leads to is sent.

pub mod config;
mod errors;
pub mod jobs;
mod pay;
mod pool;
mod refusals;
pub mod rules;

pub use config::HubConfig;
pub use errors::HubError;
pub use pay::PrepareInput;

use rules::HubRules;
use tollway_chain::ckb::{LockScripts, Rpc};
use tollway_core::channel::{KeyId, PayerKey};
use tollway_core::ckb::SighashArgs;
use tollway_store::Store;

/// The hub of a running server.
pub struct Hub {
    rpc: Rpc,
    scripts: LockScripts,
    key: PayerKey,
    rules: HubRules,
    config: HubConfig,
    fee_rate: u64,
    shannons_per_point: u64,
    store: Store,
}

/// Why the hub could not start.
#[derive(Debug, thiserror::Error)]
pub enum HubStartError {
    /// `hub.secret` is not a key.
    #[error("hub.secret must be 0x + 64 hex digits of a valid secp256k1 secret key")]
    Key,
    /// The hub's key is the seller's.
    #[error("hub.secret must not be the CKB seller's key: the pool and the co-funding would pick the same cells")]
    SellerKey,
    /// A bad rule or address.
    #[error(transparent)]
    Rules(#[from] rules::RulesError),
    /// The node could not be reached.
    #[error("the CKB node at {url}: {source}")]
    Node {
        /// Its URL.
        url: String,
        /// The cause.
        source: tollway_chain::ckb::ChainError,
    },
}

/// What the hub takes from the CKB rail's settings (`[ckb]`).
#[derive(Debug, Clone)]
pub struct RailSettings {
    /// The node (`ckb.rpc_url`); `None`: the rail, and so the hub, is off.
    pub rpc_url: Option<String>,
    /// The seller's secret (`ckb.seller_secret`): the hub's key must differ.
    pub seller_secret: Option<String>,
    /// Fee rate, shannons per 1,000 bytes (`ckb.fee_rate`).
    pub fee_rate: u64,
    /// Shannons per point (`ckb.shannons_per_point`).
    pub shannons_per_point: u64,
}

impl Hub {
    /// The hub of `config` on the CKB rail's node; `None` when either is off.
    pub async fn connect(ckb: &RailSettings, config: &HubConfig, store: Store) -> Result<Option<Hub>, HubStartError> {
        let (Some(url), Some(secret)) = (ckb.rpc_url.clone(), config.secret.as_deref()) else { return Ok(None) };
        let key = PayerKey::from_hex(secret).map_err(|_| HubStartError::Key)?;
        if ckb.seller_secret.as_deref().and_then(|s| PayerKey::from_hex(s).ok()).is_some_and(|seller| seller.public() == key.public()) {
            return Err(HubStartError::SellerKey);
        }
        let args = SighashArgs(KeyId::of(&key.public()).0);
        let rules = HubRules::from_config(config, args)?;
        let rpc = Rpc::new(url.clone());
        let scripts = rpc.lock_scripts().await.map_err(|source| HubStartError::Node { url, source })?;
        Ok(Some(Hub { rpc, scripts, key, rules, config: config.clone(), fee_rate: ckb.fee_rate, shannons_per_point: ckb.shannons_per_point, store }))
    }

    /// The hub's key's lock args.
    pub fn args(&self) -> SighashArgs {
        self.rules.hub
    }

    /// Parties, addresses and rules.
    pub fn rules(&self) -> &HubRules {
        &self.rules
    }

    /// The settings.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// The fee rate of every hub transaction, shannons per 1,000 bytes.
    pub fn fee_rate(&self) -> u64 {
        self.fee_rate
    }

    /// Shannons per point bought at the gateway.
    pub fn shannons_per_point(&self) -> u64 {
        self.shannons_per_point
    }

    /// The node.
    pub fn rpc(&self) -> &Rpc {
        &self.rpc
    }

    fn hub_lock(&self) -> ckb_types::packed::Script {
        self.scripts.sighash.script(&self.rules.hub.0)
    }
}
