//! The hub's settings (`[hub]`, docs/hub.md). The hub runs on the CKB
//! rail's node (`ckb.rpc_url`) with a key of its own.

use serde::{Deserialize, Serialize};
use tollway_core::ckb::CKB;

/// The hub: off unless `hub.secret` is set and the CKB rail is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HubConfig {
    /// The hub's secret key, `0x` + 64 hex digits: it owns the pool cells,
    /// signs its half of every payment and the payouts. Never the seller's.
    pub secret: Option<String>,
    /// Cells the pool is made of (`tollway hub init-pool` and the
    /// rebalancer aim for this many free cells; 0: no automatic upkeep).
    pub pool_cells: u32,
    /// Each pool cell's capacity when made, shannons (the seed's
    /// `min_withdrawal_amount`; at least 61 CKB).
    pub pool_cell_capacity: u64,
    /// Make the pool on start when the hub has no pool cell yet (`make
    /// run`'s devnet turns it on).
    pub init_pool: bool,
    /// A party is paid out once its unpaid balance is above this, shannons.
    pub payout_threshold: u64,
    /// Parties one payout transaction pays at most.
    pub payout_max_outputs: u32,
    /// The platform's fee on every payment, basis points (a receiver's
    /// rule may set its own).
    pub fee_bps: u32,
    /// Where the platform's fees go (an address or `0x` lock args); unset:
    /// the hub's own key, whose balance stays in the pool (never paid out).
    pub platform_address: Option<String>,
    /// Payments to this receiver top up the paying user's points; unset:
    /// the platform's address.
    pub gateway_address: Option<String>,
    /// Split rules by receiver.
    pub splits: Vec<SplitConfig>,
    /// A prepared payment must be signed within this, seconds.
    pub prepare_ttl_secs: u64,
    /// Open (prepared or sent) payments one sender may have at once.
    pub max_open_per_sender: u32,
    /// Prepared payments one client (API key, else IP address) may hold at
    /// once: anyone may name any sender, so this is what keeps one client
    /// from leasing the whole pool.
    pub max_open_per_client: u32,
    /// Address prefix: `ckt` (testnet and devnet) or `ckb` (mainnet).
    pub address_prefix: String,
    /// How often the tracker looks at the chain, milliseconds.
    pub job_interval_ms: u64,
}

/// How payments to one receiver are split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitConfig {
    /// The receiver (address or `0x` lock args).
    pub receiver: String,
    /// The platform's fee for this receiver, basis points (default: `hub.fee_bps`).
    #[serde(default)]
    pub fee_bps: Option<u32>,
    /// The other parties and their shares.
    #[serde(default)]
    pub parties: Vec<SplitPartyConfig>,
}

/// One split party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitPartyConfig {
    /// Who (address or `0x` lock args).
    pub address: String,
    /// Its share, basis points of each payment.
    pub bps: u32,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            secret: None,
            pool_cells: 10,
            pool_cell_capacity: 100 * CKB,
            init_pool: false,
            payout_threshold: 65 * CKB,
            payout_max_outputs: 50,
            fee_bps: 100,
            platform_address: None,
            gateway_address: None,
            splits: Vec::new(),
            prepare_ttl_secs: 120,
            max_open_per_sender: 4,
            max_open_per_client: 16,
            address_prefix: "ckt".into(),
            job_interval_ms: 1_000,
        }
    }
}
