//! Spending caps of API keys, kept in the ledger. A capped key has an
//! allowance account (a wallet) credited with its cap; every gateway hold
//! and charge through the key is mirrored on it in the same linked chain, so
//! the cap can never be overspent, even by concurrent streams on several
//! processes. Lowering or removing a cap moves the unused part to the key's
//! `released` account, so `spent = allowance debits − released`.

use crate::{ApiError, AppState};
use serde::Serialize;
use tollway_core::ledger::{Account, AccountFlags, AccountId, Command, Links, Operation, Reason, TransferError, TransferId, TransferRequest};
use tollway_core::{Amount, Asset};
use tollway_store::directory::ApiKey;
use tollway_store::Submission;

const P: Asset = Asset::POINTS;

/// Where a key's cap stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapPosition {
    /// The cap as the ledger holds it.
    pub cap: Amount,
    /// Charged through the key while capped.
    pub spent: Amount,
    /// Held by requests in flight.
    pub held: Amount,
    /// What the key may still spend.
    pub remaining: Amount,
}

/// A key as administrators see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    id: i64,
    user_id: i64,
    prefix: String,
    label: String,
    rpm_limit: Option<u32>,
    tpm_limit: Option<u64>,
    /// Decimal strings; absent when the key has no cap.
    spend_cap: Option<String>,
    spent: Option<String>,
    held: Option<String>,
    remaining: Option<String>,
    created_at: i64,
    revoked_at: Option<i64>,
}

/// A key's allowance account (if it ever had a cap) and the total
/// released from it.
async fn accounts(state: &AppState, key_id: i64) -> Result<(Option<Account>, Amount), ApiError> {
    let allowance = state.store.account(&AccountId::key_allowance(key_id, P)).await?;
    let released = state.store.account(&AccountId::key_released(key_id, P)).await?;
    Ok((allowance, released.map(|r| r.credits_posted).unwrap_or_default()))
}

fn position_of(allowance: Option<&Account>, released: Amount) -> CapPosition {
    let Some(a) = allowance else { return CapPosition::default() };
    CapPosition {
        cap: a.credits_posted.saturating_sub(released),
        spent: a.debits_posted.saturating_sub(released),
        held: a.debits_pending,
        remaining: a.available(),
    }
}

/// The position of `key_id`'s cap (all zero if it never had one).
pub async fn position(state: &AppState, key_id: i64) -> Result<CapPosition, ApiError> {
    let (allowance, released) = accounts(state, key_id).await?;
    Ok(position_of(allowance.as_ref(), released))
}

/// The view of a key, with its cap position when capped.
pub async fn view(state: &AppState, key: ApiKey) -> Result<KeyView, ApiError> {
    let pos = match key.spend_cap {
        Some(_) => Some(position(state, key.id).await?),
        None => None,
    };
    Ok(KeyView {
        id: key.id,
        user_id: key.user_id,
        prefix: key.prefix,
        label: key.label,
        rpm_limit: key.rpm_limit,
        tpm_limit: key.tpm_limit,
        spend_cap: pos.map(|p| p.cap.to_string()),
        spent: pos.map(|p| p.spent.to_string()),
        held: pos.map(|p| p.held.to_string()),
        remaining: pos.map(|p| p.remaining.to_string()),
        created_at: key.created_at,
        revoked_at: key.revoked_at,
    })
}

/// Moves the ledger cap of `key` to `target` (`None`: release what is
/// unused). 409 `spend_cap_below_spent` if `target` is below what the key
/// has spent and holds. A repeated call is a no-op.
pub async fn set(state: &AppState, key: &ApiKey, target: Option<Amount>) -> Result<(), ApiError> {
    let allowance = AccountId::key_allowance(key.id, P);
    let released = AccountId::key_released(key.id, P);
    state
        .store
        .ensure_accounts(&[
            Account::new(allowance.clone(), P, AccountFlags::WALLET),
            Account::new(released.clone(), P, AccountFlags::NONE),
            Account::new(AccountId::key_caps(P), P, AccountFlags::NONE),
        ])
        .await?;
    let (account, released_total) = accounts(state, key.id).await?;
    let now = position_of(account.as_ref(), released_total);
    let credited = account.map(|a| a.credits_posted).unwrap_or_default();
    let target = target.unwrap_or_else(|| now.spent.checked_add(now.held).unwrap_or(Amount::MAX));
    let (debit, credit, amount) = if target > now.cap {
        (AccountId::key_caps(P), allowance, target.saturating_sub(now.cap))
    } else {
        (allowance, released, now.cap.saturating_sub(target))
    };
    if amount.is_zero() {
        return Ok(());
    }
    let transfer = TransferRequest {
        // Named after the ledger totals it starts from (each move raises
        // one of them), so a retried call cannot apply it twice.
        id: TransferId(format!("keycap:{}:{credited}:{released_total}:to:{target}", key.id)),
        op: Operation::Transfer { debit, credit, amount },
        reason: Reason::Adjust,
        links: Links { user_id: Some(key.user_id), memo: Some(format!("spend cap of key {}", key.id)), ..Links::default() },
    };
    let outcome = state.writer.submit(Submission { command: Command::Chain(vec![transfer]), record: None }).await?;
    match outcome.result {
        Ok(_) => Ok(()),
        Err(e) if e.error == TransferError::ExceedsCredits => Err(ApiError::conflict(
            "spend_cap_below_spent",
            format!("the key has spent {} and holds {} points; the cap cannot go below that", now.spent, now.held),
        )),
        Err(e) => Err(ApiError::conflict(e.error.code(), e.error.to_string())),
    }
}
