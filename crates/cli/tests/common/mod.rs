//! A real `tollway serve` child process for end-to-end tests.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a server may take to print its address (loaded CI machines).
const STARTUP: Duration = Duration::from_secs(60);

static LOGS: AtomicUsize = AtomicUsize::new(0);

// ---------------------------------------------------------------------------
// Server processes
// ---------------------------------------------------------------------------

/// A running `tollway serve` child; killed (SIGKILL) and reaped on drop, so
/// a failing or panicking test never leaves servers behind.
pub struct Server {
    child: Child,
    /// `http://ADDR` it listens on.
    pub base: String,
    stderr_log: PathBuf,
    stdout_lines: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts a server on `database_url` with extra environment variables
    /// (such as `TOLLWAY_MODEL_PATH` or `TOLLWAY_CONFIG`), listening on a
    /// free port, and waits until it prints `tollway listening on http://ADDR`.
    pub async fn start_with(database_url: &str, env: &[(&str, &str)]) -> Server {
        let url = database_url.to_owned();
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        tokio::task::spawn_blocking(move || Server::start_blocking(&url, &env)).await.expect("server start task")
    }

    fn start_blocking(database_url: &str, env: &[(String, String)]) -> Server {
        let stderr_log = std::env::temp_dir().join(format!(
            "tollway-e2e-{}-{}.stderr.log",
            std::process::id(),
            LOGS.fetch_add(1, Ordering::Relaxed)
        ));
        let stderr = std::fs::File::create(&stderr_log).expect("create stderr log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_tollway"))
            .arg("serve")
            .env_remove("TOLLWAY_CONFIG")
            .env("TOLLWAY_LISTEN", "127.0.0.1:0")
            .env("TOLLWAY_DATABASE_URL", database_url)
            .env("TOLLWAY_LOG_JSON", "false")
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawn `tollway serve`");
        let stdout = child.stdout.take().expect("piped stdout");
        // From here on the guard owns the child: a panic below kills it.
        let mut server = Server { child, base: String::new(), stderr_log, stdout_lines: Arc::default() };
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = Arc::clone(&server.stdout_lines);
        // Keeps draining stdout (tracing also writes there) so the child
        // never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.trim().strip_prefix("tollway listening on http://") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr.trim().to_owned());
                    }
                }
                if let Ok(mut l) = lines.lock() {
                    l.push(line);
                }
            }
        });
        match rx.recv_timeout(STARTUP) {
            Ok(addr) => server.base = format!("http://{addr}"),
            Err(e) => {
                let status = server.child.try_wait().ok().flatten();
                panic!(
                    "`tollway serve` did not announce its address ({e}; exit status {status:?})\n{}",
                    server.diagnostics()
                );
            }
        }
        server
    }

    /// Its output so far, for failure messages.
    pub fn diagnostics(&self) -> String {
        let stderr = std::fs::read_to_string(&self.stderr_log).unwrap_or_default();
        let stdout = self.stdout_lines.lock().map(|l| l.join("\n")).unwrap_or_default();
        format!("--- stdout ---\n{stdout}\n--- stderr ({}) ---\n{stderr}", self.stderr_log.display())
    }

    /// SIGKILL (on Unix `Child::kill` sends SIGKILL) and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        // Keep the log of a failed test for diagnosis.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.stderr_log);
        }
    }
}

