//! Per-request metering against the points ledger. One hold covers the
//! prompt and the output tokens allowed so far; each time the output reaches
//! the covered amount, the hold is replaced by a larger one (void + new hold,
//! one linked chain, so the balance can never be overspent by concurrent
//! streams). At the end the hold is posted for exactly what was delivered,
//! and the rest is released; on an upstream error it is voided.

use crate::{ApiError, AppState};
use tollway_core::ledger::{AccountId, Applied, Command, Links, Operation, Reason, TransferError, TransferId, TransferRequest};
use tollway_core::pricing::PriceRule;
use tollway_core::usage::TokenUsage;
use tollway_core::{Amount, Asset};
use tollway_store::Submission;

const P: Asset = Asset::POINTS;

/// A request's running account of what it may spend.
pub struct Meter {
    state: AppState,
    user_id: i64,
    rule: PriceRule,
    request_id: String,
    prompt_tokens: u64,
    window: u64,
    /// Output tokens the current hold covers.
    covered: u64,
    hold: TransferId,
    holds: u32,
}

/// What a settled request cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Points charged.
    pub cost: Amount,
    /// Balance right after.
    pub balance: Amount,
}

impl Meter {
    fn cost(&self, output: u64) -> Result<Amount, ApiError> {
        self.rule
            .cost(TokenUsage { input: self.prompt_tokens, output })
            .map_err(|e| ApiError::unprocessable("amount_overflow", e.to_string()))
    }

    fn links(&self) -> Links {
        Links {
            user_id: Some(self.user_id),
            model: Some(self.rule.model.clone()),
            request_id: Some(self.request_id.clone()),
            price_version: Some(self.rule.version),
            memo: None,
        }
    }

    fn hold_request(&self, id: TransferId, output: u64) -> Result<TransferRequest, ApiError> {
        Ok(TransferRequest {
            id,
            op: Operation::Hold {
                debit: AccountId::user_wallet(self.user_id, P),
                credit: AccountId::revenue(P),
                amount: self.cost(output)?,
                timeout_secs: 300,
            },
            reason: Reason::Reservation,
            links: self.links(),
        })
    }

    async fn submit(&self, chain: Vec<TransferRequest>) -> Result<Result<Vec<Applied>, TransferError>, ApiError> {
        let outcome = self.state.writer.submit(Submission { command: Command::Chain(chain), record: None }).await?;
        Ok(outcome.result.map_err(|e| e.error))
    }

    /// Holds the prompt plus a first window of output; 402 when the
    /// balance cannot cover it.
    pub async fn open(
        state: &AppState,
        user_id: i64,
        rule: PriceRule,
        request_id: String,
        prompt_tokens: u64,
        window: u64,
    ) -> Result<Meter, ApiError> {
        let meter = Meter {
            state: state.clone(),
            user_id,
            rule,
            hold: TransferId(format!("{request_id}:h1")),
            request_id,
            prompt_tokens,
            window,
            covered: window,
            holds: 1,
        };
        let first = meter.hold_request(meter.hold.clone(), window)?;
        match meter.submit(vec![first]).await? {
            Ok(_) => Ok(meter),
            Err(TransferError::ExceedsCredits) => {
                let needed = meter.cost(window)?;
                Err(ApiError::new(
                    axum::http::StatusCode::PAYMENT_REQUIRED,
                    "insufficient_points",
                    format!("this request needs {needed} points held (prompt plus {window} output tokens)"),
                ))
            }
            Err(e) => Err(ApiError::conflict(e.code(), e.to_string())),
        }
    }

    /// Makes sure `output` tokens are paid for, extending the hold by a
    /// window when needed, or by just what `output` needs when a window is
    /// more than the balance holds. False when even that cannot be covered.
    pub async fn cover(&mut self, output: u64) -> Result<bool, ApiError> {
        if output <= self.covered {
            return Ok(true);
        }
        let window = self.covered.saturating_add(self.window).max(output);
        if self.extend(window).await? {
            return Ok(true);
        }
        Ok(window > output && self.extend(output).await?)
    }

    /// Replaces the hold by one covering `target` output tokens.
    async fn extend(&mut self, target: u64) -> Result<bool, ApiError> {
        let next = TransferId(format!("{}:h{}", self.request_id, self.holds + 1));
        let void = TransferRequest {
            id: TransferId(format!("{}:release{}", self.request_id, self.holds)),
            op: Operation::Void { pending_id: self.hold.clone() },
            reason: Reason::Reservation,
            links: self.links(),
        };
        let grow = self.hold_request(next.clone(), target)?;
        match self.submit(vec![void, grow]).await? {
            Ok(_) => {
                self.hold = next;
                self.holds += 1;
                self.covered = target;
                Ok(true)
            }
            Err(TransferError::ExceedsCredits) => Ok(false),
            Err(e) => Err(ApiError::conflict(e.code(), e.to_string())),
        }
    }

    /// Posts exactly the cost of `delivered` output tokens (never more than
    /// is held) and releases the rest.
    pub async fn settle(self, delivered: u64) -> Result<Settled, ApiError> {
        let cost = self.cost(delivered.min(self.covered))?;
        let post = TransferRequest {
            id: TransferId(format!("{}:settle", self.request_id)),
            op: Operation::Post { pending_id: self.hold.clone(), amount: Some(cost) },
            reason: Reason::Charge,
            links: self.links(),
        };
        let outcome = self.state.writer.submit(Submission { command: Command::Chain(vec![post]), record: None }).await?;
        if let Err(e) = outcome.result {
            return Err(ApiError::conflict(e.error.code(), e.error.to_string()));
        }
        let wallet = AccountId::user_wallet(self.user_id, P);
        let balance = outcome.accounts.iter().find(|a| a.id == wallet).map(|a| a.balance());
        let balance = match balance {
            Some(b) => b,
            None => self.state.store.account(&wallet).await?.map(|a| a.balance()).unwrap_or_default(),
        };
        Ok(Settled { cost, balance })
    }

    /// Releases everything: nothing is charged (upstream failure).
    pub async fn void(self) -> Result<(), ApiError> {
        let void = TransferRequest {
            id: TransferId(format!("{}:void", self.request_id)),
            op: Operation::Void { pending_id: self.hold.clone() },
            reason: Reason::Reservation,
            links: self.links(),
        };
        self.submit(vec![void]).await?.map(|_| ()).map_err(|e| ApiError::conflict(e.code(), e.to_string()))
    }
}

/// Owns a meter while a handler may be dropped mid-request (the client went
/// away): if it was neither settled nor voided, the hold is released at once
/// instead of waiting for its timeout. Nothing was delivered, so nothing is
/// charged.
pub struct MeterGuard(Option<Meter>);

impl MeterGuard {
    /// Guards a meter.
    pub fn new(meter: Meter) -> Self {
        MeterGuard(Some(meter))
    }

    /// The meter, while guarded.
    pub fn meter(&mut self) -> Result<&mut Meter, ApiError> {
        self.0.as_mut().ok_or_else(|| ApiError::conflict("meter_closed", "the request's billing already ended"))
    }

    /// Takes the meter out to settle or void it.
    pub fn take(mut self) -> Result<Meter, ApiError> {
        self.0.take().ok_or_else(|| ApiError::conflict("meter_closed", "the request's billing already ended"))
    }
}

impl Drop for MeterGuard {
    fn drop(&mut self) {
        if let Some(meter) = self.0.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let request = meter.request_id.clone();
                    if let Err(e) = meter.void().await {
                        tracing::warn!(%request, error = %e.message, "could not release an abandoned hold; it expires");
                    }
                });
            }
        }
    }
}
