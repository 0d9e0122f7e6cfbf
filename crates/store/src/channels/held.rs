//! Held answers (migration 0006): a whole answer paid from a channel
//! waits here until the sub-channel's accepted total reaches the total
//! that pays for it; any process sharing the database hands it over then.

use crate::codec::amount;
use crate::{now_ms, Store, StoreError};
use sqlx::Row;
use tollway_core::channel::{ChannelId, KeyId};
use tollway_core::Amount;

/// An answer waiting for its payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldAnswer {
    /// The sub-channel total at which it is paid.
    pub total: Amount,
    /// The response body (JSON).
    pub body: String,
    /// When it was made, ms since the Unix epoch.
    pub created_at: i64,
}

impl Store {
    /// Keeps `body` for the request `request_hash` on `sub` of `channel`
    /// until the sub-channel's accepted total reaches `total`. An answer
    /// already held for the same request is kept (the first one made is
    /// the one proposed for). Answers made before `expired_before` are
    /// dropped on the way. Returns the answer held now.
    pub async fn hold_answer(
        &self,
        channel: &ChannelId,
        sub: &KeyId,
        request_hash: &str,
        total: Amount,
        body: &str,
        expired_before: i64,
    ) -> Result<HeldAnswer, StoreError> {
        sqlx::query("DELETE FROM held_answers WHERE created_at < $1").bind(expired_before).execute(self.pool()).await?;
        sqlx::query(
            "INSERT INTO held_answers (channel_id, key_id, request_hash, total, body, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (channel_id, key_id, request_hash) DO NOTHING",
        )
        .bind(channel.to_string())
        .bind(sub.to_string())
        .bind(request_hash)
        .bind(total.to_string())
        .bind(body)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        self.held_answer(channel, sub, request_hash, i64::MIN)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("the answer held on {sub} of {channel} vanished")))
    }

    /// The answer held for `request_hash` on `sub` of `channel`, if one
    /// made at or after `made_after` is.
    pub async fn held_answer(&self, channel: &ChannelId, sub: &KeyId, request_hash: &str, made_after: i64) -> Result<Option<HeldAnswer>, StoreError> {
        let row = sqlx::query(
            "SELECT total, body, created_at FROM held_answers WHERE channel_id = $1 AND key_id = $2 AND request_hash = $3 AND created_at >= $4",
        )
        .bind(channel.to_string())
        .bind(sub.to_string())
        .bind(request_hash)
        .bind(made_after)
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(row) => Ok(Some(HeldAnswer { total: amount(&row, "total")?, body: row.try_get("body")?, created_at: row.try_get("created_at")? })),
            None => Ok(None),
        }
    }
}
