//! `tollway ckb …`: CKB channels on the payer's side (docs/ckb.md,
//! "Payer"). Open one with a deposit and a duration, pay with
//! `tollway chat --channel ID`, show it, have it settled, or take the
//! refund after its expiry.

use crate::channel::{amount, fail, payer, print_json, PayerOpts};
use clap::Subcommand;
use serde_json::json;
use tollway_payer::CkbOpenRequest;

/// CKB channels, payer side.
#[derive(Subcommand)]
pub enum CkbCmd {
    /// Opens a channel funded from the wallet's cells (waits until it is active).
    Open {
        /// The payee's base URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        server: String,
        /// The API key of your account at the payee.
        #[arg(long, env = "TOLLWAY_API_KEY", hide_env_values = true)]
        api_key: String,
        /// Your CKB node's JSON-RPC URL (with the indexer).
        #[arg(long, env = "TOLLWAY_CKB_RPC", default_value = "http://127.0.0.1:8114")]
        ckb_rpc: String,
        /// The wallet's secret key, 0x + 64 hex digits (its cells fund the channel).
        #[arg(long, env = "TOLLWAY_CKB_WALLET_SECRET", hide_env_values = true)]
        wallet_secret: String,
        /// What you put in, shannons (61 CKB of it returns as your change cell).
        #[arg(long)]
        deposit: u64,
        /// How long the channel lives, seconds.
        #[arg(long)]
        duration: u64,
        /// The most this channel may ever pay (default: all it can).
        #[arg(long)]
        budget: Option<String>,
        /// The default most one request may cost, shannons.
        #[arg(long)]
        max_amount: Option<String>,
        /// The most the channel's fees may cost (funding + commitment fee), shannons.
        #[arg(long, default_value_t = 100_000)]
        max_fee: u64,
        /// The highest funding fee rate accepted, shannons per 1,000 bytes.
        #[arg(long, default_value_t = tollway_core::ckb::DEFAULT_MAX_FEE_RATE)]
        max_fee_rate: u64,
        /// The chain's block interval, seconds: the offer's expiry may be at
        /// most the duration in blocks, plus 20 blocks of slack.
        #[arg(long, default_value_t = 8)]
        block_interval: u64,
        /// How long to wait for the funding to commit, seconds.
        #[arg(long, default_value_t = 120)]
        wait: u64,
    },
    /// Shows a CKB channel as the payer and the payee see it.
    Show {
        /// Channel id or a unique prefix (default: the default channel).
        id: Option<String>,
    },
    /// Has the payee settle now with the latest commitment.
    Settle {
        /// Channel id or a unique prefix (default: the default channel).
        id: Option<String>,
    },
    /// Takes the refund (valid from the expiry block on).
    Refund {
        /// Channel id or a unique prefix (default: the default channel).
        id: Option<String>,
    },
}

/// Runs a `tollway ckb` command.
pub async fn run(cmd: CkbCmd, opts: &PayerOpts) -> anyhow::Result<()> {
    let payer = payer(opts)?;
    match cmd {
        CkbCmd::Open { server, api_key, ckb_rpc, wallet_secret, deposit, duration, budget, max_amount, max_fee, max_fee_rate, block_interval, wait } => {
            let request = CkbOpenRequest {
                server,
                api_key,
                rpc_url: ckb_rpc,
                wallet_secret,
                deposit,
                duration_secs: duration,
                budget: budget.as_deref().map(|b| amount(b, "budget")).transpose()?,
                max_amount: max_amount.as_deref().map(|m| amount(m, "max-amount")).transpose()?,
                max_fee,
                max_fee_rate,
                block_interval_secs: block_interval,
            };
            let record = payer.open_ckb(request).await.map_err(fail)?;
            let id = record.channel.to_string();
            let remote = payer.ckb_wait_active(Some(&id), std::time::Duration::from_secs(wait)).await.map_err(fail)?;
            if opts.json {
                print_json(&json!({"channel": record.channel, "state": remote.state, "expiry_block": remote.expiry_block, "budget": record.budget}));
            } else {
                println!("opened {} ({}): can pay {} shannons until block {}", record.channel, remote.state, record.budget, remote.expiry_block);
            }
        }
        CkbCmd::Show { id } => {
            let local = payer.local(id.as_deref()).await.map_err(fail)?;
            let remote = payer.ckb_remote(&local).await.map_err(fail)?;
            let refund = payer.ckb_refund_status(id.as_deref()).await.map_err(fail)?;
            if opts.json {
                print_json(&json!({"channel": local.channel, "signed": local.signed_total(), "accepted": local.accepted_total(), "remote": remote, "refund": refund.map(|r| format!("{r:?}"))}));
            } else {
                println!(
                    "{}: {}  signed {}  accepted {}  payee kept {}  expiry block {}{}",
                    local.channel,
                    remote.state,
                    local.signed_total(),
                    local.accepted_total(),
                    remote.paid,
                    remote.expiry_block,
                    refund.map(|r| format!("  refund {r:?}")).unwrap_or_default()
                );
            }
        }
        CkbCmd::Settle { id } => {
            let remote = payer.ckb_settle(id.as_deref()).await.map_err(fail)?;
            if opts.json {
                print_json(&json!(remote));
            } else {
                println!("{}: {}  paid {}  settlement {}", remote.id, remote.state, remote.paid, remote.closing_tx_hash.unwrap_or_default());
            }
        }
        CkbCmd::Refund { id } => {
            let hash = payer.ckb_refund(id.as_deref()).await.map_err(fail)?;
            if opts.json {
                print_json(&json!({"refund_tx_hash": hash}));
            } else {
                println!("refund sent: {hash}");
            }
        }
    }
    Ok(())
}
