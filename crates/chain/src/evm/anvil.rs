//! Finding the anvil binary (the conventions of `scripts/anvil.sh`) and
//! running it as a child process whose output is kept for error messages.

use super::EvmError;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// The anvil version `scripts/anvil.sh` installs (its cache is keyed by it).
pub const ANVIL_VERSION: &str = "1.7.1";
/// The npm package `scripts/anvil.sh` installs anvil from.
const ANVIL_PACKAGE: &str = "@foundry-rs/anvil-linux-amd64";
/// How many lines of anvil's output are kept.
const LOG_LINES: usize = 40;

/// The cache folder of `scripts/anvil.sh` (and `pg.sh`, `ckb.sh`):
/// `$TOLLWAY_CACHE`, else `/var/cache/tollway` as root, else `~/.cache/tollway`.
fn cache_dir() -> Option<PathBuf> {
    if let Some(cache) = std::env::var_os("TOLLWAY_CACHE").filter(|c| !c.is_empty()) {
        return Some(PathBuf::from(cache));
    }
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    if root {
        return Some(PathBuf::from("/var/cache/tollway"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/tollway"))
}

/// Where `scripts/anvil.sh` puts the binary, under `cache`.
fn cached_binary(cache: &Path) -> PathBuf {
    cache.join(format!("anvil-{ANVIL_VERSION}")).join("node_modules").join(ANVIL_PACKAGE).join("bin").join("anvil")
}

/// Finds the anvil binary: `TOLLWAY_ANVIL_BIN` if set; else where
/// `scripts/anvil.sh` caches it; else it runs `scripts/anvil.sh` (which
/// installs it from npm, once) found in the current directory or the
/// nearest parent that has one, and takes the path it prints. Blocks
/// while the script runs (about a second when it installs).
pub fn find_anvil() -> Result<PathBuf, EvmError> {
    if let Some(bin) = std::env::var_os("TOLLWAY_ANVIL_BIN").filter(|b| !b.is_empty()) {
        let bin = PathBuf::from(bin);
        return if bin.is_file() {
            Ok(bin)
        } else {
            Err(EvmError::AnvilMissing(format!("TOLLWAY_ANVIL_BIN={} is not a file", bin.display())))
        };
    }
    let cached = cache_dir().map(|cache| cached_binary(&cache));
    if let Some(bin) = cached.as_ref().filter(|bin| bin.is_file()) {
        return Ok(bin.clone());
    }
    let cwd = std::env::current_dir().map_err(|e| EvmError::io("reading the current directory", e))?;
    let Some(script) = cwd.ancestors().map(|dir| dir.join("scripts").join("anvil.sh")).find(|s| s.is_file()) else {
        let looked = cached.map_or_else(|| "no cache folder".to_owned(), |bin| bin.display().to_string());
        return Err(EvmError::AnvilMissing(format!("not at {looked}, and no scripts/anvil.sh in {} or above", cwd.display())));
    };
    let out = std::process::Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| EvmError::io(format!("running {}", script.display()), e))?;
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || !Path::new(&printed).is_file() {
        return Err(EvmError::AnvilMissing(format!("{} failed ({}), printed {printed:?}", script.display(), out.status)));
    }
    Ok(PathBuf::from(printed))
}

/// The last lines anvil printed.
#[derive(Debug, Clone, Default)]
pub(crate) struct OutputTail(Arc<Mutex<VecDeque<String>>>);

impl OutputTail {
    fn push(&self, line: String) {
        let mut lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() == LOG_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    pub(crate) fn text(&self) -> String {
        let lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Reads `stream` line by line until it closes (so the pipe never fills).
    fn drain(&self, stream: impl AsyncRead + Unpin + Send + 'static) {
        let tail = self.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tail.push(line);
            }
        });
    }
}

/// A running anvil; stopped when dropped: SIGTERM first (so it writes its
/// `--state` file), SIGKILL if it has not exited within 3 s.
#[derive(Debug)]
pub(crate) struct AnvilProcess {
    child: Child,
    /// Its output's last lines.
    pub(crate) output: OutputTail,
}

impl AnvilProcess {
    /// Starts `bin` with `args`, its output drained into an [`OutputTail`].
    pub(crate) fn spawn(bin: &Path, args: &[String]) -> Result<AnvilProcess, EvmError> {
        let mut child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| EvmError::io(format!("starting {}", bin.display()), e))?;
        let output = OutputTail::default();
        if let Some(stdout) = child.stdout.take() {
            output.drain(stdout);
        }
        if let Some(stderr) = child.stderr.take() {
            output.drain(stderr);
        }
        Ok(AnvilProcess { child, output })
    }

    /// The exit status, if it has exited.
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stops it: SIGTERM, then SIGKILL after 5 s.
    pub(crate) async fn stop(mut self) -> Result<(), EvmError> {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
        }
        match tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await {
            Ok(done) => done.map(drop).map_err(|e| EvmError::io("waiting for anvil to stop", e)),
            Err(_) => self.child.kill().await.map_err(|e| EvmError::io("killing anvil", e)),
        }
    }
}

impl Drop for AnvilProcess {
    fn drop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        let Some(pid) = self.child.id() else { return };
        if std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().is_err() {
            return;
        }
        for _ in 0..60 {
            if self.exited().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Still running: the child's kill_on_drop sends SIGKILL.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_path_is_the_one_scripts_anvil_sh_uses() {
        let script = include_str!("../../../../scripts/anvil.sh");
        assert!(script.contains(&format!("\nversion={ANVIL_VERSION}\n")), "scripts/anvil.sh pins another version");
        assert!(script.contains(&format!("\npackage={ANVIL_PACKAGE}\n")));
        assert!(script.contains(r#"bin="$root/node_modules/$package/bin/anvil""#));
        assert!(script.contains(r#"root="$cache/anvil-$version""#));
        assert_eq!(
            cached_binary(Path::new("/c")),
            PathBuf::from("/c/anvil-1.7.1/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
        );
    }

    #[test]
    fn the_output_tail_keeps_the_last_lines() {
        let tail = OutputTail::default();
        for i in 0..100 {
            tail.push(format!("line {i}"));
        }
        let text = tail.text();
        assert_eq!(text.lines().count(), LOG_LINES);
        assert!(text.starts_with("line 60\n") && text.ends_with("line 99"), "{text}");
    }
}
