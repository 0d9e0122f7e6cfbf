//! Per-request metering against the points ledger. One hold covers the
//! prompt and the output tokens allowed so far; each time the output reaches
//! the covered amount, the hold is replaced by a larger one (void + new hold,
//! one linked chain, so the balance can never be overspent by concurrent
//! streams). Every hold is guarded: it is placed only if the user owes no
//! arrears, checked in the same step as the hold. At the end the hold is
//! posted for exactly the cost of the real usage, and the rest is released
//! (or, when the ledger cannot take it, charged later: [`super::late`]); on
//! an upstream error it is voided.
//!
//! A key with a spending cap has every one of these transfers mirrored on
//! its allowance account in the same chain, so the cap is as exact as the
//! balance.

use super::late::Settlement;
use crate::{ApiError, AppState};
use tollway_core::ledger::{AccountId, Applied, ChainError, Command, Links, Operation, Reason, TransferError, TransferId, TransferRequest};
use tollway_core::pricing::PriceRule;
use tollway_core::usage::TokenUsage;
use tollway_core::{Amount, Asset};
use tollway_store::requests::RequestRecord;
use tollway_store::{Record, Submission};

const P: Asset = Asset::POINTS;

/// The most the billing window grows: 8 × `billing_window_tokens`.
const MAX_WINDOW_GROWTH: u32 = 8;

/// What ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortage {
    /// The user's points.
    Balance,
    /// The API key's spending cap.
    KeyCap,
    /// The user owes arrears (booked by another request meanwhile).
    Arrears,
    /// A channel request's `max_amount`.
    MaxAmount,
    /// What the channel's collateral still covers.
    Collateral,
    /// A paused stream's payer did not pay in time.
    PaymentTimeout,
    /// The client went away while a stream waited for payment.
    Disconnected,
}

impl Shortage {
    /// The stable code clients see.
    pub fn code(self) -> &'static str {
        match self {
            Shortage::Balance => "insufficient_points",
            Shortage::KeyCap => "spend_cap_reached",
            Shortage::Arrears => "arrears_outstanding",
            Shortage::MaxAmount => "max_amount_reached",
            Shortage::Collateral => "collateral_exhausted",
            Shortage::PaymentTimeout => "payment_timeout",
            Shortage::Disconnected => "disconnected",
        }
    }
}

/// A request's running account of what it may spend.
pub struct Meter {
    state: AppState,
    user_id: i64,
    rule: PriceRule,
    request_id: String,
    prompt_tokens: u64,
    window: u64,
    /// Seconds each hold lives if it is never resolved.
    hold_secs: u32,
    /// The key's allowance account, when the key has a spending cap.
    allowance: Option<AccountId>,
    /// Output tokens the current hold covers.
    covered: u64,
    /// Points the current hold reserves.
    held: Amount,
    holds: u32,
    /// The next extension, started ahead while the current hold still
    /// covers what is being delivered.
    ahead: Option<Ahead>,
    /// An extension started ahead was refused: no more are started ahead.
    ahead_refused: bool,
}

/// An extension of the hold being committed in the background.
struct Ahead {
    covered: u64,
    amount: Amount,
    task: tokio::task::JoinHandle<Result<Result<(), Shortage>, ApiError>>,
}

/// What a settled request cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Points charged (or owed, while `balance` is `None`).
    pub cost: Amount,
    /// Balance right after; `None` when the ledger could not take the
    /// charge yet and it is retried in the background.
    pub balance: Option<Amount>,
    /// The real cost was more than could be held; `cost` is what was.
    pub capped: bool,
}

impl Meter {
    /// Holds the prompt plus a first window of output, or as much of the
    /// window as the balance (and the key's cap) affords; 402 when not even
    /// the prompt and one output token fit, or when the user owes arrears
    /// (checked in the same step as the hold).
    pub async fn open(state: &AppState, user_id: i64, allowance: Option<AccountId>, rule: PriceRule, request_id: String, prompt_tokens: u64, window: u64) -> Result<Meter, ApiError> {
        let mut meter = Meter {
            state: state.clone(),
            user_id,
            rule,
            request_id,
            prompt_tokens,
            window,
            hold_secs: state.config.gateway_hold_secs.max(1),
            allowance,
            covered: 0,
            held: Amount::ZERO,
            holds: 0,
            ahead: None,
            ahead_refused: false,
        };
        let mut tokens = window;
        loop {
            let amount = meter.cost(tokens)?;
            let shortage = match meter.submit(meter.holds_for(1, amount)).await? {
                Ok(_) => {
                    meter.grown(tokens, amount);
                    return Ok(meter);
                }
                Err(shortage) => shortage,
            };
            // Each try asks for fewer tokens than the last, so this ends.
            match meter.affordable(tokens, shortage).await? {
                Some(fewer) => tokens = fewer,
                None => return Err(meter.refusal(shortage).await),
            }
        }
    }

    /// The most output tokens below `below` that the wallet (and the key's
    /// cap) can hold with the prompt now; `None` when not even one, or
    /// when what ran out is not money.
    async fn affordable(&self, below: u64, shortage: Shortage) -> Result<Option<u64>, ApiError> {
        if shortage == Shortage::Arrears {
            return Ok(None);
        }
        let mut limit = self.available(&AccountId::user_wallet(self.user_id, P)).await?;
        if let Some(allowance) = &self.allowance {
            limit = limit.min(self.available(allowance).await?);
        }
        // The largest `fits` in 1..below with cost(fits) <= limit (cost
        // grows with the tokens); 0 when there is none.
        let (mut fits, mut over) = (0u64, below);
        while over - fits > 1 {
            let mid = fits + (over - fits) / 2;
            if self.cost(mid)? <= limit {
                fits = mid;
            } else {
                over = mid;
            }
        }
        Ok((fits > 0).then_some(fits))
    }

    async fn available(&self, account: &AccountId) -> Result<Amount, ApiError> {
        Ok(self.state.store.account(account).await?.map(|a| a.available()).unwrap_or_default())
    }

    /// The 402 for a first hold that was refused for `shortage`.
    async fn refusal(&self, shortage: Shortage) -> ApiError {
        let message = match shortage {
            Shortage::KeyCap => "this API key's spending cap leaves less than the prompt and one output token cost".to_owned(),
            Shortage::Arrears => {
                let arrears = AccountId::user_arrears(self.user_id, P);
                let owed = self.state.store.account(&arrears).await.ok().flatten().map(|a| a.owed()).unwrap_or_default();
                format!("{owed} points are owed; a grant repays them")
            }
            _ => match self.cost(1) {
                Ok(least) => format!("this request needs at least {least} points held (the prompt plus one output token)"),
                Err(e) => e.message,
            },
        };
        ApiError::new(axum::http::StatusCode::PAYMENT_REQUIRED, shortage.code(), message)
    }

    /// Cost of the prompt plus `output` tokens.
    pub fn cost(&self, output: u64) -> Result<Amount, ApiError> {
        self.cost_of(TokenUsage { input: self.prompt_tokens, output })
    }

    fn cost_of(&self, usage: TokenUsage) -> Result<Amount, ApiError> {
        self.rule.cost(usage).map_err(|e| ApiError::unprocessable("amount_overflow", e.to_string()))
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

    fn request(&self, id: TransferId, op: Operation, reason: Reason) -> TransferRequest {
        TransferRequest { id, op, reason, links: self.links() }
    }

    /// The request id, the base every transfer id of the request derives from.
    fn base(&self) -> TransferId {
        TransferId(self.request_id.clone())
    }

    fn hold_id(&self, n: u32) -> TransferId {
        self.base().derive(&format!("h{n}"))
    }

    /// Hold number `n` of `amount` on the wallet and, if capped, the allowance.
    fn holds_for(&self, n: u32, amount: Amount) -> Vec<TransferRequest> {
        let hold = |debit: AccountId, credit: AccountId| Operation::Hold { debit, credit, amount, timeout_secs: self.hold_secs };
        let id = self.hold_id(n);
        let mut chain = vec![self.request(id.clone(), hold(AccountId::user_wallet(self.user_id, P), AccountId::revenue(P)), Reason::Reservation)];
        if let Some(allowance) = &self.allowance {
            chain.push(self.request(id.derive("k"), hold(allowance.clone(), AccountId::key_caps(P)), Reason::Reservation));
        }
        chain
    }

    /// Resolves the current hold (and its mirror) with `op`, named `name`.
    fn resolve(&self, name: &str, op: impl Fn(TransferId) -> Operation, reason: Reason) -> Vec<TransferRequest> {
        let hold = self.hold_id(self.holds);
        let mut chain = vec![self.request(self.base().derive(name), op(hold.clone()), reason)];
        if self.allowance.is_some() {
            chain.push(self.request(self.base().derive(&format!("k{name}")), op(hold.derive("k")), reason));
        }
        chain
    }

    /// Submits a chain that holds, guarded: applied only while the user
    /// owes no arrears. `Err(shortage)` when a hold exceeded what its
    /// account allows or arrears are owed; any other refusal is an error.
    async fn submit(&self, chain: Vec<TransferRequest>) -> Result<Result<Vec<Applied>, Shortage>, ApiError> {
        let command = Command::Guarded { unowed: AccountId::user_arrears(self.user_id, P), chain };
        submit_command(&self.state, self.user_id, self.allowance.as_ref(), command, None).await.map(|r| r.map(|(applied, _)| applied))
    }

    /// Makes sure `output` tokens are paid for, extending the hold by a
    /// window when needed, or by just what `output` needs when a window is
    /// more than the balance holds. `Err` names what ran out.
    ///
    /// Once half of a window is delivered, the next extension is committed
    /// in the background, so a stream rarely waits for the ledger; a token
    /// is still never delivered before a committed hold covers it.
    ///
    /// Extensions are guarded like the first hold: once the user owes
    /// arrears (booked by another request), the stream stops at the end of
    /// what is held.
    pub async fn cover(&mut self, output: u64) -> Result<Result<(), Shortage>, ApiError> {
        if output > self.covered {
            self.join_ahead().await?;
        }
        if output <= self.covered {
            self.start_ahead(output)?;
            return Ok(Ok(()));
        }
        let window = self.covered.saturating_add(self.step()).max(output);
        match self.extend(window).await? {
            Ok(()) => Ok(Ok(())),
            Err(_) if window > output => self.extend(output).await,
            Err(shortage) => Ok(Err(shortage)),
        }
    }

    /// Output tokens the next extension adds: the configured window, doubled
    /// with each extension up to [`MAX_WINDOW_GROWTH`] times (a long answer
    /// commits to the ledger less often; a stream still stops at the exact
    /// last affordable token, see [`Meter::cover`]).
    fn step(&self) -> u64 {
        let growth = 1u64 << self.holds.clamp(1, MAX_WINDOW_GROWTH.ilog2() + 1).saturating_sub(1);
        self.window.saturating_mul(growth)
    }

    /// Starts the next extension if `output` is past half the current step.
    fn start_ahead(&mut self, output: u64) -> Result<(), ApiError> {
        let step = self.step();
        if self.ahead.is_some() || self.ahead_refused || output.saturating_add(step / 2) < self.covered {
            return Ok(());
        }
        let covered = self.covered.saturating_add(step);
        let amount = self.cost(covered)?;
        let command = Command::Guarded { unowed: AccountId::user_arrears(self.user_id, P), chain: self.extension(amount) };
        let (state, user_id, allowance) = (self.state.clone(), self.user_id, self.allowance.clone());
        let task = tokio::spawn(async move {
            submit_command(&state, user_id, allowance.as_ref(), command, None).await.map(|r| r.map(|_| ()))
        });
        self.ahead = Some(Ahead { covered, amount, task });
        Ok(())
    }

    /// Waits for the extension started ahead, if any, and takes its result.
    async fn join_ahead(&mut self) -> Result<(), ApiError> {
        let Some(ahead) = self.ahead.take() else { return Ok(()) };
        let result = ahead.task.await.map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
        match result? {
            Ok(()) => self.grown(ahead.covered, ahead.amount),
            Err(_) => self.ahead_refused = true,
        }
        Ok(())
    }

    /// The chain that replaces the current hold by one of `amount`.
    fn extension(&self, amount: Amount) -> Vec<TransferRequest> {
        let mut chain = self.resolve(&format!("release{}", self.holds), |p| Operation::Void { pending_id: p }, Reason::Reservation);
        chain.extend(self.holds_for(self.holds + 1, amount));
        chain
    }

    fn grown(&mut self, covered: u64, amount: Amount) {
        self.holds += 1;
        self.held = amount;
        self.covered = covered;
    }

    /// Replaces the hold by one covering `covered` output tokens.
    async fn extend(&mut self, covered: u64) -> Result<Result<(), Shortage>, ApiError> {
        let amount = self.cost(covered)?;
        self.extend_to(covered, amount).await
    }

    /// Replaces the hold by one of `amount` (covering `covered` tokens).
    async fn extend_to(&mut self, covered: u64, amount: Amount) -> Result<Result<(), Shortage>, ApiError> {
        self.join_ahead().await?;
        let result = self.submit(self.extension(amount)).await?;
        if result.is_ok() {
            self.grown(covered, amount);
        }
        Ok(result.map(|_| ()))
    }

    /// Posts the cost of `usage` and releases the rest of the hold. A cost
    /// above the hold is first held in full; if even that is refused, the
    /// hold is posted as it is (`capped`). `record` is stored with the
    /// charge, its cost filled in. When the ledger cannot take the charge
    /// now, it is retried in the background ([`Settlement`]) and
    /// `balance` is `None`: delivered output is always owed.
    pub async fn settle(mut self, usage: TokenUsage, mut record: RequestRecord) -> Settled {
        if let Err(e) = self.join_ahead().await {
            // Not committed (or not known to be): settle the hold we know.
            tracing::warn!(request = %self.request_id, error = %e.message, "extension failed before settlement");
        }
        let (mut cost, mut capped) = match self.cost_of(usage) {
            Ok(cost) => (cost, false),
            Err(_) => (self.held, true),
        };
        if cost > self.held && !matches!(self.extend_to(self.covered, cost).await, Ok(Ok(()))) {
            (cost, capped) = (self.held, true);
        }
        record.cost = cost;
        let chain = self.resolve("settle", |p| Operation::Post { pending_id: p, amount: Some(cost) }, Reason::Charge);
        let settlement = Settlement::new(&self.state, self.user_id, self.base(), self.hold_id(self.holds), chain, self.links(), record);
        let balance = settlement.settle_or_retry_later().await;
        Settled { cost, balance, capped }
    }

    /// Releases everything: nothing is charged (upstream failure or a
    /// request abandoned before any output). `record` is stored with it.
    pub async fn void(mut self, mut record: RequestRecord) -> Result<(), ApiError> {
        self.join_ahead().await?;
        record.cost = Amount::ZERO;
        let chain = self.resolve("void", |p| Operation::Void { pending_id: p }, Reason::Reservation);
        match submit_command(&self.state, self.user_id, self.allowance.as_ref(), Command::Chain(chain), Some(record)).await? {
            Ok(_) => Ok(()),
            Err(shortage) => Err(ApiError::conflict(shortage.code(), "a void was refused")),
        }
    }
}

/// Submits a chain (plain or guarded) for `user_id` (and the key's
/// `allowance`, if capped); `Err(shortage)` when a hold exceeded what its
/// account allows or arrears are owed, any other refusal is an error. Also
/// returns the wallet balance right after.
async fn submit_command(
    state: &AppState,
    user_id: i64,
    allowance: Option<&AccountId>,
    command: Command,
    record: Option<RequestRecord>,
) -> Result<Result<(Vec<Applied>, Option<Amount>), Shortage>, ApiError> {
    let chain = match &command {
        Command::Chain(chain) | Command::Guarded { chain, .. } => chain.as_slice(),
        _ => &[],
    };
    let debits: Vec<Option<AccountId>> = chain.iter().map(|t| hold_debit(&t.op)).collect();
    let submission = Submission { command, record: record.map(Record::Request) };
    let outcome = state.writer.submit(submission).await?;
    let wallet = AccountId::user_wallet(user_id, P);
    let balance = outcome.accounts.iter().find(|a| a.id == wallet).map(|a| a.balance());
    match outcome.result {
        Ok(applied) => Ok(Ok((applied, balance))),
        Err(ChainError { index, error: TransferError::ExceedsCredits }) => {
            let debit = debits.get(index).cloned().flatten();
            Ok(Err(if debit.is_some() && debit.as_ref() == allowance { Shortage::KeyCap } else { Shortage::Balance }))
        }
        Err(ChainError { error: TransferError::ArrearsOutstanding, .. }) => Ok(Err(Shortage::Arrears)),
        Err(e) => Err(ApiError::conflict(e.error.code(), e.error.to_string())),
    }
}

/// The account a hold debits, if the operation is a hold.
fn hold_debit(op: &Operation) -> Option<AccountId> {
    match op {
        Operation::Hold { debit, .. } => Some(debit.clone()),
        _ => None,
    }
}
