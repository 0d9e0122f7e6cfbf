//! Fresh databases for tests: a new SQLite file (in one directory,
//! `tollway-tests` under the temp directory, swept of old files), or a new
//! database on the PostgreSQL server named by `TOLLWAY_TEST_PG_URL`
//! (`scripts/test.sh` starts one and sets it).

use crate::{Store, StoreError};
use sqlx::any::AnyConnectOptions;
use sqlx::{ConnectOptions, Executor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::time::{Duration, SystemTime};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("tollway_t{}_{}_{}", std::process::id(), nanos, COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Where fresh SQLite databases are created.
fn sqlite_dir() -> PathBuf {
    std::env::temp_dir().join("tollway-tests")
}

/// SQLite files untouched for this long are an earlier run's leftovers.
const STALE_AFTER: Duration = Duration::from_secs(60 * 60);

/// Once per process: leftovers are swept before the first fresh file.
static SWEEP: Once = Once::new();

/// Deletes the SQLite databases in `dir` whose name `ours` accepts (with
/// their `-wal`, `-shm` and `-journal` companions) when none of the files
/// of one database changed within [`STALE_AFTER`] and the process that
/// made it (its name starts `tollway_t<pid>_`) is gone. Best effort: every
/// error is ignored (another test process may be sweeping too).
fn sweep(dir: &Path, ours: impl Fn(&str) -> bool) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    // Database name -> (its files, the time the newest of them changed).
    let mut databases: HashMap<String, (Vec<PathBuf>, SystemTime)> = HashMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let base = ["-wal", "-shm", "-journal"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(&name);
        if !base.ends_with(".db") || !ours(base) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let database = databases.entry(base.to_owned()).or_insert((Vec::new(), SystemTime::UNIX_EPOCH));
        database.0.push(entry.path());
        database.1 = database.1.max(modified);
    }
    let now = SystemTime::now();
    for (name, (files, modified)) in databases {
        let stale = now.duration_since(modified).is_ok_and(|age| age >= STALE_AFTER);
        if stale && !creator_running(&name) {
            for file in files {
                let _ = std::fs::remove_file(file);
            }
        }
    }
}

/// Whether the process whose id is in `name` (`tollway_t<pid>_…`) still
/// runs; false when that cannot be told (no `/proc`, another name).
fn creator_running(name: &str) -> bool {
    let pid = name.strip_prefix("tollway_t").and_then(|rest| rest.split('_').next()).and_then(|pid| pid.parse::<u32>().ok());
    match pid {
        Some(pid) if pid == std::process::id() => true,
        Some(pid) => Path::new("/proc/self").exists() && Path::new(&format!("/proc/{pid}")).exists(),
        None => false,
    }
}

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A new SQLite file in `tollway-tests` under the temp directory.
    Sqlite,
    /// A new database on the test PostgreSQL server.
    Postgres,
}

/// The URL of a new, empty database on `backend`.
pub async fn fresh_database_url(backend: Backend) -> Result<String, StoreError> {
    sqlx::any::install_default_drivers();
    match backend {
        Backend::Sqlite => {
            let dir = sqlite_dir();
            SWEEP.call_once(|| {
                sweep(&dir, |_| true);
                // Where earlier versions left them, straight in the temp directory.
                sweep(&std::env::temp_dir(), |name| name.starts_with("tollway_t"));
            });
            std::fs::create_dir_all(&dir).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
            let path = dir.join(format!("{}.db", unique_name()));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    fn file(dir: &Path, name: &str, age: Duration) -> PathBuf {
        let path = dir.join(name);
        let file = File::create(&path).expect("create");
        file.set_modified(SystemTime::now() - age).expect("set mtime");
        path
    }

    #[test]
    fn sweep_drops_only_stale_databases_of_gone_processes() {
        let dir = std::env::temp_dir().join(format!("tollway-sweep-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let old = STALE_AFTER + Duration::from_secs(60);
        let young = Duration::from_secs(60);
        // pid_max is at most 2^22: no process has this id.
        let gone = [
            file(&dir, "tollway_t4999999_1_0.db", old),
            file(&dir, "tollway_t4999999_1_0.db-wal", old),
            file(&dir, "tollway_t4999999_1_0.db-shm", old),
        ];
        let kept = [
            // Its WAL changed recently: still in use.
            file(&dir, "tollway_t4999999_2_0.db", old),
            file(&dir, "tollway_t4999999_2_0.db-wal", young),
            // Recent.
            file(&dir, "tollway_t4999999_3_0.db", young),
            // Old, but this process made it.
            file(&dir, &format!("tollway_t{}_4_0.db", std::process::id()), old),
            // Old, but not a database.
            file(&dir, "tollway_t4999999_5_0.txt", old),
        ];
        sweep(&dir, |_| true);
        for path in &gone {
            assert!(!path.exists(), "{} was kept", path.display());
        }
        for path in &kept {
            assert!(path.exists(), "{} was removed", path.display());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
