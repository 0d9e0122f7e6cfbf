//! Unattributed usage events (reported for a user who is unknown or
//! disabled, kept with nothing charged) and their resolution by an admin:
//! `unattributed` → `resolving` (the user and the admin are recorded) →
//! the charge's outcome (`charged`, `arrears`, `usage_unknown`); or
//! `unattributed` → `dismissed` with a reason. Each step is one
//! conditional update, so two admins cannot both take the same event; the
//! charge in between is idempotent by its transfer id, so a resolution
//! interrupted after `resolving` is finished by resolving again.
//!
//! The per-app sources (where an app's reports name the user and the
//! model) are here too: they decide what becomes unattributed.

use crate::usage::{from_row, UsageEvent, COLUMNS, UNATTRIBUTED};
use crate::{Store, StoreError};
use sqlx::Row;

/// Status of an event an admin is resolving.
pub const RESOLVING: &str = "resolving";
/// Status of an event an admin dismissed.
pub const DISMISSED: &str = "dismissed";

/// Where an app's reports name the user and the model, in their stored
/// form (`kind:value`; `None` for the built-in places).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredSources {
    /// The user source.
    pub user: Option<String>,
    /// The model source.
    pub model: Option<String>,
}

impl Store {
    /// A usage event by position.
    pub async fn usage_event_at(&self, seq: i64) -> Result<Option<UsageEvent>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM usage_events WHERE seq = $1");
        let row = sqlx::query(&sql).bind(seq).fetch_optional(self.pool()).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Moves an unattributed event to `resolving` for `user_id`, recording
    /// the admin (`None` when the server attributes it itself), the time
    /// and the note. `None` when the event is not unattributed (any more).
    pub async fn start_resolution(
        &self,
        seq: i64,
        user_id: i64,
        admin: Option<i64>,
        note: &str,
        now: i64,
    ) -> Result<Option<UsageEvent>, StoreError> {
        let sql = format!(
            "UPDATE usage_events SET status = '{RESOLVING}', user_id = $2, resolved_by = $3, resolved_at = $4, \
             resolution = $5 WHERE seq = $1 AND status = '{UNATTRIBUTED}' RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql).bind(seq).bind(user_id).bind(admin).bind(now).bind(note).fetch_optional(self.pool()).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Records the charge's outcome on an event being resolved. `None`
    /// when it is not `resolving` (another call finished it first).
    pub async fn finish_resolution(&self, outcome: &UsageEvent) -> Result<Option<UsageEvent>, StoreError> {
        let sql = format!(
            "UPDATE usage_events SET status = $2, charged = $3, shortfall = $4, balance_after = $5, transfer_id = $6 \
             WHERE seq = $1 AND status = '{RESOLVING}' RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(outcome.seq)
            .bind(&outcome.status)
            .bind(outcome.charged.to_string())
            .bind(outcome.shortfall.to_string())
            .bind(outcome.balance_after.to_string())
            .bind(outcome.draft.transfer_id.clone())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Dismisses an unattributed event with a reason. `None` when it is not
    /// unattributed (any more).
    pub async fn dismiss_usage(&self, seq: i64, admin: i64, reason: &str, now: i64) -> Result<Option<UsageEvent>, StoreError> {
        let sql = format!(
            "UPDATE usage_events SET status = '{DISMISSED}', resolved_by = $2, resolved_at = $3, resolution = $4 \
             WHERE seq = $1 AND status = '{UNATTRIBUTED}' RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql).bind(seq).bind(admin).bind(now).bind(reason).fetch_optional(self.pool()).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// An app's sources; `None` for an unknown app.
    pub async fn app_sources(&self, app_id: i64) -> Result<Option<StoredSources>, StoreError> {
        let row = sqlx::query("SELECT user_source, model_source FROM apps WHERE id = $1")
            .bind(app_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| Ok(StoredSources { user: r.try_get("user_source")?, model: r.try_get("model_source")? })).transpose()
    }

    /// Sets both of an app's sources.
    pub async fn set_app_sources(&self, app_id: i64, sources: &StoredSources) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE apps SET user_source = $1, model_source = $2 WHERE id = $3")
            .bind(sources.user.clone())
            .bind(sources.model.clone())
            .bind(app_id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("app {app_id}")));
        }
        Ok(())
    }
}
