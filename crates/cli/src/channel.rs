//! The payer's commands: `tollway channel …` and `tollway chat`. They work
//! from the payer's own state file (`--payer-home`, `TOLLWAY_PAYER_HOME`,
//! else `~/.tollway`) and need no server configuration.

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::PathBuf;
use tollway_payer::{Amount, ChannelRecord, ChatSummary, OpenRequest, Payer, PayerError, RecoveryAction, RemoteChannel, StateFile};

/// Where the payer keeps its state, and how to print.
#[derive(Args, Clone)]
pub struct PayerOpts {
    /// The payer home: holds payer.json (channels and their secret keys).
    #[arg(long, global = true, env = "TOLLWAY_PAYER_HOME")]
    payer_home: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// Payment channels, payer side.
#[derive(Subcommand)]
pub enum ChannelCmd {
    /// Opens a channel: a fresh key, the deposit moved from the wallet into escrow.
    Open {
        /// The payee's base URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        server: String,
        /// The API key of your account at the payee.
        #[arg(long, env = "TOLLWAY_API_KEY", hide_env_values = true)]
        api_key: String,
        /// Collateral, minor units (points).
        #[arg(long)]
        deposit: String,
        /// The most this channel may ever owe; no receipt above it is signed.
        #[arg(long)]
        budget: String,
        /// The default most one request may cost (default: the price,
        /// pinned at open, of its prompt and max tokens plus the slack).
        #[arg(long)]
        max_amount: Option<String>,
    },
    /// Shows a channel as the payer and the payee see it.
    Show {
        /// Channel id or a unique prefix (default: the default channel).
        id: Option<String>,
    },
    /// Lists the local channels.
    List,
    /// Makes a channel the default one.
    Default {
        /// Channel id or a unique prefix.
        id: String,
    },
    /// Reconciles the local state with the payee's after a crash.
    Recover {
        /// Channel id or a unique prefix (default: the default channel).
        id: Option<String>,
    },
    /// Closes a channel: the payee claims what it is owed, the rest of the deposit returns to the wallet.
    Close {
        /// Channel id or a unique prefix (default: the default channel).
        id: Option<String>,
    },
}

/// `tollway chat`: a streamed chat completion paid per chunk.
#[derive(Args)]
pub struct ChatArgs {
    /// Channel id or a unique prefix (default: the default channel).
    #[arg(long)]
    channel: Option<String>,
    /// The model.
    #[arg(long)]
    model: String,
    /// The most this request may cost, minor units (default: the channel's,
    /// else the pinned price of the prompt and --max-tokens, 1,024 if unset).
    #[arg(long)]
    max_amount: Option<String>,
    /// Most output tokens.
    #[arg(long)]
    max_tokens: Option<u64>,
    /// A system message.
    #[arg(long)]
    system: Option<String>,
    /// The prompt (`-` reads it from standard input).
    prompt: String,
}

pub(crate) fn payer(opts: &PayerOpts) -> anyhow::Result<Payer> {
    let state = match &opts.payer_home {
        Some(home) => StateFile::in_home(home),
        None => StateFile::default_location().map_err(fail)?,
    };
    Payer::new(state).map_err(fail)
}

/// A payer error with its stable code.
pub(crate) fn fail(e: PayerError) -> anyhow::Error {
    anyhow::anyhow!("[{}] {e}", e.code())
}

pub(crate) fn amount(text: &str, what: &str) -> anyhow::Result<Amount> {
    Amount::from_units_str(text.trim()).map_err(|e| anyhow::anyhow!("[invalid_argument] {what}: {e}"))
}

pub(crate) fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// The local record as shown (no secrets).
fn local_json(r: &ChannelRecord, default: bool) -> Value {
    json!({
        "channel": r.channel,
        "server": r.server,
        "chain_id": r.chain_id,
        "epoch": r.epoch,
        "asset": r.asset,
        "sub_channel": r.sub_channel,
        "deposit": r.deposit,
        "budget": r.budget,
        "max_amount": r.max_amount,
        "open": r.open,
        "default": default,
        "signed": r.signed_total(),
        "signed_nonce": r.latest_signed.map(|s| s.rav.nonce),
        "accepted": r.accepted_total(),
        "accepted_nonce": r.latest_accepted.map(|s| s.rav.nonce),
        "latest_signed": r.latest_signed,
    })
}

fn local_text(r: &ChannelRecord, default: bool) -> String {
    format!(
        "{}{}  {}  {}  deposit {}  budget {}  signed {} (nonce {})  accepted {}{}",
        r.channel,
        if default { " (default)" } else { "" },
        if r.open { "open" } else { "closed" },
        r.server,
        r.deposit,
        r.budget,
        r.signed_total(),
        r.latest_signed.map_or(0, |s| s.rav.nonce),
        r.accepted_total(),
        r.max_amount.map(|m| format!("  max/request {m}")).unwrap_or_default(),
    )
}

fn remote_text(c: &RemoteChannel) -> String {
    let subs: Vec<String> = c
        .subs
        .iter()
        .map(|s| {
            format!(
                "  sub {}  nonce {}  accepted {}  claimed {}{}",
                s.sub_channel,
                s.nonce,
                s.accumulated,
                s.claimed,
                s.pending.as_ref().map(|p| format!("  pending {} (nonce {})", p.proposal.accumulated, p.proposal.nonce)).unwrap_or_default()
            )
        })
        .collect();
    format!(
        "payee: {}  collateral {} {}  owed {}  claimed {}  refunded {}\n{}",
        if c.open { "open" } else { "closed" },
        c.collateral,
        c.asset,
        c.owed,
        c.claimed,
        c.refunded,
        subs.join("\n")
    )
}

/// Runs a `tollway channel` command.
pub async fn run(cmd: ChannelCmd, opts: &PayerOpts) -> anyhow::Result<()> {
    let payer = payer(opts)?;
    match cmd {
        ChannelCmd::Open { server, api_key, deposit, budget, max_amount } => {
            let request = OpenRequest {
                server,
                api_key,
                deposit: amount(&deposit, "deposit")?,
                budget: amount(&budget, "budget")?,
                max_amount: max_amount.as_deref().map(|m| amount(m, "max-amount")).transpose()?,
            };
            let record = payer.open(request).await.map_err(fail)?;
            let default = payer.list().await.map_err(fail)?.default == Some(record.channel);
            if opts.json {
                print_json(&local_json(&record, default));
            } else {
                println!("opened {}", local_text(&record, default));
                eprintln!("tollway: state in {}", payer.state().path().display());
            }
        }
        ChannelCmd::List => {
            let state = payer.list().await.map_err(fail)?;
            if opts.json {
                let list: Vec<Value> = state.channels.iter().map(|c| local_json(c, state.default == Some(c.channel))).collect();
                print_json(&json!({"channels": list}));
            } else if state.channels.is_empty() {
                println!("no channels; open one with `tollway channel open`");
            } else {
                for c in &state.channels {
                    println!("{}", local_text(c, state.default == Some(c.channel)));
                }
            }
        }
        ChannelCmd::Default { id } => {
            let id = payer.set_default(&id).await.map_err(fail)?;
            if opts.json {
                print_json(&json!({"default": id}));
            } else {
                println!("default channel {id}");
            }
        }
        ChannelCmd::Show { id } => {
            let default = payer.list().await.map_err(fail)?.default;
            let view = payer.show(id.as_deref()).await.map_err(fail)?;
            let is_default = default == Some(view.local.channel);
            if opts.json {
                print_json(&json!({"local": local_json(&view.local, is_default), "remote": view.remote}));
            } else {
                println!("local: {}", local_text(&view.local, is_default));
                println!("{}", remote_text(&view.remote));
            }
        }
        ChannelCmd::Recover { id } => {
            let r = payer.recover(id.as_deref()).await.map_err(fail)?;
            let (action, detail) = match r.action {
                RecoveryAction::NothingSigned => ("nothing_signed", "nothing signed on either side yet".to_owned()),
                RecoveryAction::InSync => ("in_sync", "the payee holds the latest receipt signed here".to_owned()),
                RecoveryAction::Adopted => ("adopted", "adopted the payee's newer receipt (signed with this key)".to_owned()),
                RecoveryAction::Reposted(ack) => ("reposted", format!("posted the latest receipt again: accepted {}", ack.accepted)),
            };
            if opts.json {
                print_json(&json!({
                    "channel": r.channel,
                    "action": action,
                    "local_before": r.local_before.map(|s| json!({"nonce": s.nonce, "accumulated": s.accumulated})),
                    "remote_before": r.remote_before.map(|s| json!({"nonce": s.nonce, "accumulated": s.accumulated})),
                    "latest": r.latest.map(|s| json!({"nonce": s.nonce, "accumulated": s.accumulated})),
                    "pending": r.pending,
                }));
            } else {
                println!("{}: {detail}", r.channel);
                let latest = r.latest.map_or_else(|| "none".to_owned(), |s| format!("{} (nonce {})", s.accumulated, s.nonce));
                println!("latest receipt on both sides: {latest}");
                if let Some(p) = &r.pending {
                    println!("unsigned at the payee: {} more (nonce {}); the next request pays it", p.cost, p.proposal.nonce);
                }
            }
        }
        ChannelCmd::Close { id } => {
            let closed = payer.close(id.as_deref()).await.map_err(fail)?;
            if opts.json {
                print_json(&json!({"channel": closed.channel, "flushed": closed.flushed}));
            } else {
                let c = &closed.channel;
                println!("closed {}: claimed {}, returned {} of {} to the wallet", c.id, c.claimed, c.refunded, c.collateral);
            }
        }
    }
    Ok(())
}

fn summary_text(s: &ChatSummary) -> String {
    format!(
        "tollway: paid {} (cost {}) in {} receipts{}; accepted total {}; {} chunks{}{}; pauses {}{}{}",
        s.paid,
        s.cost,
        s.receipts,
        if s.skipped > 0 { format!(" ({} proposals skipped)", s.skipped) } else { String::new() },
        s.accepted,
        s.chunks,
        s.completion_tokens.map(|t| format!(", {t} output tokens")).unwrap_or_default(),
        s.prompt_tokens.map(|t| format!(", {t} prompt tokens")).unwrap_or_default(),
        s.pauses,
        s.stopped.as_ref().map(|r| format!("; stopped: {r}")).unwrap_or_default(),
        s.unconfirmed.as_ref().map(|u| format!("; NOT CONFIRMED ({u}): run `tollway channel recover`")).unwrap_or_default(),
    )
}

fn summary_json(s: &ChatSummary) -> Value {
    json!({
        "channel": s.channel,
        "chunks": s.chunks,
        "prompt_tokens": s.prompt_tokens,
        "completion_tokens": s.completion_tokens,
        "finish_reason": s.finish_reason,
        "stopped": s.stopped,
        "cost": s.cost,
        "paid": s.paid,
        "receipts": s.receipts,
        "skipped": s.skipped,
        "pauses": s.pauses,
        "latest_nonce": s.latest_signed.map(|r| r.nonce),
        "latest_signed": s.latest_signed.map(|r| r.accumulated),
        "accepted": s.accepted,
        "unconfirmed": s.unconfirmed,
    })
}

/// Runs `tollway chat`: the answer to stdout as it streams, the payment
/// summary to stderr.
pub async fn chat(args: ChatArgs, opts: &PayerOpts) -> anyhow::Result<()> {
    let payer = payer(opts)?;
    let prompt = if args.prompt == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text
    } else {
        args.prompt
    };
    let mut messages = Vec::new();
    if let Some(system) = args.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.push(json!({"role": "user", "content": prompt}));
    let mut request = json!({"model": args.model, "messages": messages});
    if let Some(n) = args.max_tokens {
        request["max_tokens"] = json!(n);
    }
    let max_amount = args.max_amount.as_deref().map(|m| amount(m, "max-amount")).transpose()?;
    let mut stdout = std::io::stdout();
    let summary = payer
        .chat(args.channel.as_deref(), request, max_amount, |text| {
            // A closed stdout (a pipe gone) must not stop the payments.
            let _ = stdout.write_all(text.as_bytes());
            let _ = stdout.flush();
        })
        .await;
    let _ = writeln!(stdout);
    let summary = summary.map_err(fail)?;
    if opts.json {
        eprintln!("{}", summary_json(&summary));
    } else {
        eprintln!("{}", summary_text(&summary));
    }
    Ok(())
}
