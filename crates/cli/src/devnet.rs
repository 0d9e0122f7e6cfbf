//! `tollway devnet …`: a local CKB development chain for trying the CKB
//! rail and for the tests (docs/ckb.md). The node binary comes from
//! scripts/ckb.sh (built once into a cache); nothing is downloaded here.

use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Duration;
use tollway_chain::ckb::{Devnet, DevnetConfig, Rpc, TestAccount, TEST_ACCOUNT_CKB};

/// The number of test accounts printed.
const ACCOUNTS: u32 = 4;

/// Devnet commands.
#[derive(Subcommand)]
pub enum DevnetCmd {
    /// Starts the node in the foreground (Ctrl-C stops it); the chain
    /// lives in `--dir` and goes on where it stopped.
    Start(StartArgs),
    /// Mines blocks now on a running devnet.
    Mine {
        /// The node's RPC URL.
        #[arg(long, default_value = "http://127.0.0.1:8114")]
        rpc: String,
        /// How many blocks.
        #[arg(default_value_t = 1)]
        blocks: u64,
    },
    /// Prints the funded test accounts and their secret keys (devnet only).
    Accounts,
}

/// `tollway devnet start`.
#[derive(Args)]
pub struct StartArgs {
    /// The chain's folder.
    #[arg(long, default_value = "data/devnet")]
    dir: PathBuf,
    /// The `ckb` binary (default: the cache scripts/ckb.sh fills).
    #[arg(long, env = "TOLLWAY_CKB_BIN")]
    ckb_bin: Option<PathBuf>,
    /// JSON-RPC port on 127.0.0.1.
    #[arg(long, default_value_t = 8114)]
    rpc_port: u16,
    /// P2P port on 127.0.0.1.
    #[arg(long, default_value_t = 8115)]
    p2p_port: u16,
    /// Also mine a block every this many milliseconds (0: only on demand).
    #[arg(long, default_value_t = 0)]
    block_interval_ms: u64,
}

/// Where scripts/ckb.sh puts the node binary: `$TOLLWAY_CACHE`, else
/// /var/cache/tollway for root, else ~/.cache/tollway.
fn cached_binary() -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let cache = std::env::var_os("TOLLWAY_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        // /proc/self belongs to the process's user.
        let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        if root {
            PathBuf::from("/var/cache/tollway")
        } else {
            std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default().join(".cache/tollway")
        }
    });
    cache.join("ckb-0.210.0/bin/ckb")
}

fn print_accounts() {
    for account in TestAccount::first(ACCOUNTS) {
        println!(
            "account {}: lock args 0x{}  secret key {}  {} CKB{}",
            account.index,
            hex::encode(account.lock_args().0),
            account.secret_hex(),
            TEST_ACCOUNT_CKB,
            if account.index == 0 { " (+ mining rewards)" } else { "" }
        );
    }
}

/// Runs a devnet command.
pub async fn run(cmd: DevnetCmd) -> anyhow::Result<()> {
    let fail = |e: tollway_chain::ckb::ChainError| anyhow::anyhow!("[{}] {e}", e.code());
    match cmd {
        DevnetCmd::Accounts => {
            print_accounts();
            Ok(())
        }
        DevnetCmd::Mine { rpc, blocks } => {
            let rpc = Rpc::new(rpc);
            println!("tip {}", rpc.generate_blocks(blocks).await.map_err(fail)?);
            Ok(())
        }
        DevnetCmd::Start(args) => {
            let config = DevnetConfig {
                binary: args.ckb_bin.unwrap_or_else(cached_binary),
                dir: args.dir,
                rpc_port: args.rpc_port,
                p2p_port: args.p2p_port,
            };
            let devnet = Devnet::start(config).await.map_err(fail)?;
            println!("ckb devnet listening on {} (chain in {})", devnet.rpc().url(), devnet.config().dir.display());
            print_accounts();
            let rpc = devnet.rpc().clone();
            let mining = async {
                if args.block_interval_ms == 0 {
                    return std::future::pending::<()>().await;
                }
                loop {
                    tokio::time::sleep(Duration::from_millis(args.block_interval_ms)).await;
                    if let Err(e) = rpc.generate_block().await {
                        eprintln!("tollway devnet: mining: [{}] {e}", e.code());
                    }
                }
            };
            // Ctrl-C or SIGTERM (how scripts/run.sh stops it): the node stops too.
            let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                () = mining => {}
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            eprintln!("tollway devnet: stopping the node");
            devnet.stop().await.map_err(fail)
        }
    }
}
