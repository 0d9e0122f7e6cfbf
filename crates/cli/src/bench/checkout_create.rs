//! Part 3 of `tollway bench checkout`: sessions created per second through
//! `POST /api/v1/payments`, each run on a fresh database with a new server.
//! Two kinds of load: every request for the same amount (1 USDT), so each
//! creation competes for the next free unique amount (1, 1.000001, …), and
//! every request for its own amount (1.000, 1.001, … USDT), so each gets
//! the amount it asked for. Every created session's amount is checked to
//! be unique.

use super::checkout_setup::{anvil, config, fresh_url, slots, CheckoutArgs, NETWORK};
use super::checkout_server::{clients, create_sessions, Server};
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

/// One run of part 3.
#[derive(Debug)]
pub struct CreateRow {
    /// Which amounts were asked for.
    pub amounts: &'static str,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Latency of each creation (201).
    pub latencies: Vec<Duration>,
    /// Other answers, by status and code.
    pub refused: Vec<(String, usize)>,
}

/// Runs part 3: both kinds of load at each concurrency.
pub async fn run(args: &CheckoutArgs) -> anyhow::Result<Vec<CreateRow>> {
    let chain = anvil(args).await?;
    let clients = clients(args.requests)?;
    let mut rows = Vec::new();
    for (amounts, one) in [("one amount (1 USDT)", true), ("each its own", false)] {
        for &concurrency in &args.concurrency {
            let url = fresh_url(args).await?;
            let mut cfg = config(&chain, &url, args);
            cfg.evm.amount_slots = slots(args);
            let server = Server::start(cfg).await?;
            let created = create_sessions(&server.base, &clients, args.requests, concurrency, |i| {
                let amount = if one { "1".to_owned() } else { format!("{}.{:03}", 1 + i / 1_000, i % 1_000) };
                json!({"amount": amount, "token": "USDT", "network": NETWORK})
            })
            .await;
            server.stop().await?;
            let distinct: HashSet<u128> = created.sessions.iter().map(|s| s.2).collect();
            anyhow::ensure!(distinct.len() == created.sessions.len(), "two sessions were given one amount");
            println!(
                "create {amounts}, concurrency {concurrency}: {} created in {:.2} s ({:.0}/s), refused {:?}",
                created.sessions.len(),
                created.elapsed.as_secs_f64(),
                created.sessions.len() as f64 / created.elapsed.as_secs_f64().max(1e-9),
                created.refused
            );
            rows.push(CreateRow { amounts, concurrency, elapsed: created.elapsed, latencies: created.latencies, refused: created.refused });
        }
    }
    chain.devnet.stop().await?;
    Ok(rows)
}
