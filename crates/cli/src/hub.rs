//! `tollway hub …`: paying through the CKB hub (docs/hub.md) — any
//! amount, even below the 61 CKB cell minimum — and the operator's pool.

use crate::channel::{fail, print_json, PayerOpts};
use clap::Subcommand;
use serde_json::{json, Value};
use tollway_payer::{hub_pay, HubPayRequest};

/// The CKB hub.
#[derive(Subcommand)]
pub enum HubCmd {
    /// Pays ADDRESS through the hub from your wallet: the hub prepares the
    /// transaction, this checks and signs it, the hub signs and sends it.
    Pay {
        /// The hub's base URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        server: String,
        /// Your CKB node's JSON-RPC URL (with the indexer).
        #[arg(long, env = "TOLLWAY_CKB_RPC", default_value = "http://127.0.0.1:8114")]
        ckb_rpc: String,
        /// Who is paid: a CKB address or 0x + 40 hex digits of lock args.
        #[arg(long)]
        to: String,
        /// How much, in CKB (up to 8 decimals, e.g. 5 or 0.5).
        #[arg(long)]
        amount: String,
        /// The wallet's secret key, 0x + 64 hex digits (it pays, and signs).
        #[arg(long, env = "TOLLWAY_CKB_WALLET_SECRET", hide_env_values = true)]
        wallet_secret: String,
        /// Your API key at the hub: a payment to the gateway buys you points.
        #[arg(long, env = "TOLLWAY_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        /// The most the network fee may be, shannons.
        #[arg(long, default_value_t = 100_000)]
        max_fee: u64,
    },
    /// Operator: tops the hub's pool up to N free cells (admin key).
    InitPool {
        /// The hub's base URL.
        #[arg(long)]
        server: String,
        /// An admin API key.
        #[arg(long, env = "TOLLWAY_API_KEY", hide_env_values = true)]
        api_key: String,
        /// Free pool cells wanted (default: the server's `hub.pool_cells`).
        #[arg(long)]
        cells: Option<u32>,
    },
}

/// Runs a hub command.
pub async fn run(cmd: HubCmd, opts: &PayerOpts) -> anyhow::Result<()> {
    match cmd {
        HubCmd::Pay { server, ckb_rpc, to, amount, wallet_secret, api_key, max_fee } => {
            let amount = tollway_core::ckb::parse_ckb(amount.trim())
                .ok_or_else(|| anyhow::anyhow!("[invalid_argument] --amount: CKB with at most 8 decimals, e.g. 5 or 0.5"))?;
            let request = HubPayRequest { server, api_key, rpc_url: ckb_rpc, wallet_secret, to, amount, max_fee };
            let payment = hub_pay(&request).await.map_err(fail)?;
            if opts.json {
                print_json(&payment);
            } else {
                println!(
                    "payment {} sent: {} shannons to {}, tx {} ({})",
                    payment["payment_id"],
                    payment["amount"].as_str().unwrap_or_default(),
                    payment["receiver"].as_str().unwrap_or_default(),
                    payment["tx_hash"].as_str().unwrap_or_default(),
                    payment["state"].as_str().unwrap_or_default()
                );
            }
        }
        HubCmd::InitPool { server, api_key, cells } => {
            let url = format!("{}/api/admin/hub/pool", server.trim_end_matches('/'));
            let response = reqwest::Client::new()
                .post(&url)
                .bearer_auth(api_key)
                .json(&json!({"cells": cells}))
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("[unreachable] {url}: {e}"))?;
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                anyhow::bail!(
                    "[{}] {}",
                    body["error"]["code"].as_str().unwrap_or("http_error"),
                    body["error"]["message"].as_str().unwrap_or(status.as_str())
                );
            }
            if opts.json {
                print_json(&body);
            } else {
                println!("pool: {} free cells ({} sent to split)", body["free_cells"], body["split_tx_hash"].as_str().unwrap_or("nothing"));
            }
        }
    }
    Ok(())
}
