//! Fresh databases for tests: a new SQLite file, or a new database on the
//! PostgreSQL server named by `TOLLWAY_TEST_PG_URL` (`scripts/test.sh`
//! starts one and sets it).

use crate::{Store, StoreError};
use sqlx::any::AnyConnectOptions;
use sqlx::{ConnectOptions, Executor};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("tollway_t{}_{}_{}", std::process::id(), nanos, COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A new SQLite file in the temp directory.
    Sqlite,
    /// A new database on the test PostgreSQL server.
    Postgres,
}

/// The URL of a new, empty database on `backend`.
pub async fn fresh_database_url(backend: Backend) -> Result<String, StoreError> {
    sqlx::any::install_default_drivers();
    match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("{}.db", unique_name()));
            Ok(format!("sqlite://{}", path.display()))
        }
        Backend::Postgres => {
            let base = std::env::var("TOLLWAY_TEST_PG_URL").map_err(|_| {
                StoreError::UnsupportedUrl(
                    "TOLLWAY_TEST_PG_URL is not set: run scripts/test.sh, which starts PostgreSQL".into(),
                )
            })?;
            let name = unique_name();
            let mut conn = AnyConnectOptions::from_str(&base)?.connect().await?;
            conn.execute(format!("CREATE DATABASE {name}").as_str()).await?;
            let (prefix, _) = base.rsplit_once('/').ok_or_else(|| StoreError::UnsupportedUrl(base.clone()))?;
            Ok(format!("{prefix}/{name}"))
        }
    }
}

/// A migrated store on a new, empty database.
pub async fn fresh_store(backend: Backend) -> Result<Store, StoreError> {
    let store = Store::connect(&fresh_database_url(backend).await?).await?;
    store.migrate().await?;
    Ok(store)
}
