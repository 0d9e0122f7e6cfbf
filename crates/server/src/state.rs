//! Shared state of the running server.

use crate::channels::Channels;
use crate::gateway::route::Models;
use crate::gateway::KeyLimiter;
use crate::metrics::Metrics;
use crate::{ApiError, Config};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;
use tollway_core::pricing::{rule_at, PriceRule, PricingError};
use tollway_store::{LedgerWriter, ReceiptWriter, Store};

/// How long a process trusts its cached price rules. Changes made through
/// this process apply at once; another process sees them within this time.
const PRICE_CACHE_TTL: Duration = Duration::from_secs(1);

/// Price rules and when they were read.
type PriceCache = Arc<RwLock<Option<(Instant, Arc<Vec<PriceRule>>)>>>;

/// Everything handlers need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Storage.
    pub store: Store,
    /// The group-commit ledger writer.
    pub writer: LedgerWriter,
    /// Configuration.
    pub config: Arc<Config>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Model names and the upstreams serving them.
    pub models: Arc<Models>,
    /// Per-key request and token rate limits.
    pub limiter: Arc<KeyLimiter>,
    /// Payment channels (the payee's side).
    pub channels: Arc<Channels>,
    /// The CKB rail, when configured.
    pub ckb: Option<Arc<crate::ckb::Ckb>>,
    /// The stablecoin checkout, when configured.
    pub evm: Option<Arc<crate::evm::Evm>>,
    /// The CKB hub, when configured.
    pub hub: Option<Arc<crate::hub::Hub>>,
    prices: PriceCache,
}

impl AppState {
    /// State over a connected store, its ledger writer and its receipt
    /// writer.
    pub fn new(store: Store, writer: LedgerWriter, receipts: ReceiptWriter, config: Config, models: Models) -> Self {
        AppState {
            channels: Arc::new(Channels::new(store.clone(), receipts)),
            store,
            writer,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::new()),
            models: Arc::new(models),
            limiter: Arc::new(KeyLimiter::default()),
            ckb: None,
            evm: None,
            hub: None,
            prices: Arc::new(RwLock::new(None)),
        }
    }

    /// The state with the CKB rail on.
    pub fn with_ckb(mut self, ckb: Option<crate::ckb::Ckb>) -> Self {
        self.ckb = ckb.map(Arc::new);
        self
    }

    /// The state with the stablecoin checkout on.
    pub fn with_evm(mut self, evm: Option<crate::evm::Evm>) -> Self {
        self.evm = evm.map(Arc::new);
        self
    }

    /// The state with the CKB hub on.
    pub fn with_hub(mut self, hub: Option<crate::hub::Hub>) -> Self {
        self.hub = hub.map(Arc::new);
        self
    }

    /// The CKB hub, or `hub_disabled`.
    pub fn hub(&self) -> Result<&crate::hub::Hub, crate::hub::HubError> {
        self.hub.as_deref().ok_or(crate::hub::HubError::Disabled)
    }

    /// The stablecoin checkout, or 503 `checkout_disabled`.
    pub fn evm(&self) -> Result<&Arc<crate::evm::Evm>, ApiError> {
        self.evm.as_ref().ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "checkout_disabled",
                "the stablecoin checkout is off: configure [evm] networks or start with TOLLWAY_EVM_DEVNET=1",
            )
        })
    }

    /// The CKB rail, or `ckb_disabled`.
    pub fn ckb(&self) -> Result<&crate::ckb::Ckb, crate::ckb::CkbError> {
        self.ckb.as_deref().ok_or(crate::ckb::CkbError::Disabled)
    }

    /// All price rule versions, cached briefly.
    pub async fn price_rules(&self) -> Result<Arc<Vec<PriceRule>>, ApiError> {
        if let Some((at, rules)) = self.prices.read().await.as_ref() {
            if at.elapsed() < PRICE_CACHE_TTL {
                return Ok(rules.clone());
            }
        }
        let rules: Vec<PriceRule> = self.store.price_rules().await?.into_iter().map(|r| r.rule).collect();
        let rules = Arc::new(rules);
        *self.prices.write().await = Some((Instant::now(), rules.clone()));
        Ok(rules)
    }

    /// Forgets cached prices (after a change through this process).
    pub async fn invalidate_prices(&self) {
        *self.prices.write().await = None;
    }

    /// The rule pricing `model` now, or `unknown_model`. Names match
    /// case-insensitively (`GPT-4` finds `gpt-4`): an exact match first,
    /// else the rule whose name differs only in case (the store refuses a
    /// second spelling, so there is at most one; in a database priced
    /// before that rule, the first in byte order).
    pub async fn rule_for(&self, model: &str) -> Result<PriceRule, ApiError> {
        let rules = self.price_rules().await?;
        rule_at(&rules, priced_name(&rules, model), tollway_store::now_ms()).cloned().map_err(|e| match e {
            PricingError::UnknownModel(_) => ApiError::unprocessable("unknown_model", e.to_string()),
            PricingError::Overflow => ApiError::unprocessable("amount_overflow", e.to_string()),
        })
    }
}

/// The spelling under which `model` is priced: itself when a rule has
/// exactly that name, else the first rule name equal to it ignoring ASCII
/// case, else itself.
fn priced_name<'a>(rules: &'a [PriceRule], model: &'a str) -> &'a str {
    if rules.iter().any(|r| r.model == model) {
        return model;
    }
    tollway_store::prices::other_spelling(rules.iter().map(|r| r.model.as_str()), model).unwrap_or(model)
}
