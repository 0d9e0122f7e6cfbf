//! The merchant webhook outbox: a delivery row is written in the
//! transaction that changes the session, so no change is announced that
//! did not happen and none is lost; a job sends them with retries.

use super::rows::SessionRow;
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// One webhook delivery (every attempt of it updates the same row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// Its id.
    pub id: i64,
    /// The session it announces.
    pub session_id: String,
    /// `payment.{status}`.
    pub event: String,
    /// Where it goes.
    pub url: String,
    /// The exact body (its HMAC is the signature).
    pub body: String,
    /// `pending`, `delivered` or `failed` (gave up).
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due (Unix ms).
    pub next_attempt_at: i64,
    /// The last HTTP status, if an answer came.
    pub last_status: Option<i64>,
    /// The last error, if any.
    pub last_error: Option<String>,
    /// When written (Unix ms).
    pub created_at: i64,
    /// When delivered (Unix ms).
    pub delivered_at: Option<i64>,
}

fn delivery_from(row: &AnyRow) -> Result<WebhookDelivery, StoreError> {
    Ok(WebhookDelivery {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        event: row.try_get("event")?,
        url: row.try_get("url")?,
        body: row.try_get("body")?,
        state: row.try_get("state")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_status: row.try_get("last_status")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        delivered_at: row.try_get("delivered_at")?,
    })
}

/// Writes a delivery of the session's new state, if it has a webhook.
pub(crate) async fn enqueue(conn: &mut AnyConnection, s: &SessionRow, now: i64) -> Result<(), StoreError> {
    let Some(url) = &s.webhook_url else { return Ok(()) };
    let event = format!("payment.{}", s.state.status.as_str());
    let body = serde_json::json!({
        "type": event,
        "payment_id": s.id,
        "status": s.state.status.as_str(),
        "exception": s.state.exception.map(|e| e.as_str()),
        "network": s.network_id,
        "chain_id": s.chain_id,
        "token": s.token_symbol,
        "token_address": s.token_address.to_string(),
        "amount_units": s.state.amount_due.to_string(),
        "amount_received_units": s.state.confirmed.to_string(),
        "metadata": serde_json::from_str::<serde_json::Value>(&s.metadata).unwrap_or(serde_json::Value::Null),
        "timestamp": now,
    })
    .to_string();
    sqlx::query(
        "INSERT INTO webhook_deliveries (session_id, event, url, body, state, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)",
    )
    .bind(&s.id)
    .bind(event)
    .bind(url)
    .bind(body)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Store {
    /// Pending deliveries due by `now`, oldest first.
    pub async fn due_webhooks(&self, now: i64, limit: i64) -> Result<Vec<WebhookDelivery>, StoreError> {
        let rows = sqlx::query("SELECT * FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY id LIMIT $2")
            .bind(now)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(delivery_from).collect()
    }

    /// Records an attempt: delivered, or the next attempt's time (`None`:
    /// give up, `failed`). Compare-and-set on the attempt count, so two
    /// processes never both record one attempt.
    pub async fn record_webhook_attempt(
        &self,
        d: &WebhookDelivery,
        status: Option<i64>,
        error: Option<&str>,
        delivered: bool,
        next_attempt_at: Option<i64>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let state = match (delivered, next_attempt_at) {
            (true, _) => "delivered",
            (false, Some(_)) => "pending",
            (false, None) => "failed",
        };
        let moved = sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, next_attempt_at = $2, last_status = $3, last_error = $4, \
             delivered_at = $5 WHERE id = $6 AND attempts = $7 AND state = 'pending'",
        )
        .bind(state)
        .bind(next_attempt_at.unwrap_or(now))
        .bind(status)
        .bind(error)
        .bind(delivered.then_some(now))
        .bind(d.id)
        .bind(d.attempts)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(moved == 1)
    }

    /// Claims a due delivery for one attempt (moves its next attempt
    /// `lease_ms` ahead, compare-and-set), so two processes never send the
    /// same attempt. False when another process claimed it.
    pub async fn claim_webhook(&self, d: &WebhookDelivery, lease_ms: i64, now: i64) -> Result<bool, StoreError> {
        let moved = sqlx::query(
            "UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE id = $2 AND attempts = $3 AND state = 'pending' AND next_attempt_at = $4",
        )
        .bind(now + lease_ms)
        .bind(d.id)
        .bind(d.attempts)
        .bind(d.next_attempt_at)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(moved == 1)
    }

    /// Deliveries, newest first (of one session when given).
    pub async fn webhook_deliveries(&self, session_id: Option<&str>, limit: i64) -> Result<Vec<WebhookDelivery>, StoreError> {
        let rows = match session_id {
            Some(id) => sqlx::query("SELECT * FROM webhook_deliveries WHERE session_id = $1 ORDER BY id DESC LIMIT $2").bind(id).bind(limit),
            None => sqlx::query("SELECT * FROM webhook_deliveries ORDER BY id DESC LIMIT $1").bind(limit),
        }
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(delivery_from).collect()
    }

    /// Queues a delivery again (an admin's redelivery): the same body, a
    /// new row, due now. `None` when there is no such delivery.
    pub async fn redeliver_webhook(&self, id: i64, now: i64) -> Result<Option<WebhookDelivery>, StoreError> {
        let Some(row) = sqlx::query("SELECT * FROM webhook_deliveries WHERE id = $1").bind(id).fetch_optional(self.pool()).await? else {
            return Ok(None);
        };
        let old = delivery_from(&row)?;
        let new_id: i64 = sqlx::query_scalar(
            "INSERT INTO webhook_deliveries (session_id, event, url, body, state, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5) RETURNING id",
        )
        .bind(&old.session_id)
        .bind(&old.event)
        .bind(&old.url)
        .bind(&old.body)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        let row = sqlx::query("SELECT * FROM webhook_deliveries WHERE id = $1").bind(new_id).fetch_one(self.pool()).await?;
        delivery_from(&row).map(Some)
    }
}
