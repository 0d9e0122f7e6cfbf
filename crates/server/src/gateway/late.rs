//! Settling a request whose output was delivered even when the ledger
//! cannot take the charge at that moment (the database failing, say).
//! Delivered output is owed: the settlement is tried at once and, if the
//! store fails, again in the background with growing pauses until it is
//! written. If the hold expired meanwhile, the cost is charged with
//! [`Command::Charge`] instead (what the wallet holds, the rest booked as
//! arrears) under an id derived from the request id, so no retry can ever
//! charge twice.

use crate::AppState;
use std::time::Duration;
use tollway_core::ledger::{AccountId, Charge, Command, Links, TransferError, TransferId, TransferRequest};
use tollway_core::{Amount, Asset};
use tollway_store::requests::RequestRecord;
use tollway_store::{CommandOutcome, Record, StoreError, Submission};

/// Late charges are in points.
const P: Asset = Asset::POINTS;
/// First pause before a retry; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(200);
/// Longest pause between retries.
const MAX_PAUSE: Duration = Duration::from_secs(10);

/// The charge of one request's delivered output.
pub struct Settlement {
    state: AppState,
    user_id: i64,
    /// The request id: the base of the late charge's id.
    base: TransferId,
    /// The wallet's hold being settled.
    hold: TransferId,
    /// The post of the hold (and of its mirror on a capped key's allowance).
    post: Vec<TransferRequest>,
    links: Links,
    /// The request's record, its cost filled in.
    record: RequestRecord,
}

/// One try's result.
enum Tried {
    /// Written; the wallet balance right after.
    Done(Amount),
    /// The store failed: try again later.
    Again(StoreError),
    /// The ledger refused for good (logged); nothing more can be done.
    Refused,
}

impl Settlement {
    /// The settlement of `hold` by `post`, for user `user_id`'s request `base`.
    pub fn new(state: &AppState, user_id: i64, base: TransferId, hold: TransferId, post: Vec<TransferRequest>, links: Links, record: RequestRecord) -> Settlement {
        Settlement { state: state.clone(), user_id, base, hold, post, links, record }
    }

    /// Settles now and returns the balance right after; if the store fails,
    /// keeps trying in the background and returns `None`.
    pub async fn settle_or_retry_later(self) -> Option<Amount> {
        match self.try_once().await {
            Tried::Done(balance) => Some(balance),
            Tried::Refused => None,
            Tried::Again(e) => {
                tracing::error!(request = %self.base, cost = %self.record.cost, error = %e, "could not write the charge; retrying in the background");
                tokio::spawn(self.retry());
                None
            }
        }
    }

    async fn retry(self) {
        let mut pause = FIRST_PAUSE;
        loop {
            tokio::time::sleep(pause).await;
            match self.try_once().await {
                Tried::Done(_) => {
                    tracing::info!(request = %self.base, cost = %self.record.cost, "late charge written");
                    return;
                }
                Tried::Refused => return,
                Tried::Again(e) => tracing::warn!(request = %self.base, error = %e, "late charge failed; retrying"),
            }
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }

    /// Posts the hold; if it is gone (expired, or released), charges the
    /// cost from the wallet instead. Every step is idempotent.
    async fn try_once(&self) -> Tried {
        let outcome = match self.submit(Command::Chain(self.post.clone()), true).await {
            Ok(outcome) => outcome,
            Err(e) => return Tried::Again(e),
        };
        let refusal = match outcome.result {
            Ok(_) => return Tried::Done(self.balance(&outcome).await),
            Err(e) => e.error,
        };
        match refusal {
            TransferError::PendingTransferExpired => {
                // Released before the charge: take it out of the pending
                // debits (unless the expiry sweep did: the same request, so
                // a harmless refusal), then charge.
                let expiry = TransferRequest::expiry(self.hold.clone(), self.links.clone());
                if let Err(e) = self.submit(Command::Chain(vec![expiry]), false).await {
                    return Tried::Again(e);
                }
                self.charge().await
            }
            TransferError::PendingTransferAlreadyVoided | TransferError::PendingTransferNotFound => self.charge().await,
            other => {
                tracing::error!(request = %self.base, cost = %self.record.cost, error = %other, "the ledger refused the settlement");
                Tried::Refused
            }
        }
    }

    /// Charges the cost without the hold: what the wallet holds, the rest
    /// as arrears. A replay returns the first charge.
    async fn charge(&self) -> Tried {
        let charge = Charge {
            id: self.base.derive("late"),
            user_id: self.user_id,
            asset: P,
            amount: self.record.cost,
            reservation: None,
            links: self.links.clone(),
        };
        match self.submit(Command::Charge(charge), true).await {
            Ok(CommandOutcome { result: Err(e), .. }) => {
                tracing::error!(request = %self.base, cost = %self.record.cost, error = %e.error, "the ledger refused the late charge");
                Tried::Refused
            }
            Ok(outcome) => {
                tracing::warn!(request = %self.base, cost = %self.record.cost, "the hold was gone; charged the wallet (any shortfall is arrears)");
                Tried::Done(self.balance(&outcome).await)
            }
            Err(e) => Tried::Again(e),
        }
    }

    /// Submits `command`, with the request's record when `recorded`.
    async fn submit(&self, command: Command, recorded: bool) -> Result<CommandOutcome, StoreError> {
        let record = recorded.then(|| Record::Request(self.record.clone()));
        self.state.writer.submit(Submission { command, record }).await
    }

    /// The wallet's balance right after `outcome`.
    async fn balance(&self, outcome: &CommandOutcome) -> Amount {
        let wallet = AccountId::user_wallet(self.user_id, P);
        match outcome.accounts.iter().find(|a| a.id == wallet) {
            Some(a) => a.balance(),
            None => self.state.store.account(&wallet).await.ok().flatten().map(|a| a.balance()).unwrap_or_default(),
        }
    }
}
