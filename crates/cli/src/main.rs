//! The `tollway` binary: serve, migrate, admin commands, benchmarks, and
//! the payer's channel and chat commands.

mod admin;
mod bench;
mod channel;
mod ckb;
mod devnet;
mod hub;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use tollway_server::Config;

/// Tollway: a self-hosted payment gateway for pay-per-use AI.
#[derive(Parser)]
#[command(name = "tollway", version, about)]
struct Cli {
    /// TOML config file (TOLLWAY_* environment variables override it).
    #[arg(long, global = true, env = "TOLLWAY_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    payer: channel::PayerOpts,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs the server (migrates first).
    Serve,
    /// Applies database migrations and exits.
    Migrate,
    /// Operator commands working directly on the database.
    #[command(subcommand)]
    Admin(admin::AdminCmd),
    /// Measures throughput and latency.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// Payment channels, payer side (no server configuration needed).
    #[command(subcommand)]
    Channel(channel::ChannelCmd),
    /// Streams a chat completion paid per chunk from a channel: the answer
    /// to stdout, the payment summary to stderr.
    Chat(channel::ChatArgs),
    /// CKB channels, payer side: open, show, settle, refund (pay with `tollway chat`).
    #[command(subcommand)]
    Ckb(ckb::CkbCmd),
    /// A local CKB development chain (needs the node from scripts/ckb.sh).
    #[command(subcommand)]
    Devnet(devnet::DevnetCmd),
    /// The CKB hub: pay any amount (even below 61 CKB), or top up its pool.
    #[command(subcommand)]
    Hub(hub::HubCmd),
}

fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    Config::load(path).map_err(|e| anyhow::anyhow!("configuration: {e}"))
}

fn ensure_sqlite_dir(url: &str) -> anyhow::Result<()> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The payer's and the devnet's commands need no server configuration.
    let server = |path: Option<&std::path::Path>| -> anyhow::Result<Config> {
        let config = load_config(path)?;
        ensure_sqlite_dir(&config.database_url)?;
        Ok(config)
    };
    match cli.command {
        Cmd::Channel(cmd) => channel::run(cmd, &cli.payer).await,
        Cmd::Chat(args) => channel::chat(args, &cli.payer).await,
        Cmd::Ckb(cmd) => ckb::run(cmd, &cli.payer).await,
        Cmd::Devnet(cmd) => devnet::run(cmd).await,
        Cmd::Hub(cmd) => hub::run(cmd, &cli.payer).await,
        Cmd::Serve => {
            let config = server(cli.config.as_deref())?;
            tollway_server::init_tracing(config.log_json);
            let running = tollway_server::start(config).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            // A plain line scripts and tests can wait for (port 0 picks a free port).
            println!("tollway listening on http://{}", running.addr);
            // SIGINT or SIGTERM: return, so the runtime drops every task and
            // what they own stops cleanly (a devnet's anvil gets SIGTERM).
            let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                r = running.task => { r??; }
                _ = tokio::signal::ctrl_c() => { eprintln!("tollway: shutting down"); }
                _ = terminate.recv() => { eprintln!("tollway: terminated, shutting down"); }
            }
            Ok(())
        }
        Cmd::Migrate => {
            let config = server(cli.config.as_deref())?;
            let store = tollway_store::Store::connect(&config.database_url).await?;
            store.migrate().await?;
            println!("migrated {}", redact(&config.database_url));
            Ok(())
        }
        Cmd::Admin(cmd) => admin::run(cmd, &server(cli.config.as_deref())?).await,
        Cmd::Bench(cmd) => bench::run(cmd, &server(cli.config.as_deref())?).await,
    }
}

/// A database URL with any password hidden.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}
