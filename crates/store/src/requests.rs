//! Request records: one row per call through the AI gateway, keyed by the
//! gateway's request id and committed with the charge it caused.

use crate::codec::amount;
use crate::{Store, StoreError};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use tollway_core::Amount;

/// One gateway request, as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    /// The gateway's request id (`chatcmpl-…`): the idempotency key.
    pub id: String,
    /// The user charged.
    pub user_id: i64,
    /// The API key the request came with, if any.
    pub key_id: Option<i64>,
    /// The model name the client asked for.
    pub model: String,
    /// `local` or the configured name of the upstream that answered.
    pub upstream: String,
    /// True for a streamed answer.
    pub stream: bool,
    /// Prompt tokens.
    pub input_tokens: i64,
    /// Completion tokens delivered.
    pub output_tokens: i64,
    /// Where the counts came from: `upstream`, `tokenizer`, `heuristic` or
    /// `counted`.
    pub usage_source: String,
    /// How the request ended: `stop`, `length`, `insufficient_points`,
    /// `spend_cap_reached`, `disconnected`, `upstream_error`, …
    pub status: String,
    /// Points actually charged.
    pub cost: Amount,
    /// Price rule version applied.
    pub price_version: Option<i64>,
    /// When the request arrived (Unix ms).
    pub started_at: i64,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
    /// When it was recorded (Unix ms).
    pub created_at: i64,
}

/// A stored request record and its position in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredRequest {
    /// Position in the log (cursor).
    pub seq: i64,
    /// The recorded fields.
    #[serde(flatten)]
    pub record: RequestRecord,
}

/// Which requests to list; `None` fields do not filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestFilter {
    /// Only this user's requests.
    pub user_id: Option<i64>,
    /// Only requests made with this API key.
    pub key_id: Option<i64>,
}

const COLUMNS: &str = "seq, id, user_id, key_id, model, upstream, stream, input_tokens, output_tokens, \
    usage_source, status, cost, price_version, started_at, duration_ms, created_at";

/// Inserts a record unless one with its id exists.
pub(crate) async fn insert_request(conn: &mut AnyConnection, r: &RequestRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO requests (id, user_id, key_id, model, upstream, stream, input_tokens, output_tokens, \
         usage_source, status, cost, price_version, started_at, duration_ms, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&r.id)
    .bind(r.user_id)
    .bind(r.key_id)
    .bind(&r.model)
    .bind(&r.upstream)
    .bind(i64::from(r.stream))
    .bind(r.input_tokens)
    .bind(r.output_tokens)
    .bind(&r.usage_source)
    .bind(&r.status)
    .bind(r.cost.to_string())
    .bind(r.price_version)
    .bind(r.started_at)
    .bind(r.duration_ms)
    .bind(r.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn from_row(row: &AnyRow) -> Result<StoredRequest, StoreError> {
    Ok(StoredRequest {
        seq: row.try_get("seq")?,
        record: RequestRecord {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            key_id: row.try_get("key_id")?,
            model: row.try_get("model")?,
            upstream: row.try_get("upstream")?,
            stream: row.try_get::<i64, _>("stream")? != 0,
            input_tokens: row.try_get("input_tokens")?,
            output_tokens: row.try_get("output_tokens")?,
            usage_source: row.try_get("usage_source")?,
            status: row.try_get("status")?,
            cost: amount(row, "cost")?,
            price_version: row.try_get("price_version")?,
            started_at: row.try_get("started_at")?,
            duration_ms: row.try_get("duration_ms")?,
            created_at: row.try_get("created_at")?,
        },
    })
}

impl Store {
    /// Requests matching `filter`, newest first, before a cursor.
    pub async fn requests(
        &self,
        filter: &RequestFilter,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<StoredRequest>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM requests WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR key_id = $2) \
             AND seq < $3 ORDER BY seq DESC LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(filter.user_id)
            .bind(filter.key_id)
            .bind(before_seq.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// A page of the requests recorded in `[from, to)`: up to `limit` after
    /// position `after_seq`, in log order (for aggregates: pass the last
    /// `seq` of a page to get the next).
    pub async fn requests_between(&self, from: i64, to: i64, after_seq: i64, limit: i64) -> Result<Vec<StoredRequest>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM requests WHERE {}", crate::codec::time_window_page("requests"));
        let rows = sqlx::query(&sql).bind(from).bind(to).bind(after_seq).bind(limit).fetch_all(self.pool()).await?;
        rows.iter().map(from_row).collect()
    }
}
