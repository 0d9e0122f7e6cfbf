//! Wallet login's storage (migration 0008): login challenges, used once
//! (a compare-and-set on `used_at`), and the wallets linked to users.

use crate::{now_ms, Store, StoreError};
use sqlx::Row;

/// A challenge as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChallenge {
    /// Its random identity.
    pub nonce: String,
    /// The key id (`0x` hex) that may answer it.
    pub key_id: String,
    /// The exact text to be signed.
    pub text: String,
    /// When it stops being accepted (Unix ms).
    pub expires_at: i64,
    /// When it was used, if it was.
    pub used_at: Option<i64>,
}

impl Store {
    /// Keeps a new challenge; old ones (expired before `now_ms() - 1 h`) are
    /// dropped on the way.
    pub async fn add_login_challenge(&self, nonce: &str, key_id: &str, text: &str, expires_at: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_challenges WHERE expires_at < $1").bind(now_ms() - 3_600_000).execute(self.pool()).await?;
        sqlx::query("INSERT INTO login_challenges (nonce, key_id, text, expires_at, used_at) VALUES ($1, $2, $3, $4, NULL)")
            .bind(nonce)
            .bind(key_id)
            .bind(text)
            .bind(expires_at)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A challenge by its nonce.
    pub async fn login_challenge(&self, nonce: &str) -> Result<Option<StoredChallenge>, StoreError> {
        let row = sqlx::query("SELECT nonce, key_id, text, expires_at, used_at FROM login_challenges WHERE nonce = $1")
            .bind(nonce)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok(StoredChallenge {
                nonce: r.try_get("nonce")?,
                key_id: r.try_get("key_id")?,
                text: r.try_get("text")?,
                expires_at: r.try_get("expires_at")?,
                used_at: r.try_get("used_at")?,
            })
        })
        .transpose()
    }

    /// Marks a challenge used; false if it already was (only one caller
    /// ever gets true for a challenge).
    pub async fn use_login_challenge(&self, nonce: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE login_challenges SET used_at = $1 WHERE nonce = $2 AND used_at IS NULL")
            .bind(now_ms())
            .bind(nonce)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The user a wallet belongs to, if it is linked.
    pub async fn wallet_user(&self, key_id: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT user_id FROM wallets WHERE key_id = $1").bind(key_id).fetch_optional(self.pool()).await?;
        row.map(|r| r.try_get("user_id").map_err(StoreError::from)).transpose()
    }

    /// The wallet key id linked to `user_id`, if one is (the first linked).
    pub async fn wallet_of_user(&self, user_id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT key_id FROM wallets WHERE user_id = $1 ORDER BY created_at, key_id LIMIT 1")
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| r.try_get("key_id").map_err(StoreError::from)).transpose()
    }

    /// Links a wallet to `user_id` unless it is linked already; the user it
    /// belongs to now.
    pub async fn link_wallet(&self, key_id: &str, public_key: &str, user_id: i64) -> Result<i64, StoreError> {
        sqlx::query("INSERT INTO wallets (key_id, public_key, user_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (key_id) DO NOTHING")
            .bind(key_id)
            .bind(public_key)
            .bind(user_id)
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        self.wallet_user(key_id).await?.ok_or_else(|| StoreError::Corrupt(format!("wallet {key_id} vanished")))
    }
}
