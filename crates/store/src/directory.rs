//! Users, their API keys (with optional per-key limits), and the apps
//! (Dify integrations) that report usage. Keys are stored only as SHA-256
//! hashes.

use crate::codec::opt_amount;
use crate::ledger_io::write_accounts;
use crate::{now_ms, Store, StoreError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;
use tollway_core::ledger::{Account, AccountFlags, AccountId};
use tollway_core::{Amount, Asset};

/// A Tollway user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Numeric id.
    pub id: i64,
    /// Unique handle; also the `user_id` apps report.
    pub handle: String,
    /// `user` or `admin`.
    pub role: String,
    /// Disabled users cannot call the API or be charged.
    pub enabled: bool,
    /// Creation time (Unix ms).
    pub created_at: i64,
}

impl User {
    /// True for administrators.
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

/// A user's API key (its secret is never stored) and its limits; a `None`
/// limit means none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    /// Numeric id.
    pub id: i64,
    /// The user it authenticates.
    pub user_id: i64,
    /// The first characters of the secret, to recognise it by.
    pub prefix: String,
    /// A label chosen when it was created.
    pub label: String,
    /// Most requests per minute.
    pub rpm_limit: Option<u32>,
    /// Most tokens (prompt and completion) per minute.
    pub tpm_limit: Option<u64>,
    /// Most points the key may spend.
    pub spend_cap: Option<Amount>,
    /// Creation time (Unix ms).
    pub created_at: i64,
    /// When it was revoked (Unix ms); revoked keys authenticate nothing.
    pub revoked_at: Option<i64>,
    /// When it stops authenticating (Unix ms): a wallet login's session.
    pub expires_at: Option<i64>,
}

/// An app that reports usage through the webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// Numeric id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// The HMAC secret its requests are signed with.
    pub signing_secret: String,
    /// Disabled apps are refused.
    pub enabled: bool,
}

/// Hex SHA-256 of a secret, the form keys are stored and looked up in.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get("id")?,
        handle: row.try_get("handle")?,
        role: row.try_get("role")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

/// The columns `key_from_row` reads, named apart from the user's.
const KEY_COLUMNS: &str = "id AS key_id, user_id AS key_user_id, prefix, label, rpm_limit, tpm_limit, spend_cap, \
    created_at AS key_created_at, revoked_at, expires_at";

/// Reads a nullable integer column into the narrower type it was written from.
fn opt_int<T: TryFrom<i64>>(row: &AnyRow, col: &str) -> Result<Option<T>, StoreError> {
    let value: Option<i64> = row.try_get(col)?;
    value.map(|n| T::try_from(n).map_err(|_| StoreError::Corrupt(format!("{col}: {n}")))).transpose()
}

fn key_from_row(row: &AnyRow) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: row.try_get("key_id")?,
        user_id: row.try_get("key_user_id")?,
        prefix: row.try_get("prefix")?,
        label: row.try_get("label")?,
        rpm_limit: opt_int(row, "rpm_limit")?,
        tpm_limit: opt_int(row, "tpm_limit")?,
        spend_cap: opt_amount(row, "spend_cap")?,
        created_at: row.try_get("key_created_at")?,
        revoked_at: row.try_get("revoked_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

impl Store {
    /// Creates a user with their wallet and arrears accounts.
    pub async fn create_user(&self, handle: &str, admin: bool) -> Result<User, StoreError> {
        let mut tx = self.pool().begin().await?;
        let role = if admin { "admin" } else { "user" };
        let row = sqlx::query(
            "INSERT INTO users (handle, role, enabled, created_at) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (handle) DO NOTHING RETURNING id, handle, role, enabled, created_at",
        )
        .bind(handle)
        .bind(role)
        .bind(now_ms())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::Conflict(format!("user {handle:?}")))?;
        let user = user_from_row(&row)?;
        let accounts = [
            Account::new(AccountId::user_wallet(user.id, Asset::POINTS), Asset::POINTS, AccountFlags::WALLET),
            Account::new(AccountId::user_arrears(user.id, Asset::POINTS), Asset::POINTS, AccountFlags::DEBT),
        ];
        write_accounts(&mut tx, self.dialect(), &accounts, false).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// A user by id.
    pub async fn user(&self, id: i64) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT id, handle, role, enabled, created_at FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// A user by handle.
    pub async fn user_by_handle(&self, handle: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT id, handle, role, enabled, created_at FROM users WHERE handle = $1")
            .bind(handle)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Users in id order after `after_id`.
    pub async fn users(&self, after_id: i64, limit: i64) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, handle, role, enabled, created_at FROM users WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Enables or disables a user.
    pub async fn set_user_enabled(&self, id: i64, enabled: bool) -> Result<User, StoreError> {
        let row = sqlx::query(
            "UPDATE users SET enabled = $1 WHERE id = $2 RETURNING id, handle, role, enabled, created_at",
        )
        .bind(i64::from(enabled))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user {id}")))?;
        user_from_row(&row)
    }

    /// Stores a new API key (given in plain text, kept hashed) for a user.
    pub async fn add_api_key(&self, user_id: i64, key: &str, label: &str) -> Result<i64, StoreError> {
        self.add_expiring_key(user_id, key, label, None).await
    }

    /// Adds an API key that stops authenticating at `expires_at` (Unix
    /// ms; `None`: never), e.g. a wallet login's session; returns its id.
    pub async fn add_expiring_key(&self, user_id: i64, key: &str, label: &str, expires_at: Option<i64>) -> Result<i64, StoreError> {
        let prefix: String = key.chars().take(10).collect();
        let row = sqlx::query(
            "INSERT INTO api_keys (user_id, key_hash, prefix, label, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING id",
        )
        .bind(user_id)
        .bind(hash_secret(key))
        .bind(prefix)
        .bind(label)
        .bind(now_ms())
        .bind(expires_at)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("id")?)
    }

    /// The user an unrevoked API key belongs to, and the key.
    pub async fn key_by_secret(&self, secret: &str) -> Result<Option<(User, ApiKey)>, StoreError> {
        let sql = format!(
            "SELECT u.id, u.handle, u.role, u.enabled, u.created_at, k.* FROM users u JOIN \
             (SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL) k ON u.id = k.key_user_id"
        );
        let row = sqlx::query(&sql).bind(hash_secret(secret)).fetch_optional(self.pool()).await?;
        row.map(|r| Ok((user_from_row(&r)?, key_from_row(&r)?))).transpose()
    }

    /// An API key by id, revoked or not.
    pub async fn api_key(&self, id: i64) -> Result<Option<ApiKey>, StoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(key_from_row).transpose()
    }

    /// A user's API keys, revoked ones included, in id order.
    pub async fn api_keys_of(&self, user_id: i64) -> Result<Vec<ApiKey>, StoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY id");
        let rows = sqlx::query(&sql).bind(user_id).fetch_all(self.pool()).await?;
        rows.iter().map(key_from_row).collect()
    }

    /// Sets (or, with `None`, clears) an API key's limits; the database
    /// refuses a zero rate limit.
    pub async fn set_key_limits(
        &self,
        id: i64,
        rpm: Option<u32>,
        tpm: Option<u64>,
        spend_cap: Option<Amount>,
    ) -> Result<ApiKey, StoreError> {
        let tpm = tpm.map(|n| i64::try_from(n).map_err(|_| StoreError::OutOfRange(format!("tpm_limit {n}"))));
        let tpm = tpm.transpose()?;
        let sql = format!(
            "UPDATE api_keys SET rpm_limit = $1, tpm_limit = $2, spend_cap = $3 WHERE id = $4 RETURNING {KEY_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(rpm.map(i64::from))
            .bind(tpm)
            .bind(spend_cap.map(|a| a.to_string()))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("api key {id}")))?;
        key_from_row(&row)
    }

    /// Registers an app with its API key (kept hashed) and signing secret.
    pub async fn create_app(&self, name: &str, key: &str, signing_secret: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO apps (name, key_hash, signing_secret, enabled, created_at) VALUES ($1, $2, $3, 1, $4) \
             ON CONFLICT (name) DO NOTHING RETURNING id",
        )
        .bind(name)
        .bind(hash_secret(key))
        .bind(signing_secret)
        .bind(now_ms())
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::Conflict(format!("app {name:?}")))?;
        Ok(row.try_get("id")?)
    }

    /// The app an API key belongs to.
    pub async fn app_by_key(&self, key: &str) -> Result<Option<App>, StoreError> {
        let row = sqlx::query("SELECT id, name, signing_secret, enabled FROM apps WHERE key_hash = $1")
            .bind(hash_secret(key))
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| -> Result<App, StoreError> {
            Ok(App {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                signing_secret: r.try_get("signing_secret")?,
                enabled: r.try_get::<i64, _>("enabled")? != 0,
            })
        })
        .transpose()
    }
}
