//! Configuration: built-in defaults, then an optional TOML file, then
//! `TOLLWAY_*` environment variables (highest priority).

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Everything the server reads at start-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// `host:port` to listen on (`TOLLWAY_LISTEN`).
    pub listen: String,
    /// `sqlite://PATH` or `postgres://…` (`TOLLWAY_DATABASE_URL`).
    pub database_url: String,
    /// Log as JSON lines (`TOLLWAY_LOG_JSON`).
    pub log_json: bool,
    /// Largest accepted request body on every route, bytes (413
    /// `body_too_large` above it).
    pub max_body_bytes: usize,
    /// A bearer token that may read `/metrics` besides admin keys
    /// (`TOLLWAY_METRICS_TOKEN`; unset: admin keys only).
    #[serde(default)]
    pub metrics_token: Option<String>,
    /// How far a webhook timestamp may be from now, seconds.
    pub webhook_tolerance_secs: i64,
    /// Default reservation lifetime, seconds.
    pub reservation_ttl_secs: u32,
    /// How often expired holds are released, seconds.
    pub expiry_sweep_secs: u64,
    /// The embedded model's GGUF file; the gateway's `/v1` answers 503
    /// `model_unavailable` when it is missing.
    pub model_path: String,
    /// The name clients use for the embedded model.
    pub model_name: String,
    /// Output tokens paid ahead: the hold grows by this many at a time.
    pub billing_window_tokens: u64,
    /// Seconds a gateway hold lives if its request never resolves it
    /// (each extension is a new hold with a new timeout).
    pub gateway_hold_secs: u32,
    /// Generations that may wait for the model before 503 `engine_busy`.
    pub engine_queue: usize,
    /// OpenAI-compatible upstreams (`[[upstreams]]` tables in the file, or
    /// `TOLLWAY_UPSTREAMS` as a TOML array of inline tables).
    pub upstreams: Vec<UpstreamConfig>,
    /// Payment channels on the ledger rail (docs/channels.md).
    #[serde(default)]
    pub channels: ChannelConfig,
    /// The CKB rail (Spilman channels): off unless `ckb.rpc_url` is set.
    #[serde(default)]
    pub ckb: CkbConfig,
    /// The CKB hub (docs/hub.md): off unless `hub.secret` is set and the
    /// CKB rail is on.
    #[serde(default)]
    pub hub: crate::hub::HubConfig,
    /// Wallet login.
    #[serde(default)]
    pub auth: AuthConfig,
    /// The stablecoin checkout (docs/stablecoin.md).
    #[serde(default)]
    pub evm: crate::evm::EvmConfig,
    /// Start (or reuse) a local anvil with the three tokens and turn the
    /// checkout on for it (`TOLLWAY_EVM_DEVNET=1`).
    #[serde(default, deserialize_with = "flag")]
    pub evm_devnet: bool,
    /// The built browser app (`web/dist`), served at `/` when it exists.
    #[serde(default = "default_web_dir")]
    pub web_dir: String,
}

/// An OpenAI-compatible endpoint Tollway forwards to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamConfig {
    /// Its name in usage records.
    pub name: String,
    /// Base URL up to and including `/v1`.
    pub base_url: String,
    /// Bearer key sent upstream, if any.
    #[serde(default)]
    pub api_key: Option<String>,
    /// Model names clients use, each mapped to the upstream's own name.
    pub models: std::collections::BTreeMap<String, String>,
    /// Longest wait for the next piece of an answer, seconds.
    #[serde(default = "default_idle_secs")]
    pub idle_timeout_secs: u64,
}

/// Wallet login (docs/web.md, "Wallet login").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// The site challenges name (the public origin the browser app is
    /// served from); `None`: `http://` + `listen`.
    pub public_url: Option<String>,
    /// How long a login challenge may be answered.
    pub challenge_secs: u64,
    /// How long a wallet login's session key lasts.
    pub session_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig { public_url: None, challenge_secs: 300, session_secs: 12 * 3_600 }
    }
}

/// Payment channels on the ledger rail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelConfig {
    /// The chain id receipts of this ledger carry.
    pub chain_id: u64,
    /// W: output tokens a stream may run ahead of what is paid.
    pub window_tokens: u64,
    /// How long a paused stream waits for a receipt.
    pub pay_timeout_secs: u64,
    /// How long a whole answer is held for its payment (and kept for the
    /// same request to fetch again).
    pub held_answer_secs: u64,
    /// How often accepted receipts are claimed.
    pub claim_interval_secs: u64,
    /// A channel owing at least this much unclaimed is claimed at once.
    pub claim_threshold: tollway_core::Amount,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            chain_id: 0x0074_6f6c_6c77_6179,
            window_tokens: 16,
            pay_timeout_secs: 30,
            held_answer_secs: 600,
            claim_interval_secs: 60,
            claim_threshold: tollway_core::Amount::new(100_000),
        }
    }
}

/// The CKB rail: Spilman channels paid per chunk (docs/ckb.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CkbConfig {
    /// The node's JSON-RPC URL (with the `Indexer` module); `None` turns
    /// the rail off.
    pub rpc_url: Option<String>,
    /// The seller's secret key, `0x` + 64 hex digits: it co-funds, signs
    /// refunds and settlements, and is paid.
    pub seller_secret: Option<String>,
    /// The chain id receipts of CKB channels carry.
    pub chain_id: u64,
    /// What the seller puts in each channel cell, shannons (at least 61 CKB).
    pub cofund: u64,
    /// Fee rate of the seller's transactions, shannons per 1,000 bytes.
    pub fee_rate: u64,
    /// Shannons a CKB channel pays per point of the model's price.
    pub shannons_per_point: u64,
    /// The chain's expected seconds per block: durations become block
    /// numbers with it.
    pub block_interval_secs: u64,
    /// Channels expiring within this many seconds are settled by the job.
    pub settle_margin_secs: u64,
    /// Shortest and longest channel life a buyer may ask for, seconds.
    pub min_duration_secs: u64,
    /// See `min_duration_secs`.
    pub max_duration_secs: u64,
    /// An offer whose funding is not sent within this is abandoned.
    pub offer_ttl_secs: u64,
    /// How often the jobs look at the chain, seconds.
    pub job_interval_secs: u64,
    /// Blocks a funding (or the reclaim of a given-up offer) must have,
    /// its own included, before the channel is active (or abandoned);
    /// 0 and 1 both mean the block that commits it.
    pub funding_confirmations: u64,
}

impl Default for CkbConfig {
    fn default() -> Self {
        CkbConfig {
            rpc_url: None,
            seller_secret: None,
            chain_id: 0x0000_0000_0063_6b62,
            cofund: 61 * tollway_core::ckb::CKB,
            fee_rate: tollway_core::ckb::MIN_FEE_RATE,
            shannons_per_point: 100_000,
            block_interval_secs: 8,
            settle_margin_secs: 900,
            min_duration_secs: 1_800,
            max_duration_secs: 30 * 86_400,
            offer_ttl_secs: 600,
            job_interval_secs: 5,
            funding_confirmations: 10,
        }
    }
}

/// A switch given as `true`/`false`, `1`/`0` or `"yes"`/`"no"` (an
/// environment variable arrives as a number or a string).
fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Number(i64),
        Text(String),
    }
    match Flag::deserialize(d)? {
        Flag::Bool(b) => Ok(b),
        Flag::Number(n) => Ok(n != 0),
        Flag::Text(t) => match t.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" | "" => Ok(false),
            other => Err(serde::de::Error::custom(format!("expected a switch (1/0, true/false), got {other:?}"))),
        },
    }
}

fn default_web_dir() -> String {
    "web/dist".into()
}

fn default_idle_secs() -> u64 {
    120
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            database_url: "sqlite://data/tollway.db".into(),
            log_json: false,
            max_body_bytes: 64 * 1024,
            metrics_token: None,
            webhook_tolerance_secs: 300,
            reservation_ttl_secs: 600,
            expiry_sweep_secs: 5,
            model_path: "data/models/SmolLM2-135M-Instruct.Q4_1.gguf".into(),
            model_name: "smollm2-135m-instruct".into(),
            billing_window_tokens: 16,
            gateway_hold_secs: 300,
            engine_queue: 32,
            upstreams: Vec::new(),
            channels: ChannelConfig::default(),
            auth: AuthConfig::default(),
            web_dir: default_web_dir(),
            ckb: CkbConfig::default(),
            hub: crate::hub::HubConfig::default(),
            evm: crate::evm::EvmConfig::default(),
            evm_devnet: false,
        }
    }
}

impl Config {
    /// Defaults, overridden by `file` if given (it must exist), then by
    /// `TOLLWAY_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Config, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment.merge(Env::prefixed("TOLLWAY_")).extract().map_err(Box::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_overrides_defaults_and_env_overrides_file() {
        let path = std::env::temp_dir().join(format!("tollway-config-{}.toml", std::process::id()));
        std::fs::write(&path, "listen = \"0.0.0.0:1\"\nmax_body_bytes = 1234\n").expect("write config");
        std::env::set_var("TOLLWAY_LISTEN", "127.0.0.1:9999");
        let config = Config::load(Some(&path)).expect("load");
        std::env::remove_var("TOLLWAY_LISTEN");
        assert_eq!(config.listen, "127.0.0.1:9999");
        assert_eq!(config.max_body_bytes, 1234);
        assert_eq!(config.webhook_tolerance_secs, Config::default().webhook_tolerance_secs);
        std::fs::write(&path, "max_body_bytes = \"lots\"\n").expect("write config");
        assert!(Config::load(Some(&path)).is_err(), "a bad value must be refused");
        assert!(Config::load(Some(Path::new("/nonexistent/tollway.toml"))).is_err(), "a missing file must be refused");
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn the_devnet_switch_takes_numbers_and_words() {
        for (text, expected) in [("1", true), ("0", false), ("true", true), ("\"yes\"", true), ("\"off\"", false)] {
            let path = std::env::temp_dir().join(format!("tollway-flag-{}-{expected}-{}.toml", std::process::id(), text.len()));
            std::fs::write(&path, format!("evm_devnet = {text}\n")).expect("write config");
            let config = Config::load(Some(&path)).expect("load");
            std::fs::remove_file(&path).ok();
            assert_eq!(config.evm_devnet, expected, "{text}");
        }
        let path = std::env::temp_dir().join(format!("tollway-flag-bad-{}.toml", std::process::id()));
        std::fs::write(&path, "evm_devnet = \"maybe\"\n").expect("write config");
        assert!(Config::load(Some(&path)).is_err());
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn upstreams_come_from_toml_tables() {
        let path = std::env::temp_dir().join(format!("tollway-upstreams-{}.toml", std::process::id()));
        let file = "[[upstreams]]\nname = \"b\"\nbase_url = \"http://127.0.0.1:9/v1\"\nmodels = { remote = \"local-name\" }\n";
        std::fs::write(&path, file).expect("write config");
        let config = Config::load(Some(&path)).expect("load");
        let _ = std::fs::remove_file(path);
        assert_eq!(config.upstreams.len(), 1);
        let u = &config.upstreams[0];
        assert_eq!((u.name.as_str(), u.api_key.as_deref(), u.idle_timeout_secs), ("b", None, 120));
        assert_eq!(u.models.get("remote").map(String::as_str), Some("local-name"));
        std::env::set_var("TOLLWAY_UPSTREAMS", "[{name = \"e\", base_url = \"http://x/v1\", api_key = \"k\", models = {m = \"n\"}}]");
        let config = Config::load(None);
        std::env::remove_var("TOLLWAY_UPSTREAMS");
        let config = config.expect("upstreams from the environment");
        assert_eq!(config.upstreams.len(), 1);
        assert_eq!((config.upstreams[0].name.as_str(), config.upstreams[0].api_key.as_deref()), ("e", Some("k")));
        assert_eq!(config.upstreams[0].models.get("m").map(String::as_str), Some("n"));
    }
}
