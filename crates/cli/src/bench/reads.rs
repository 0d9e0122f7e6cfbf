//! `tollway bench reads`: the memory of the whole-history reads (CSV
//! export, hourly monitor, ledger audit) over a large ledger. Fills one
//! user's history with N charges, each with a gateway request record, then
//! runs each read through the HTTP API of an in-process server and reports
//! its time and the process's peak resident memory during it (the peak is
//! reset before each read), beside the resident memory before it.
#![allow(clippy::float_arithmetic)]

use super::{drive, memory_kb, setup, Args};
use std::time::Instant;
use tollway_core::ledger::{Charge, Command, Links, TransferId};
use tollway_core::{Amount, Asset};
use tollway_server::{ops, Config};
use tollway_store::requests::RequestRecord;
use tollway_store::{LedgerWriter, Record, Submission, WriterConfig};

/// Fills the ledger, then measures each read.
pub async fn run(mut args: Args) -> anyhow::Result<()> {
    args.users = 1;
    let s = setup(&args).await?;
    let user_id = s.users[0].0;
    let writer = LedgerWriter::spawn(s.store.clone(), WriterConfig::default());
    let filled = Instant::now();
    let (_, _, failures) = drive(&args, move |i| {
        let writer = writer.clone();
        async move {
            let now = tollway_store::now_ms();
            let id = format!("bench-read-{i}");
            let command = Command::Charge(Charge {
                id: TransferId(id.clone()),
                user_id,
                asset: Asset::POINTS,
                amount: Amount::new(1),
                reservation: None,
                links: Links { user_id: Some(user_id), model: Some("bench".into()), request_id: Some(id.clone()), ..Links::default() },
            });
            let record = RequestRecord {
                id,
                user_id,
                key_id: None,
                model: "bench".into(),
                upstream: "local".into(),
                stream: true,
                input_tokens: 10,
                output_tokens: 20,
                usage_source: "tokenizer".into(),
                status: "stop".into(),
                cost: Amount::new(1),
                price_version: None,
                started_at: now,
                duration_ms: 1,
                created_at: now,
            };
            let submission = Submission { command, record: Some(Record::Request(record)) };
            matches!(writer.submit(submission).await, Ok(o) if o.result.is_ok())
        }
    })
    .await;
    println!("reads {}: filled {} charges with request records in {:.0} s, failures {failures}", s.label, args.charges, filled.elapsed().as_secs_f64());
    let config = Config { listen: "127.0.0.1:0".into(), database_url: s.url.clone(), ..Config::default() };
    let running = tollway_server::start(config).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let (_, admin_key) = ops::create_user(&s.store, "bench-admin", true).await.map_err(|e| anyhow::anyhow!(e.message))?;
    let user_key = ops::new_secret("tw_");
    s.store.add_api_key(user_id, &user_key, "bench").await?;
    let client = reqwest::Client::new();
    let base = format!("http://{}", running.addr);
    for (what, path, key) in [
        ("CSV export", "/api/user/points/history?format=csv", &user_key),
        ("hourly monitor", "/api/admin/consumption/hourly?hours=1", &admin_key),
        ("ledger audit", "/api/admin/ledger/audit", &admin_key),
    ] {
        let (before, _) = memory_kb();
        reset_peak();
        let t = Instant::now();
        let mut response = client.get(format!("{base}{path}")).bearer_auth(key).send().await?.error_for_status()?;
        let (mut bytes, mut lines, mut tail) = (0usize, 0usize, Vec::new());
        while let Some(chunk) = response.chunk().await? {
            bytes += chunk.len();
            lines += chunk.iter().filter(|b| **b == b'\n').count();
            tail = chunk.to_vec();
        }
        let (_, peak) = memory_kb();
        let summary = if path.contains("csv") { format!("{lines} lines") } else { String::from_utf8_lossy(&tail).chars().take(120).collect() };
        println!(
            "reads {} {what}: {:.2} s, {} bytes, RSS before {} MB, peak during {} MB: {summary}",
            s.label,
            t.elapsed().as_secs_f64(),
            bytes,
            before / 1024,
            peak / 1024,
        );
    }
    Ok(())
}

/// Resets the process's peak resident memory (VmHWM) to its current size.
fn reset_peak() {
    if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
        println!("(cannot reset the peak RSS: {e}; peaks are since start)");
    }
}
