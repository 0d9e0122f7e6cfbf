//! `tollway admin …`: operator commands on the database.

use clap::Subcommand;
use tollway_core::ledger::Reason;
use tollway_server::ops;
use tollway_server::Config;
use tollway_store::{LedgerWriter, Store, WriterConfig};

/// Operator commands.
#[derive(Subcommand)]
pub enum AdminCmd {
    /// Creates a user and prints its first API key (shown once).
    CreateUser {
        /// Unique handle.
        handle: String,
        /// Make an administrator.
        #[arg(long)]
        admin: bool,
    },
    /// Issues another API key for a user (shown once).
    IssueKey {
        /// User handle.
        handle: String,
        /// What the key is for.
        #[arg(long, default_value = "cli")]
        label: String,
    },
    /// Registers a reporting app (Dify relay) and prints its key and signing secret.
    CreateApp {
        /// Unique name.
        name: String,
    },
    /// Grants points (repays arrears first).
    Grant {
        /// User handle.
        handle: String,
        /// Whole points.
        amount: String,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: String,
        /// Idempotency key (default: a new one).
        #[arg(long)]
        id: Option<String>,
    },
    /// Adds or removes points (`-5` removes five).
    Adjust {
        /// User handle.
        handle: String,
        /// Signed whole points.
        #[arg(allow_hyphen_values = true)]
        delta: String,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: String,
        /// Idempotency key (default: a new one).
        #[arg(long)]
        id: Option<String>,
    },
    /// Sets a model's price per 1,000 tokens (a new version; `*` is the default rule).
    SetPrice {
        /// Model name.
        model: String,
        /// Points per 1,000 input tokens.
        input_per_1k: String,
        /// Points per 1,000 output tokens.
        output_per_1k: String,
        /// Why.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Replays the whole ledger and checks every invariant.
    Audit,
}

async fn open(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    Ok(store)
}

fn fail(e: tollway_server::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", e.code, e.message)
}

async fn user(store: &Store, handle: &str) -> anyhow::Result<tollway_store::directory::User> {
    store.user_by_handle(handle).await?.ok_or_else(|| anyhow::anyhow!("unknown_user: no user {handle:?}"))
}

/// Runs one admin command.
pub async fn run(cmd: AdminCmd, config: &Config) -> anyhow::Result<()> {
    let store = open(config).await?;
    match cmd {
        AdminCmd::CreateUser { handle, admin } => {
            let (u, key) = ops::create_user(&store, &handle, admin).await.map_err(fail)?;
            println!("user {} (id {}, role {})\napi key: {key}", u.handle, u.id, u.role);
        }
        AdminCmd::IssueKey { handle, label } => {
            let u = user(&store, &handle).await?;
            let key = ops::new_secret("tw_");
            store.add_api_key(u.id, &key, &label).await?;
            println!("api key: {key}");
        }
        AdminCmd::CreateApp { name } => {
            let (id, key, secret) = ops::create_app(&store, &name).await.map_err(fail)?;
            println!("app {name} (id {id})\napi key: {key}\nsigning secret: {secret}");
        }
        AdminCmd::Grant { handle, amount, reason, id } => {
            change(&store, &handle, &amount, &reason, id, Reason::Grant).await?;
        }
        AdminCmd::Adjust { handle, delta, reason, id } => {
            change(&store, &handle, &delta, &reason, id, Reason::Adjust).await?;
        }
        AdminCmd::SetPrice { model, input_per_1k, output_per_1k, note } => {
            let r = ops::set_price(&store, &model, &input_per_1k, &output_per_1k, None, true, &note, None)
                .await
                .map_err(fail)?;
            println!("{} version {}: input {} / output {} points per 1k tokens", r.rule.model, r.rule.version, input_per_1k, output_per_1k);
        }
        AdminCmd::Audit => {
            let a = store.audit().await?;
            match a.violation {
                None => println!("ok: {} accounts, {} transfers, every invariant holds", a.accounts, a.transfers),
                Some(v) => anyhow::bail!("ledger invariant broken: {v}"),
            }
        }
    }
    Ok(())
}

async fn change(store: &Store, handle: &str, amount: &str, memo: &str, id: Option<String>, reason: Reason) -> anyhow::Result<()> {
    let u = user(store, handle).await?;
    let writer = LedgerWriter::spawn(store.clone(), WriterConfig::default());
    let id = id.unwrap_or_else(|| ops::new_secret("cli-"));
    let (balance, arrears) = ops::adjust_points(store, &writer, &u, amount, memo, &id, reason).await.map_err(fail)?;
    println!("{handle}: balance {balance}, arrears {arrears}");
    Ok(())
}
