//! Commands that plan their transfers from the state they find, so the
//! decision ("take what is there, book the rest as arrears") is made under
//! the same lock as the write. Replays are recognised by the command's base
//! id and return the original transfers.

use super::{
    AccountId, Applied, Batch, ChainError, Links, Operation, PendingStatus, Reason, TransferError, TransferId,
    TransferKind, TransferRequest,
};
use crate::money::{Amount, Asset};
use std::collections::BTreeSet;

/// A unit of work for the ledger writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Linked requests applied as they are.
    Chain(Vec<TransferRequest>),
    /// Charge a user for usage: settle a reservation if one is given and
    /// still open, take what the wallet holds, book the rest as arrears.
    Charge(Charge),
    /// Credit a user's wallet from issuance, then repay arrears from it.
    Grant(Grant),
    /// Linked requests applied only when the account `unowed` (a user's
    /// arrears account) owes nothing, checked under the same lock as the
    /// write: "no arrears, then hold" as one step.
    Guarded {
        /// The account that must owe nothing.
        unowed: AccountId,
        /// The requests to apply.
        chain: Vec<TransferRequest>,
    },
}

/// See [`Command::Charge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// Base id; derived transfers append `:post`, `:arrears`.
    pub id: TransferId,
    /// Who pays.
    pub user_id: i64,
    /// In what.
    pub asset: Asset,
    /// The full cost.
    pub amount: Amount,
    /// A hold to settle first.
    pub reservation: Option<TransferId>,
    /// Links recorded on every transfer.
    pub links: Links,
}

/// See [`Command::Grant`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Base id; the repayment appends `:repay`.
    pub id: TransferId,
    /// Who receives.
    pub user_id: i64,
    /// In what.
    pub asset: Asset,
    /// How much.
    pub amount: Amount,
    /// Grant or adjust.
    pub reason: Reason,
    /// Links recorded on every transfer.
    pub links: Links,
}

fn derived(base: &TransferId, suffix: &str) -> TransferId {
    base.derive(suffix)
}

impl Command {
    /// Accounts and transfers to load before [`Command::execute`].
    pub fn needs(&self) -> (BTreeSet<AccountId>, BTreeSet<TransferId>) {
        match self {
            Command::Chain(chain) => Batch::needs(chain),
            Command::Guarded { unowed, chain } => {
                let (mut accounts, transfers) = Batch::needs(chain);
                accounts.insert(unowed.clone());
                (accounts, transfers)
            }
            Command::Charge(c) => {
                let accounts = [
                    AccountId::user_wallet(c.user_id, c.asset),
                    AccountId::user_arrears(c.user_id, c.asset),
                    AccountId::revenue(c.asset),
                ];
                let mut transfers: BTreeSet<_> =
                    [c.id.clone(), derived(&c.id, "post"), derived(&c.id, "arrears")].into();
                transfers.extend(c.reservation.clone());
                (accounts.into(), transfers)
            }
            Command::Grant(g) => {
                let accounts = [
                    AccountId::issuance(g.asset),
                    AccountId::user_wallet(g.user_id, g.asset),
                    AccountId::user_arrears(g.user_id, g.asset),
                ];
                (accounts.into(), [g.id.clone(), derived(&g.id, "repay")].into())
            }
        }
    }

    /// Plans and applies the command: all of it or none.
    pub fn execute(&self, batch: &mut Batch) -> Result<Vec<Applied>, ChainError> {
        match self {
            Command::Chain(chain) => batch.apply_chain(chain),
            Command::Guarded { unowed, chain } => {
                if batch.account(unowed).is_some_and(|a| !a.owed().is_zero()) {
                    return Err(ChainError { index: 0, error: TransferError::ArrearsOutstanding });
                }
                batch.apply_chain(chain)
            }
            Command::Charge(c) => match replay(batch, &c.id, &["post", "arrears"]) {
                Some(found) => charge_mismatch(c, &found).map_or(Ok(found), |field| Err(conflict(field))),
                None => batch.apply_chain(&plan_charge(batch, c)),
            },
            Command::Grant(g) => match replay(batch, &g.id, &["repay"]) {
                Some(found) => match found[0].transfer().mismatch(&grant_request(g)) {
                    None => Ok(found),
                    Some(field) => Err(conflict(field)),
                },
                None => batch.apply_chain(&plan_grant(batch, g)),
            },
        }
    }
}

fn conflict(field: &'static str) -> ChainError {
    ChainError { index: 0, error: TransferError::ExistsWithDifferentFields { field } }
}

/// The first field in which a replayed charge differs from the transfers
/// its first run recorded: the links of every transfer, the asset, the
/// total (taken + posted + owed) and the reservation a post settled.
fn charge_mismatch(c: &Charge, found: &[Applied]) -> Option<&'static str> {
    let mut total = Some(Amount::ZERO);
    for t in found.iter().map(Applied::transfer) {
        if let Some(field) = t.links.mismatch(&c.links) {
            return Some(field);
        }
        if t.asset != c.asset.code {
            return Some("asset");
        }
        if let TransferKind::Post { pending_id, .. } = &t.kind {
            if c.reservation.as_ref() != Some(pending_id) {
                return Some("reservation");
            }
        }
        total = total.and_then(|sum| sum.checked_add(t.amount).ok());
    }
    (total != Some(c.amount)).then_some("amount")
}

/// The transfers a command already recorded under `base`, if it ran.
fn replay(batch: &Batch, base: &TransferId, suffixes: &[&str]) -> Option<Vec<Applied>> {
    let ids = std::iter::once(base.clone()).chain(suffixes.iter().map(|s| derived(base, s)));
    let found: Vec<Applied> = ids.filter_map(|id| batch.transfer(&id).cloned()).map(Applied::Exists).collect();
    (!found.is_empty()).then_some(found)
}

fn request(id: TransferId, op: Operation, reason: Reason, links: &Links) -> TransferRequest {
    TransferRequest { id, op, reason, links: links.clone() }
}

fn plan_charge(batch: &Batch, c: &Charge) -> Vec<TransferRequest> {
    let wallet = AccountId::user_wallet(c.user_id, c.asset);
    let revenue = AccountId::revenue(c.asset);
    let mut chain = Vec::new();
    let mut remaining = c.amount;
    if let Some(hold_id) = c.reservation.as_ref().filter(|h| open_hold_of(batch, h, &wallet)) {
        let held = batch.transfer(hold_id).map(|t| t.amount).unwrap_or_default();
        let posted = held.min(remaining);
        let op = Operation::Post { pending_id: hold_id.clone(), amount: Some(posted) };
        chain.push(request(derived(&c.id, "post"), op, Reason::Charge, &c.links));
        remaining = remaining.saturating_sub(posted);
    }
    let available = batch.account(&wallet).map(|a| a.available()).unwrap_or_default();
    let taken = available.min(remaining);
    if !taken.is_zero() {
        let op = Operation::Transfer { debit: wallet.clone(), credit: revenue.clone(), amount: taken };
        chain.push(request(c.id.clone(), op, Reason::Charge, &c.links));
    }
    let shortfall = remaining.saturating_sub(taken);
    if !shortfall.is_zero() {
        let debit = AccountId::user_arrears(c.user_id, c.asset);
        let op = Operation::Transfer { debit, credit: revenue, amount: shortfall };
        chain.push(request(derived(&c.id, "arrears"), op, Reason::Arrears, &c.links));
    }
    chain
}

/// True when `hold` is this wallet's hold, still pending and not timed out.
fn open_hold_of(batch: &Batch, hold: &TransferId, wallet: &AccountId) -> bool {
    let Some(t) = batch.transfer(hold) else { return false };
    let TransferKind::Pending { expires_at, .. } = t.kind else { return false };
    t.debit == *wallet && batch.pending_status(hold) == Some(PendingStatus::Pending) && batch.now() < expires_at
}

/// The grant's own transfer: issuance to the wallet.
fn grant_request(g: &Grant) -> TransferRequest {
    let wallet = AccountId::user_wallet(g.user_id, g.asset);
    let op = Operation::Transfer { debit: AccountId::issuance(g.asset), credit: wallet, amount: g.amount };
    request(g.id.clone(), op, g.reason, &g.links)
}

fn plan_grant(batch: &Batch, g: &Grant) -> Vec<TransferRequest> {
    let wallet = AccountId::user_wallet(g.user_id, g.asset);
    let arrears = AccountId::user_arrears(g.user_id, g.asset);
    let mut chain = vec![grant_request(g)];
    let owed = batch.account(&arrears).map(|a| a.owed()).unwrap_or_default();
    let available = batch.account(&wallet).map(|a| a.available()).unwrap_or_default();
    let repay = owed.min(available.checked_add(g.amount).unwrap_or(Amount::MAX));
    if !repay.is_zero() {
        let op = Operation::Transfer { debit: wallet, credit: arrears, amount: repay };
        chain.push(request(derived(&g.id, "repay"), op, Reason::ArrearsRepayment, &g.links));
    }
    chain
}
