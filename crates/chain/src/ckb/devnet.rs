//! A local CKB development chain from the real `ckb` binary: a
//! reproducible genesis (fixed message, funded test accounts), the
//! `Indexer` and `IntegrationTest` RPC modules, and blocks mined on
//! demand (`generate_block`), so tests need no miner and no waiting.
//!
//! The chain lives in a folder; starting again on the same folder goes on
//! with the same chain (a restarted node keeps every block).

use super::accounts::{TestAccount, SIGHASH_TYPE_HASH, TEST_ACCOUNT_CKB};
use super::{ChainError, Rpc};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// The genesis message: part of the genesis hash, so every Tollway devnet
/// has the same genesis.
pub const GENESIS_MESSAGE: &str = "tollway-devnet";
/// The funded test accounts.
const ACCOUNTS: u32 = 4;
/// The RPC modules the devnet enables.
const RPC_MODULES: &str =
    r#"modules = ["Net", "Pool", "Miner", "Chain", "Stats", "Experiment", "Debug", "Indexer", "IntegrationTest"]"#;
/// How long the node may take to answer after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Where and how to run the devnet.
#[derive(Debug, Clone)]
pub struct DevnetConfig {
    /// The `ckb` binary.
    pub binary: PathBuf,
    /// The chain's folder (config, spec, data, node.log).
    pub dir: PathBuf,
    /// JSON-RPC port on 127.0.0.1.
    pub rpc_port: u16,
    /// P2P port on 127.0.0.1.
    pub p2p_port: u16,
}

/// A running devnet node; stopped when dropped.
pub struct Devnet {
    config: DevnetConfig,
    child: Option<Child>,
    rpc: Rpc,
}

fn port_free(port: u16) -> Result<(), ChainError> {
    TcpListener::bind(("127.0.0.1", port)).map(drop).map_err(|_| ChainError::PortTaken(port))
}

/// The last lines of the node's log, for an error message.
fn log_tail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("node.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

impl DevnetConfig {
    /// The test accounts the genesis funds (account 0 also gets the mining rewards).
    pub fn accounts(&self) -> Vec<TestAccount> {
        TestAccount::first(ACCOUNTS)
    }

    /// Creates the chain's folder unless it exists: `ckb init` for the dev
    /// chain, then the RPC modules and the funded accounts.
    pub async fn init(&self) -> Result<(), ChainError> {
        if self.dir.join("ckb.toml").exists() {
            return Ok(());
        }
        if !self.binary.is_file() {
            return Err(ChainError::BinaryMissing(self.binary.clone()));
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| ChainError::io(format!("creating {}", self.dir.display()), e))?;
        let miner = format!("0x{}", hex::encode(TestAccount::nth(0).lock_args().0));
        let out = Command::new(&self.binary)
            .arg("init")
            .arg("-C")
            .arg(&self.dir)
            .args(["--chain", "dev", "--genesis-message", GENESIS_MESSAGE, "--ba-code-hash", SIGHASH_TYPE_HASH])
            .args(["--ba-hash-type", "type", "--ba-arg", &miner, "--force"])
            .args(["--rpc-port", &self.rpc_port.to_string(), "--p2p-port", &self.p2p_port.to_string()])
            .output()
            .await
            .map_err(|e| ChainError::io(format!("running {} init", self.binary.display()), e))?;
        if !out.status.success() {
            return Err(ChainError::NodeDidNotStart(format!("ckb init failed: {}", String::from_utf8_lossy(&out.stderr))));
        }
        self.enable_rpc_modules()?;
        self.fund_accounts()
    }

    fn enable_rpc_modules(&self) -> Result<(), ChainError> {
        let path = self.dir.join("ckb.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| ChainError::io("reading ckb.toml", e))?;
        let mut replaced = false;
        let lines: Vec<String> = text
            .lines()
            .map(|l| {
                if !replaced && l.trim_start().starts_with("modules = [") {
                    replaced = true;
                    RPC_MODULES.to_owned()
                } else {
                    l.to_owned()
                }
            })
            .collect();
        if !replaced {
            return Err(ChainError::NodeDidNotStart("ckb.toml has no rpc modules line to extend".into()));
        }
        std::fs::write(&path, lines.join("\n") + "\n").map_err(|e| ChainError::io("writing ckb.toml", e))
    }

    fn fund_accounts(&self) -> Result<(), ChainError> {
        let path = self.dir.join("specs").join("dev.toml");
        let mut spec = std::fs::read_to_string(&path).map_err(|e| ChainError::io("reading specs/dev.toml", e))?;
        spec.push_str("\n# Tollway's devnet test accounts (crates/chain/src/ckb/accounts.rs).\n");
        for account in self.accounts() {
            spec.push_str(&format!(
                "[[genesis.issued_cells]]\ncapacity = {}\nlock.code_hash = \"{SIGHASH_TYPE_HASH}\"\nlock.args = \"0x{}\"\nlock.hash_type = \"type\"\n\n",
                u128::from(TEST_ACCOUNT_CKB) * u128::from(tollway_core::ckb::CKB),
                hex::encode(account.lock_args().0),
            ));
        }
        std::fs::write(&path, spec).map_err(|e| ChainError::io("writing specs/dev.toml", e))
    }
}

impl Devnet {
    /// Initializes the folder if needed and starts the node (with its
    /// indexer); answers once the RPC does. Its log is `node.log` there.
    pub async fn start(config: DevnetConfig) -> Result<Devnet, ChainError> {
        if !config.binary.is_file() {
            return Err(ChainError::BinaryMissing(config.binary.clone()));
        }
        port_free(config.rpc_port)?;
        port_free(config.p2p_port)?;
        config.init().await?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(config.dir.join("node.log"))
            .map_err(|e| ChainError::io("opening node.log", e))?;
        let err_log = log.try_clone().map_err(|e| ChainError::io("opening node.log", e))?;
        let child = Command::new(&config.binary)
            .arg("run")
            .arg("-C")
            .arg(&config.dir)
            .arg("--indexer")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ChainError::io(format!("starting {}", config.binary.display()), e))?;
        let rpc = Rpc::new(format!("http://127.0.0.1:{}", config.rpc_port));
        let mut devnet = Devnet { config, child: Some(child), rpc };
        devnet.wait_ready().await?;
        Ok(devnet)
    }

    async fn wait_ready(&mut self) -> Result<(), ChainError> {
        let started = Instant::now();
        loop {
            if self.rpc.tip_block_number().await.is_ok() {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(ChainError::NodeDidNotStart(format!("ckb exited ({status}):\n{}", log_tail(&self.config.dir))));
                }
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(ChainError::NodeDidNotStart(format!("no RPC answer in {} s:\n{}", START_TIMEOUT.as_secs(), log_tail(&self.config.dir))));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The node's RPC client.
    pub fn rpc(&self) -> &Rpc {
        &self.rpc
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &DevnetConfig {
        &self.config
    }

    /// Stops the node cleanly (SIGTERM, then SIGKILL after 10 s).
    pub async fn stop(mut self) -> Result<(), ChainError> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        if let Some(pid) = child.id() {
            let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
        }
        match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
            Ok(done) => done.map(drop).map_err(|e| ChainError::io("waiting for ckb to stop", e)),
            Err(_) => child.kill().await.map_err(|e| ChainError::io("killing ckb", e)),
        }
    }

    /// Kills the node at once (SIGKILL), as a crash would.
    pub async fn kill(mut self) -> Result<(), ChainError> {
        match self.child.take() {
            Some(mut child) => child.kill().await.map_err(|e| ChainError::io("killing ckb", e)),
            None => Ok(()),
        }
    }
}
