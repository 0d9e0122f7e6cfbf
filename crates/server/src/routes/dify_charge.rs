//! Charging reported usage, shared by the webhook and the admin's
//! resolution of unattributed usage: one [`Command::Charge`] per (app,
//! message), and the steps that attribute a kept event to a user exactly
//! once.

use crate::{ApiError, AppState};
use axum::http::StatusCode;
use sha2::{Digest, Sha256};
use tollway_core::ledger::{Applied, ChainError, Charge, Command, Links, TransferError, TransferId};
use tollway_core::{Amount, Asset};
use tollway_store::attribution::{DISMISSED, RESOLVING};
use tollway_store::usage::{UsageDraft, UsageEvent, UNATTRIBUTED};
use tollway_store::{CommandOutcome, Record, Submission};

/// The base id of the charge for (app, message): a digest, never the
/// client's text.
pub(crate) fn charge_id(app_id: i64, message_id: &str) -> TransferId {
    TransferId(format!("dify:{app_id}:{}", &hex::encode(Sha256::digest(message_id.as_bytes()))[..40]))
}

/// The ledger's refusal of a charge: a key reused with other fields is 409
/// `idempotency_conflict` naming the ledger field, anything else its code.
pub(crate) fn ledger_refusal(e: &ChainError) -> ApiError {
    match e.error {
        TransferError::ExistsWithDifferentFields { field } => {
            ApiError::conflict("idempotency_conflict", e.error.to_string()).with_field(field)
        }
        _ => ApiError::conflict(e.error.code(), e.error.to_string()),
    }
}

/// Charges `draft` to `user_id` through the normal charge path: one
/// [`Command::Charge`] keyed by (app, message), settling the reservation
/// the report named (in that user's namespace), at most once however
/// often it runs. All-zero usage charges nothing and leaves the
/// reservation to expire; a zero charge still names the wallet, so the
/// event records the real balance.
pub(crate) async fn submit_charge(
    state: &AppState,
    draft: &UsageDraft,
    user_id: i64,
    record: bool,
) -> Result<CommandOutcome, ApiError> {
    let reservation = match (&draft.reservation_id, draft.unknown) {
        (Some(key), false) => TransferId::reservation(user_id, key),
        _ => None,
    };
    let command = Command::Charge(Charge {
        id: charge_id(draft.app_id, &draft.message_id),
        user_id,
        asset: Asset::POINTS,
        amount: if draft.unknown { Amount::ZERO } else { draft.cost },
        reservation,
        links: Links {
            user_id: Some(user_id),
            model: Some(draft.model.clone()),
            request_id: Some(draft.message_id.clone()),
            price_version: draft.price_version,
            memo: None,
        },
    });
    let record = record.then(|| Record::Usage(UsageDraft { user_id: Some(user_id), ..draft.clone() }));
    Ok(state.writer.submit(Submission { command, record }).await?)
}

/// The event as the charge left it (for an event charged outside the
/// writer's record, i.e. a resolution).
pub(crate) fn charged_event(stored: &UsageEvent, user_id: i64, applied: &[Applied], outcome: &CommandOutcome) -> UsageEvent {
    let draft = UsageDraft {
        user_id: Some(user_id),
        transfer_id: (!applied.is_empty()).then(|| charge_id(stored.draft.app_id, &stored.draft.message_id).0),
        ..stored.draft.clone()
    };
    let done = draft.complete(applied, &outcome.accounts, stored.created_at);
    UsageEvent { seq: stored.seq, resolved_by: stored.resolved_by, resolved_at: stored.resolved_at, resolution: stored.resolution.clone(), ..done }
}

/// The usage event at `seq`, or 404 `unknown_event`.
pub(crate) async fn event_at(s: &AppState, seq: i64) -> Result<UsageEvent, ApiError> {
    s.store.usage_event_at(seq).await?.ok_or_else(|| ApiError::not_found("unknown_event", format!("no usage event {seq}")))
}

/// 409 `not_unattributed` for an event that is no longer kept.
pub(crate) fn not_unattributed(e: &UsageEvent) -> ApiError {
    ApiError::conflict("not_unattributed", format!("usage event {} is {}, not unattributed", e.seq, e.status))
}

/// Charges `event` (unattributed, or being resolved for this user) to
/// `user_id` and records the outcome; resolving again for the same user
/// answers the same event, for another user is 409 naming `user`.
pub(crate) async fn attribute(s: &AppState, event: UsageEvent, user_id: i64, admin: Option<i64>, note: &str) -> Result<UsageEvent, ApiError> {
    let mut current = event;
    for _ in 0..4 {
        let same_user = current.draft.user_id == Some(user_id);
        match current.status.as_str() {
            UNATTRIBUTED => match s.store.start_resolution(current.seq, user_id, admin, note, tollway_store::now_ms()).await? {
                Some(claimed) => return finish(s, claimed, user_id).await,
                None => current = event_at(s, current.seq).await?,
            },
            RESOLVING if same_user => return finish(s, current, user_id).await,
            DISMISSED => {
                return Err(ApiError::conflict("usage_dismissed", format!("usage event {} was dismissed", current.seq)))
            }
            _ if current.resolved_at.is_none() => return Err(not_unattributed(&current)),
            _ if same_user => return Ok(current),
            _ => {
                return Err(ApiError::conflict("idempotency_conflict", "this event was resolved to another user").with_field("user"))
            }
        }
    }
    Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage_busy", "the event keeps changing; retry"))
}

/// Charges a claimed event and records the outcome.
async fn finish(s: &AppState, claimed: UsageEvent, user_id: i64) -> Result<UsageEvent, ApiError> {
    let outcome = submit_charge(s, &claimed.draft, user_id, false).await?;
    let applied = outcome.result.as_ref().map_err(ledger_refusal)?;
    let done = charged_event(&claimed, user_id, applied, &outcome);
    match s.store.finish_resolution(&done).await? {
        Some(finished) => Ok(finished),
        None => event_at(s, claimed.seq).await,
    }
}
