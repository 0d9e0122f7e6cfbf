//! Storage for Tollway: one code path over SQLite (the embedded default)
//! and PostgreSQL through sqlx's `Any` driver. Amounts are stored as
//! decimal-digit TEXT (exact u128); times as Unix milliseconds.
//!
//! Writes to the ledger go through [`LedgerWriter`], which group-commits
//! concurrent commands in one transaction per batch; accepted payment
//! channel receipts go through [`ReceiptWriter`] the same way. CKB-backed
//! channels keep their chain side in [`ckb_channels`]; background tasks log
//! their runs in [`task_runs`].

mod codec;
mod error;
mod ledger_io;
mod receipt_writer;
mod transaction;
mod writer;

pub mod attribution;
pub mod channels;
pub mod ckb_channels;
pub mod directory;
pub mod evm;
pub mod history;
pub mod hub;
pub mod prices;
pub mod requests;
pub mod task_runs;
pub mod testing;
pub mod usage;
pub mod wallets;

pub use ckb_channels::{KeptCommitment, NewCkbChannel, StoredCkbChannel};
pub use error::{ChannelStoreError, StoreError};
pub use receipt_writer::ReceiptWriter;
pub use task_runs::TaskRun;
pub use writer::{CommandOutcome, LedgerWriter, Record, Submission, WriterConfig, WriterStats};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;
use tollway_core::ledger::{Account, AccountFlags, AccountId};
use tollway_core::Asset;

/// Which SQL database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite, one file in WAL mode.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A connection pool and what it talks to.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
}

impl Store {
    /// Connects to `sqlite://path` (created if missing) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (dialect, url) = if let Some(rest) = url.strip_prefix("sqlite:") {
            let sep = if rest.contains('?') { '&' } else { '?' };
            let url = if rest.contains("mode=") { url.to_owned() } else { format!("{url}{sep}mode=rwc") };
            (Dialect::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Dialect::Postgres, url.to_owned())
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = match dialect {
            Dialect::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
                                 PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
            Dialect::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // Generic plans of `id IN ($1, …, $n)` cannot hash the
                            // list and compare every row with every parameter.
                            conn.execute("SET plan_cache_mode = force_custom_plan").await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
        };
        Ok(Store { pool, dialect })
    }

    /// Applies pending migrations and creates the system accounts.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.dialect {
            Dialect::Sqlite => sqlx::migrate!("migrations/sqlite").run(&self.pool).await?,
            Dialect::Postgres => sqlx::migrate!("migrations/postgres").run(&self.pool).await?,
        }
        let mut system = Vec::new();
        for asset in Asset::ALL {
            system.push(Account::new(AccountId::issuance(asset), asset, AccountFlags::NONE));
            system.push(Account::new(AccountId::revenue(asset), asset, AccountFlags::NONE));
        }
        let mut conn = self.pool.acquire().await?;
        ledger_io::write_accounts(&mut conn, self.dialect, &system, false).await
    }

    /// Creates those of `accounts` that do not exist yet; existing ones are
    /// left as they are.
    pub async fn ensure_accounts(&self, accounts: &[Account]) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        ledger_io::write_accounts(&mut conn, self.dialect, accounts, false).await
    }

    /// The pool, for adapters in this crate.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The SQL dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    /// One round trip to the database.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
