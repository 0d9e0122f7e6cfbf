//! Per-request metering against the points ledger. One hold covers the
//! prompt and the output tokens allowed so far; each time the output reaches
//! the covered amount, the hold is replaced by a larger one (void + new hold,
//! one linked chain, so the balance can never be overspent by concurrent
//! streams). At the end the hold is posted for exactly the cost of the real
//! usage, and the rest is released; on an upstream error it is voided.
//!
//! A key with a spending cap has every one of these transfers mirrored on
//! its allowance account in the same chain, so the cap is as exact as the
//! balance.

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
    /// Points charged.
    pub cost: Amount,
    /// Balance right after.
    pub balance: Amount,
    /// The real cost was more than could be held; `cost` is what was.
    pub capped: bool,
}

impl Meter {
    /// Holds the prompt plus a first window of output; 402 when the
    /// balance (or the key's cap) cannot cover it.
    pub async fn open(
        state: &AppState,
        user_id: i64,
        allowance: Option<AccountId>,
        rule: PriceRule,
        request_id: String,
        prompt_tokens: u64,
        window: u64,
    ) -> Result<Meter, ApiError> {
        let mut meter = Meter {
            state: state.clone(),
            user_id,
            rule,
            request_id,
            prompt_tokens,
            window,
            allowance,
            covered: 0,
            held: Amount::ZERO,
            holds: 0,
            ahead: None,
            ahead_refused: false,
        };
        let first = meter.cost(window)?;
        let chain = meter.holds_for(1, first);
        match meter.submit(chain).await? {
            Ok(_) => {
                meter.grown(window, first);
                Ok(meter)
            }
            Err(shortage) => Err(ApiError::new(
                axum::http::StatusCode::PAYMENT_REQUIRED,
                shortage.code(),
                match shortage {
                    Shortage::KeyCap => format!("this API key's spending cap leaves less than the {first} points this request needs held"),
                    _ => format!("this request needs {first} points held (prompt plus {window} output tokens)"),
                },
            )),
        }
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

    fn request(&self, id: String, op: Operation, reason: Reason) -> TransferRequest {
        TransferRequest { id: TransferId(id), op, reason, links: self.links() }
    }

    fn hold_id(&self, n: u32) -> String {
        format!("{}:h{n}", self.request_id)
    }

    /// Hold number `n` of `amount` on the wallet and, if capped, the allowance.
    fn holds_for(&self, n: u32, amount: Amount) -> Vec<TransferRequest> {
        let hold = |debit: AccountId, credit: AccountId| Operation::Hold { debit, credit, amount, timeout_secs: 300 };
        let mut chain = vec![self.request(self.hold_id(n), hold(AccountId::user_wallet(self.user_id, P), AccountId::revenue(P)), Reason::Reservation)];
        if let Some(allowance) = &self.allowance {
            chain.push(self.request(format!("{}:k", self.hold_id(n)), hold(allowance.clone(), AccountId::key_caps(P)), Reason::Reservation));
        }
        chain
    }

    /// Resolves the current hold (and its mirror) with `op`, named `name`.
    fn resolve(&self, name: &str, op: impl Fn(TransferId) -> Operation, reason: Reason) -> Vec<TransferRequest> {
        let hold = self.hold_id(self.holds);
        let mut chain = vec![self.request(format!("{}:{name}", self.request_id), op(TransferId(hold.clone())), reason)];
        if self.allowance.is_some() {
            chain.push(self.request(format!("{}:k{name}", self.request_id), op(TransferId(format!("{hold}:k"))), reason));
        }
        chain
    }

    /// Submits a chain; `Err(shortage)` when a hold exceeded what its
    /// account allows, any other refusal is an error.
    async fn submit(&self, chain: Vec<TransferRequest>) -> Result<Result<Vec<Applied>, Shortage>, ApiError> {
        self.submit_with(chain, None).await.map(|r| r.map(|(applied, _)| applied))
    }

    async fn submit_with(
        &self,
        chain: Vec<TransferRequest>,
        record: Option<RequestRecord>,
    ) -> Result<Result<(Vec<Applied>, Option<Amount>), Shortage>, ApiError> {
        submit_chain(&self.state, self.user_id, self.allowance.as_ref(), chain, record).await
    }

    /// Makes sure `output` tokens are paid for, extending the hold by a
    /// window when needed, or by just what `output` needs when a window is
    /// more than the balance holds. `Err` names what ran out.
    ///
    /// Once half of a window is delivered, the next extension is committed
    /// in the background, so a stream rarely waits for the ledger; a token
    /// is still never delivered before a committed hold covers it.
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
        let chain = self.extension(amount);
        let (state, user_id, allowance) = (self.state.clone(), self.user_id, self.allowance.clone());
        let task = tokio::spawn(async move {
            submit_chain(&state, user_id, allowance.as_ref(), chain, None).await.map(|r| r.map(|_| ()))
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
    /// charge, its cost filled in.
    pub async fn settle(mut self, usage: TokenUsage, mut record: RequestRecord) -> Result<Settled, ApiError> {
        self.join_ahead().await?;
        let mut cost = self.cost_of(usage)?;
        let mut capped = false;
        if cost > self.held && self.extend_to(self.covered, cost).await?.is_err() {
            (cost, capped) = (self.held, true);
        }
        record.cost = cost;
        let chain = self.resolve("settle", |p| Operation::Post { pending_id: p, amount: Some(cost) }, Reason::Charge);
        let balance = match self.submit_with(chain, Some(record)).await? {
            Ok((_, Some(balance))) => balance,
            Ok((_, None)) => {
                let wallet = AccountId::user_wallet(self.user_id, P);
                self.state.store.account(&wallet).await?.map(|a| a.balance()).unwrap_or_default()
            }
            Err(shortage) => return Err(ApiError::conflict(shortage.code(), "a post was refused")),
        };
        Ok(Settled { cost, balance, capped })
    }

    /// Releases everything: nothing is charged (upstream failure or a
    /// request abandoned before any output). `record` is stored with it.
    pub async fn void(mut self, mut record: RequestRecord) -> Result<(), ApiError> {
        self.join_ahead().await?;
        record.cost = Amount::ZERO;
        let chain = self.resolve("void", |p| Operation::Void { pending_id: p }, Reason::Reservation);
        match self.submit_with(chain, Some(record)).await? {
            Ok(_) => Ok(()),
            Err(shortage) => Err(ApiError::conflict(shortage.code(), "a void was refused")),
        }
    }
}

/// Submits a chain for `user_id` (and the key's `allowance`, if capped);
/// `Err(shortage)` when a hold exceeded what its account allows, any other
/// refusal is an error. Also returns the wallet balance right after.
async fn submit_chain(
    state: &AppState,
    user_id: i64,
    allowance: Option<&AccountId>,
    chain: Vec<TransferRequest>,
    record: Option<RequestRecord>,
) -> Result<Result<(Vec<Applied>, Option<Amount>), Shortage>, ApiError> {
    let debits: Vec<Option<AccountId>> = chain.iter().map(|t| hold_debit(&t.op)).collect();
    let submission = Submission { command: Command::Chain(chain), record: record.map(Record::Request) };
    let outcome = state.writer.submit(submission).await?;
    let wallet = AccountId::user_wallet(user_id, P);
    let balance = outcome.accounts.iter().find(|a| a.id == wallet).map(|a| a.balance());
    match outcome.result {
        Ok(applied) => Ok(Ok((applied, balance))),
        Err(ChainError { index, error: TransferError::ExceedsCredits }) => {
            let debit = debits.get(index).cloned().flatten();
            Ok(Err(if debit.is_some() && debit.as_ref() == allowance { Shortage::KeyCap } else { Shortage::Balance }))
        }
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
