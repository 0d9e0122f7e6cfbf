//! Usage events: one row per reported model call (Dify message), keyed by
//! (app, message id), committed with the charge it caused, or kept
//! `unattributed` (nothing charged) when the user is unknown or disabled,
//! until an admin resolves or dismisses it ([`crate::attribution`]).

use crate::codec::amount;
use crate::{Store, StoreError};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use tollway_core::ledger::{Account, Applied, Reason};
use tollway_core::Amount;

/// A usage event before the ledger has said what was charged; stored
/// events embed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageDraft {
    /// The reporting app.
    pub app_id: i64,
    /// Its message id: with `app_id`, the idempotency key.
    pub message_id: String,
    /// Digest of the reported fields: equal digests are a replay (unequal
    /// ones are compared field by field to name the difference).
    #[serde(skip)]
    pub fingerprint: String,
    /// The user charged; `None` while unattributed to a known user.
    pub user_id: Option<i64>,
    /// The user as the report named them (`None` on events stored before
    /// it was kept).
    pub user_ref: Option<String>,
    /// The model used.
    pub model: String,
    /// Prompt tokens.
    pub input_tokens: i64,
    /// Completion tokens.
    pub output_tokens: i64,
    /// Where the counts came from.
    pub usage_source: String,
    /// True when usage was all zero: stored, not charged.
    #[serde(skip)]
    pub unknown: bool,
    /// The full cost under the applied rule.
    pub cost: Amount,
    /// Price rule version applied.
    pub price_version: Option<i64>,
    /// Its input price per 1,000 tokens, as a decimal string (snapshot).
    pub input_per_1k: Option<String>,
    /// Its output price per 1,000 tokens, as a decimal string (snapshot).
    pub output_per_1k: Option<String>,
    /// Base id of the charge transfers.
    pub transfer_id: Option<String>,
    /// Reservation settled by the charge.
    pub reservation_id: Option<String>,
    /// Price the reporter computed, as its decimal string.
    pub reported_price: Option<String>,
    /// Currency of `reported_price`.
    pub reported_currency: Option<String>,
    /// Conversation the message belongs to.
    pub conversation_id: Option<String>,
}

/// A stored usage event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageEvent {
    /// Position in the log (cursor).
    pub seq: i64,
    /// The reported fields.
    #[serde(flatten)]
    pub draft: UsageDraft,
    /// `charged`, `arrears` (part booked as debt), `usage_unknown`,
    /// `unattributed` (kept, nothing charged), `resolving` (an admin's
    /// resolution under way) or `dismissed`.
    pub status: String,
    /// Taken from the wallet.
    pub charged: Amount,
    /// Booked as arrears.
    pub shortfall: Amount,
    /// Wallet balance right after.
    pub balance_after: Amount,
    /// The admin who resolved or dismissed it (unattributed events).
    pub resolved_by: Option<i64>,
    /// When.
    pub resolved_at: Option<i64>,
    /// The admin's note or reason.
    pub resolution: Option<String>,
    /// When it was recorded.
    pub created_at: i64,
}

/// Status of a usage event kept for an admin to attribute.
pub const UNATTRIBUTED: &str = "unattributed";

impl UsageDraft {
    /// The event to store, given what the charge did.
    pub fn complete(&self, applied: &[Applied], accounts: &[Account], now: i64) -> UsageEvent {
        let sum = |reason: Reason| {
            applied
                .iter()
                .map(Applied::transfer)
                .filter(|t| t.reason == reason)
                .fold(Amount::ZERO, |acc, t| acc.checked_add(t.amount).unwrap_or(Amount::MAX))
        };
        let (charged, shortfall) = (sum(Reason::Charge), sum(Reason::Arrears));
        let wallet = self.user_id.map(|u| tollway_core::ledger::AccountId::user_wallet(u, tollway_core::Asset::POINTS));
        let balance_after =
            accounts.iter().find(|a| Some(&a.id) == wallet.as_ref()).map(Account::balance).unwrap_or_default();
        let status = if self.unknown {
            "usage_unknown"
        } else if shortfall.is_zero() {
            "charged"
        } else {
            "arrears"
        };
        UsageEvent {
            seq: 0,
            draft: self.clone(),
            status: status.to_owned(),
            charged,
            shortfall,
            balance_after,
            resolved_by: None,
            resolved_at: None,
            resolution: None,
            created_at: now,
        }
    }

    /// The event kept, uncharged, for an admin to attribute.
    pub fn unattributed(&self, now: i64) -> UsageEvent {
        UsageEvent {
            seq: 0,
            draft: self.clone(),
            status: UNATTRIBUTED.to_owned(),
            charged: Amount::ZERO,
            shortfall: Amount::ZERO,
            balance_after: Amount::ZERO,
            resolved_by: None,
            resolved_at: None,
            resolution: None,
            created_at: now,
        }
    }
}

pub(crate) const COLUMNS: &str = "seq, app_id, message_id, fingerprint, user_id, user_ref, model, input_tokens, \
    output_tokens, usage_source, status, cost, charged, shortfall, balance_after, price_version, input_per_1k, \
    output_per_1k, transfer_id, reservation_id, reported_price, reported_currency, conversation_id, resolved_by, \
    resolved_at, resolution, created_at";

/// Inserts an event unless its key exists; returns it with its position
/// when it was inserted.
pub(crate) async fn insert_usage_event(conn: &mut AnyConnection, e: &UsageEvent) -> Result<Option<UsageEvent>, StoreError> {
    let d = &e.draft;
    let row = sqlx::query(
        "INSERT INTO usage_events (app_id, message_id, fingerprint, user_id, user_ref, model, input_tokens, \
         output_tokens, usage_source, status, cost, charged, shortfall, balance_after, price_version, input_per_1k, \
         output_per_1k, transfer_id, reservation_id, reported_price, reported_currency, conversation_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, \
         $23) ON CONFLICT (app_id, message_id) DO NOTHING RETURNING seq",
    )
    .bind(d.app_id)
    .bind(&d.message_id)
    .bind(&d.fingerprint)
    .bind(d.user_id)
    .bind(d.user_ref.clone())
    .bind(&d.model)
    .bind(d.input_tokens)
    .bind(d.output_tokens)
    .bind(&d.usage_source)
    .bind(&e.status)
    .bind(d.cost.to_string())
    .bind(e.charged.to_string())
    .bind(e.shortfall.to_string())
    .bind(e.balance_after.to_string())
    .bind(d.price_version)
    .bind(d.input_per_1k.clone())
    .bind(d.output_per_1k.clone())
    .bind(d.transfer_id.clone())
    .bind(d.reservation_id.clone())
    .bind(d.reported_price.clone())
    .bind(d.reported_currency.clone())
    .bind(d.conversation_id.clone())
    .bind(e.created_at)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => Ok(Some(UsageEvent { seq: row.try_get("seq")?, ..e.clone() })),
        None => Ok(None),
    }
}

pub(crate) fn from_row(row: &AnyRow) -> Result<UsageEvent, StoreError> {
    Ok(UsageEvent {
        seq: row.try_get("seq")?,
        draft: UsageDraft {
            app_id: row.try_get("app_id")?,
            message_id: row.try_get("message_id")?,
            fingerprint: row.try_get("fingerprint")?,
            user_id: row.try_get("user_id")?,
            user_ref: row.try_get("user_ref")?,
            model: row.try_get("model")?,
            input_tokens: row.try_get("input_tokens")?,
            output_tokens: row.try_get("output_tokens")?,
            usage_source: row.try_get("usage_source")?,
            unknown: row.try_get::<i64, _>("input_tokens")? == 0 && row.try_get::<i64, _>("output_tokens")? == 0,
            cost: amount(row, "cost")?,
            price_version: row.try_get("price_version")?,
            input_per_1k: row.try_get("input_per_1k")?,
            output_per_1k: row.try_get("output_per_1k")?,
            transfer_id: row.try_get("transfer_id")?,
            reservation_id: row.try_get("reservation_id")?,
            reported_price: row.try_get("reported_price")?,
            reported_currency: row.try_get("reported_currency")?,
            conversation_id: row.try_get("conversation_id")?,
        },
        status: row.try_get("status")?,
        charged: amount(row, "charged")?,
        shortfall: amount(row, "shortfall")?,
        balance_after: amount(row, "balance_after")?,
        resolved_by: row.try_get("resolved_by")?,
        resolved_at: row.try_get("resolved_at")?,
        resolution: row.try_get("resolution")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Keeps an event outside the ledger (an unattributed one) unless its
    /// key exists; returns it with its position when it was inserted.
    pub async fn insert_usage_record(&self, event: &UsageEvent) -> Result<Option<UsageEvent>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        insert_usage_event(&mut conn, event).await
    }

    /// The event recorded for (app, message), if any.
    pub async fn usage_event(&self, app_id: i64, message_id: &str) -> Result<Option<UsageEvent>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM usage_events WHERE app_id = $1 AND message_id = $2");
        let row = sqlx::query(&sql).bind(app_id).bind(message_id).fetch_optional(self.pool()).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Events, newest first, optionally of one status, before a cursor.
    pub async fn usage_events(
        &self,
        status: Option<&str>,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<UsageEvent>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM usage_events WHERE ($1 IS NULL OR status = $1) AND seq < $2 \
             ORDER BY seq DESC LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(status)
            .bind(before_seq.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// A page of the events recorded in `[from, to)`: up to `limit` after
    /// position `after_seq`, in log order (for aggregates: pass the last
    /// `seq` of a page to get the next).
    pub async fn usage_events_between(&self, from: i64, to: i64, after_seq: i64, limit: i64) -> Result<Vec<UsageEvent>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM usage_events WHERE {}", crate::codec::time_window_page("usage_events"));
        let rows = sqlx::query(&sql).bind(from).bind(to).bind(after_seq).bind(limit).fetch_all(self.pool()).await?;
        rows.iter().map(from_row).collect()
    }
}
