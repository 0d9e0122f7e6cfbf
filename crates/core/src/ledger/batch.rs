use super::{
    Account, AccountId, Operation, PendingStatus, Timestamp, Transfer, TransferError, TransferId, TransferKind,
    TransferRequest,
};
use crate::money::Amount;
use std::collections::{BTreeMap, BTreeSet};

/// The outcome of one accepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// A new transfer was recorded.
    Created(Transfer),
    /// The same request was applied before; this is the original.
    Exists(Transfer),
}

impl Applied {
    /// The transfer, new or original.
    pub fn transfer(&self) -> &Transfer {
        match self {
            Applied::Created(t) | Applied::Exists(t) => t,
        }
    }
}

/// A chain failed: nothing in it was applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("request {index} of the chain failed: {error}")]
pub struct ChainError {
    /// Position of the failing request in the chain.
    pub index: usize,
    /// Why it failed.
    pub error: TransferError,
}

/// What a batch changed: persist all of it atomically, then acknowledge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Accounts whose totals changed, with their new totals.
    pub accounts: Vec<Account>,
    /// New transfers, in the order they were applied.
    pub transfers: Vec<Transfer>,
    /// Holds whose status changed.
    pub pending: Vec<(TransferId, PendingStatus)>,
}

impl Changes {
    /// True when nothing needs persisting.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.transfers.is_empty() && self.pending.is_empty()
    }
}

/// The in-memory state a batch of requests works on: every account and
/// transfer they may touch, loaded by the caller under a write lock.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    now: Timestamp,
    accounts: BTreeMap<AccountId, Account>,
    transfers: BTreeMap<TransferId, Transfer>,
    pending: BTreeMap<TransferId, PendingStatus>,
    dirty_accounts: BTreeSet<AccountId>,
    new_transfers: Vec<TransferId>,
    dirty_pending: BTreeSet<TransferId>,
}

/// What to restore if a chain fails part way.
#[derive(Default)]
struct Undo {
    accounts: Vec<(Account, bool)>,
    transfers: usize,
    pending: Vec<(TransferId, Option<PendingStatus>, bool)>,
}

impl Batch {
    /// An empty batch applied at time `now`.
    pub fn new(now: Timestamp) -> Self {
        Batch { now, ..Batch::default() }
    }

    /// The ids of every account and transfer `requests` may need, so the
    /// caller knows what to load. Holds referenced by posts, voids and
    /// expiries add their accounts only once loaded, so load transfers
    /// first, then the debit and credit accounts of the holds among them.
    pub fn needs(requests: &[TransferRequest]) -> (BTreeSet<AccountId>, BTreeSet<TransferId>) {
        let mut accounts = BTreeSet::new();
        let mut transfers = BTreeSet::new();
        for req in requests {
            transfers.insert(req.id.clone());
            match &req.op {
                Operation::Transfer { debit, credit, .. } | Operation::Hold { debit, credit, .. } => {
                    accounts.insert(debit.clone());
                    accounts.insert(credit.clone());
                }
                Operation::Post { pending_id, .. }
                | Operation::Void { pending_id }
                | Operation::Expire { pending_id } => {
                    transfers.insert(pending_id.clone());
                }
            }
        }
        (accounts, transfers)
    }

    /// Adds an account as stored.
    pub fn load_account(&mut self, account: Account) {
        self.accounts.insert(account.id.clone(), account);
    }

    /// Adds a stored transfer and, for a hold, its status.
    pub fn load_transfer(&mut self, transfer: Transfer, status: Option<PendingStatus>) {
        if let Some(status) = status {
            self.pending.insert(transfer.id.clone(), status);
        }
        self.transfers.insert(transfer.id.clone(), transfer);
    }

    /// The time the batch is applied at.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// An account as it stands in this batch.
    pub fn account(&self, id: &AccountId) -> Option<&Account> {
        self.accounts.get(id)
    }

    /// A transfer as it stands in this batch.
    pub fn transfer(&self, id: &TransferId) -> Option<&Transfer> {
        self.transfers.get(id)
    }

    /// The status of a hold in this batch.
    pub fn pending_status(&self, id: &TransferId) -> Option<PendingStatus> {
        self.pending.get(id).copied()
    }

    /// Applies linked requests: all of them, or none.
    pub fn apply_chain(&mut self, chain: &[TransferRequest]) -> Result<Vec<Applied>, ChainError> {
        let mut undo = Undo { transfers: self.new_transfers.len(), ..Undo::default() };
        let mut applied = Vec::with_capacity(chain.len());
        for (index, req) in chain.iter().enumerate() {
            match self.apply_one(req, &mut undo) {
                Ok(a) => applied.push(a),
                Err(error) => {
                    self.rollback(undo);
                    return Err(ChainError { index, error });
                }
            }
        }
        Ok(applied)
    }

    /// Everything to persist.
    pub fn into_changes(mut self) -> Changes {
        let accounts = self.dirty_accounts.iter().filter_map(|id| self.accounts.remove(id)).collect();
        let transfers = self.new_transfers.iter().filter_map(|id| self.transfers.remove(id)).collect();
        let pending = self
            .dirty_pending
            .iter()
            .filter_map(|id| self.pending.get(id).map(|s| (id.clone(), *s)))
            .collect();
        Changes { accounts, transfers, pending }
    }

    fn rollback(&mut self, undo: Undo) {
        for (account, was_dirty) in undo.accounts.into_iter().rev() {
            if !was_dirty {
                self.dirty_accounts.remove(&account.id);
            }
            self.accounts.insert(account.id.clone(), account);
        }
        for id in self.new_transfers.drain(undo.transfers..) {
            self.transfers.remove(&id);
        }
        for (id, previous, was_dirty) in undo.pending.into_iter().rev() {
            match previous {
                Some(status) => self.pending.insert(id.clone(), status),
                None => self.pending.remove(&id),
            };
            if !was_dirty {
                self.dirty_pending.remove(&id);
            }
        }
    }

    fn apply_one(&mut self, req: &TransferRequest, undo: &mut Undo) -> Result<Applied, TransferError> {
        validate(req)?;
        if let Some(existing) = self.transfers.get(&req.id) {
            return match existing.mismatch(req) {
                None => Ok(Applied::Exists(existing.clone())),
                Some(field) => Err(TransferError::ExistsWithDifferentFields { field }),
            };
        }
        let transfer = match &req.op {
            Operation::Transfer { debit, credit, amount } => {
                let (mut d, mut c) = self.pair(debit, credit)?;
                Account::add(&mut d.debits_posted, *amount).map_err(|_| TransferError::Overflow)?;
                Account::add(&mut c.credits_posted, *amount).map_err(|_| TransferError::Overflow)?;
                check_limits(&d, &c)?;
                self.store_accounts(d, c, undo);
                self.record(req, debit, credit, *amount, TransferKind::Single)
            }
            Operation::Hold { debit, credit, amount, timeout_secs } => {
                let (mut d, mut c) = self.pair(debit, credit)?;
                Account::add(&mut d.debits_pending, *amount).map_err(|_| TransferError::Overflow)?;
                Account::add(&mut c.credits_pending, *amount).map_err(|_| TransferError::Overflow)?;
                check_limits(&d, &c)?;
                self.store_accounts(d, c, undo);
                let expires_at = self.now.saturating_add(i64::from(*timeout_secs) * 1000);
                self.set_pending(req.id.clone(), PendingStatus::Pending, undo);
                self.record(req, debit, credit, *amount, TransferKind::Pending { timeout_secs: *timeout_secs, expires_at })
            }
            Operation::Post { pending_id, amount } => {
                let hold = self.open_hold(pending_id, false)?;
                let posted = amount.unwrap_or(hold.amount);
                if posted > hold.amount {
                    return Err(TransferError::ExceedsPendingTransferAmount);
                }
                self.resolve(&hold, posted, undo)?;
                self.set_pending(pending_id.clone(), PendingStatus::Posted, undo);
                let kind = TransferKind::Post { pending_id: pending_id.clone(), requested: *amount };
                self.record(req, &hold.debit, &hold.credit, posted, kind)
            }
            Operation::Void { pending_id } => {
                let hold = self.open_hold(pending_id, false)?;
                self.resolve(&hold, Amount::ZERO, undo)?;
                self.set_pending(pending_id.clone(), PendingStatus::Voided, undo);
                let kind = TransferKind::Void { pending_id: pending_id.clone() };
                self.record(req, &hold.debit, &hold.credit, hold.amount, kind)
            }
            Operation::Expire { pending_id } => {
                let hold = self.open_hold(pending_id, true)?;
                self.resolve(&hold, Amount::ZERO, undo)?;
                self.set_pending(pending_id.clone(), PendingStatus::Expired, undo);
                let kind = TransferKind::Expire { pending_id: pending_id.clone() };
                self.record(req, &hold.debit, &hold.credit, hold.amount, kind)
            }
        };
        Ok(Applied::Created(transfer))
    }

    /// Copies of two distinct accounts of one asset.
    fn pair(&self, debit: &AccountId, credit: &AccountId) -> Result<(Account, Account), TransferError> {
        let d = self.accounts.get(debit).ok_or(TransferError::DebitAccountNotFound)?;
        let c = self.accounts.get(credit).ok_or(TransferError::CreditAccountNotFound)?;
        if d.asset != c.asset {
            return Err(TransferError::AssetMismatch);
        }
        Ok((d.clone(), c.clone()))
    }

    /// The hold `id`, checked to be unresolved. Expiries need it past its
    /// timeout; posts and voids need it before.
    fn open_hold(&self, id: &TransferId, expiring: bool) -> Result<Transfer, TransferError> {
        let hold = self.transfers.get(id).ok_or(TransferError::PendingTransferNotFound)?;
        let TransferKind::Pending { expires_at, .. } = hold.kind else {
            return Err(TransferError::PendingTransferNotPending);
        };
        match self.pending.get(id) {
            Some(PendingStatus::Pending) => {}
            Some(PendingStatus::Posted) => return Err(TransferError::PendingTransferAlreadyPosted),
            Some(PendingStatus::Voided) => return Err(TransferError::PendingTransferAlreadyVoided),
            Some(PendingStatus::Expired) => return Err(TransferError::PendingTransferExpired),
            None => return Err(TransferError::PendingTransferNotFound),
        }
        let expired = self.now >= expires_at;
        match (expiring, expired) {
            (false, true) => Err(TransferError::PendingTransferExpired),
            (true, false) => Err(TransferError::PendingTransferNotExpired),
            _ => Ok(hold.clone()),
        }
    }

    /// Releases a hold's reservation and posts `posted` of it.
    fn resolve(&mut self, hold: &Transfer, posted: Amount, undo: &mut Undo) -> Result<(), TransferError> {
        let (mut d, mut c) = self.pair(&hold.debit, &hold.credit)?;
        let release = |total: &mut Amount| -> Result<(), TransferError> {
            *total = total.checked_sub(hold.amount).map_err(|_| TransferError::Overflow)?;
            Ok(())
        };
        release(&mut d.debits_pending)?;
        release(&mut c.credits_pending)?;
        Account::add(&mut d.debits_posted, posted).map_err(|_| TransferError::Overflow)?;
        Account::add(&mut c.credits_posted, posted).map_err(|_| TransferError::Overflow)?;
        check_limits(&d, &c)?;
        self.store_accounts(d, c, undo);
        Ok(())
    }

    fn store_accounts(&mut self, d: Account, c: Account, undo: &mut Undo) {
        for account in [d, c] {
            let was_dirty = !self.dirty_accounts.insert(account.id.clone());
            if let Some(previous) = self.accounts.insert(account.id.clone(), account) {
                undo.accounts.push((previous, was_dirty));
            }
        }
    }

    fn set_pending(&mut self, id: TransferId, status: PendingStatus, undo: &mut Undo) {
        let was_dirty = !self.dirty_pending.insert(id.clone());
        let previous = self.pending.insert(id.clone(), status);
        undo.pending.push((id, previous, was_dirty));
    }

    fn record(
        &mut self,
        req: &TransferRequest,
        debit: &AccountId,
        credit: &AccountId,
        amount: Amount,
        kind: TransferKind,
    ) -> Transfer {
        let transfer = Transfer {
            id: req.id.clone(),
            debit: debit.clone(),
            credit: credit.clone(),
            amount,
            asset: self.accounts.get(debit).map(|a| a.asset.clone()).unwrap_or_default(),
            kind,
            reason: req.reason,
            links: req.links.clone(),
            timestamp: self.now,
        };
        self.transfers.insert(req.id.clone(), transfer.clone());
        self.new_transfers.push(req.id.clone());
        transfer
    }
}

/// The checks that need no state, in documented order.
fn validate(req: &TransferRequest) -> Result<(), TransferError> {
    if !req.id.is_valid() {
        return Err(TransferError::IdInvalid);
    }
    match &req.op {
        Operation::Transfer { debit, credit, amount } | Operation::Hold { debit, credit, amount, .. } => {
            if amount.is_zero() {
                return Err(TransferError::AmountZero);
            }
            if debit == credit {
                return Err(TransferError::AccountsMustBeDifferent);
            }
        }
        Operation::Post { .. } | Operation::Void { .. } | Operation::Expire { .. } => {}
    }
    if let Operation::Hold { timeout_secs: 0, .. } = req.op {
        return Err(TransferError::TimeoutInvalid);
    }
    Ok(())
}

/// The balance limits of the debit and credit accounts after a change.
fn check_limits(debit: &Account, credit: &Account) -> Result<(), TransferError> {
    if debit.flags.debits_must_not_exceed_credits {
        let debits = debit.debits_pending.checked_add(debit.debits_posted).map_err(|_| TransferError::Overflow)?;
        if debits > debit.credits_posted {
            return Err(TransferError::ExceedsCredits);
        }
    }
    if credit.flags.credits_must_not_exceed_debits {
        let credits =
            credit.credits_pending.checked_add(credit.credits_posted).map_err(|_| TransferError::Overflow)?;
        if credits > credit.debits_posted {
            return Err(TransferError::ExceedsDebits);
        }
    }
    Ok(())
}
