//! `tollway bench checkout`: the stablecoin checkout (issue 15,
//! docs/stablecoin.md) against a real anvil, each part on a fresh database
//! with an in-process server (`tollway_server::start`) run in a runtime of
//! its own, so that it can be stopped, watcher and all, like a process.
//!
//! 1. **Detection latency** ([`checkout_detect`](super::checkout_detect)):
//!    payments made one at a time; from the block holding the transfer to
//!    the `payment_status_update` on the payment's WebSocket that first
//!    shows it `confirming`, and then `paid`, in blocks and milliseconds.
//! 2. **Catch-up** ([`checkout_catchup`](super::checkout_catchup)):
//!    sessions created, the server stopped, many transfers made over many
//!    blocks; then the server is started and timed until the scan has
//!    recorded every log and until every session is paid.
//! 3. **Sessions created per second** ([`checkout_create`](super::checkout_create))
//!    through `POST /api/v1/payments`, all for one amount or each for its
//!    own, at several concurrencies.
//!
//! Requests come from distinct loopback addresses (127.0.0.2, …), at most
//! `max_open_per_client` (20) open sessions each, so the server's per-client
//! limit is the default one. `--restart-each` and `--rpc-delay-ms` are
//! described with their flags; the figures and the commands that gave them
//! are in docs/benchmarks.md, "Stablecoin checkout".

use super::checkout_catchup::{self, CatchUp};
use super::checkout_create::{self, CreateRow};
use super::checkout_detect::{self, Detection};
use super::checkout_setup::{slots, CheckoutArgs, CheckoutPart};
use super::measure::backend;
use std::time::Duration;

/// Runs the benchmark and prints its tables.
pub async fn run(args: CheckoutArgs) -> anyhow::Result<()> {
    backend(&args.backend)?;
    println!("checkout {}", settings(&args));
    let detection = match args.only {
        CheckoutPart::All | CheckoutPart::Detect => Some(checkout_detect::run(&args).await?),
        _ => None,
    };
    let catch_up = match args.only {
        CheckoutPart::All | CheckoutPart::Catchup => Some(checkout_catchup::run(&args).await?),
        _ => None,
    };
    let created = match args.only {
        CheckoutPart::All | CheckoutPart::Create => Some(checkout_create::run(&args).await?),
        _ => None,
    };
    println!();
    println!("== checkout {} ==", settings(&args));
    if let Some(d) = &detection {
        print_detection(d, &args);
    }
    if let Some(c) = &catch_up {
        print_catch_up(c, &args);
    }
    if let Some(rows) = &created {
        print_created(rows, &args);
    }
    Ok(())
}

/// The settings every part shares, in words.
fn settings(args: &CheckoutArgs) -> String {
    let delay = if args.rpc_delay_ms > 0 { format!(", server's RPC delayed {} ms", args.rpc_delay_ms) } else { String::new() };
    format!(
        "{}: anvil block time {} s, watcher poll_interval_ms {}, confirmations {}{delay}",
        args.backend, args.block_time, args.poll_ms, args.confirmations
    )
}

fn print_detection(d: &Detection, args: &CheckoutArgs) {
    let restarts = if args.restart_each { ", the server restarted before each" } else { "" };
    println!("1. detection latency, {} payments one at a time{restarts} (p50 / p95 / max)", d.payments);
    println!("| shown as | blocks after the transfer's | ms after its block's timestamp | ms after its block appeared (bench polls every 20 ms) |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, s) in [("confirming", &d.confirming), ("paid", &d.paid)] {
        println!("| {name} ({} seen) | {} | {} | {} |", s.count, triple_u64(&s.blocks), triple_ms(&s.ms_from_timestamp), triple_ms(&s.ms_from_seen));
    }
    if d.straight_to_paid > 0 {
        println!("({} payments went from waiting straight to paid)", d.straight_to_paid);
    }
    println!("send to mined (the transfer waiting for a block): {}", triple_ms(&d.send_to_block));
}

fn print_catch_up(c: &CatchUp, args: &CheckoutArgs) {
    println!(
        "2. catch-up: {} transfers, {} per block with {} empty blocks after each, over blocks {}..={} ({} blocks behind the cursor, {} with logs)",
        c.transfers, args.per_block, args.gap_blocks, c.first_block, c.last_block, c.blocks_behind, c.blocks_with_logs
    );
    println!("| step | time | logs/s |");
    println!("| --- | ---: | ---: |");
    println!("| server start (connect, migrate, networks) | {:.2} s | |", c.started_in.as_secs_f64());
    println!("| every log recorded (cursor past the last transfer) | {:.2} s | {:.0} |", c.scanned.as_secs_f64(), rate(c.transfers, c.scanned));
    println!("| first session paid | {:.2} s | |", c.first_paid.as_secs_f64());
    println!("| every session paid | {:.2} s | {:.0} |", c.all_paid.as_secs_f64(), rate(c.transfers, c.all_paid));
    println!("(times from the start call; confirmations alone: {:.0} sessions/s)", rate(c.transfers, c.all_paid.saturating_sub(c.scanned)));
    println!(
        "bench alone, same node: one eth_getLogs over the range {:.1} ms; {} eth_getBlockByNumber one after another {:.0} ms ({:.2} ms each)",
        ms(c.get_logs),
        c.block_reads,
        ms(c.block_reads_took),
        ms(c.block_reads_took) / c.block_reads.max(1) as f64
    );
    println!("(sending took {:.1} s; {} sessions created beforehand)", c.sending.as_secs_f64(), c.transfers);
}

fn print_created(rows: &[CreateRow], args: &CheckoutArgs) {
    println!("3. sessions created per second, POST /api/v1/payments, {} requests per run, amount_slots {}", args.requests, slots(args));
    println!("| amounts | concurrency | created | sessions/s | p50 | p99 | refused |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
    for r in rows {
        let mut lat = r.latencies.clone();
        lat.sort();
        let refused = if r.refused.is_empty() {
            "none".to_owned()
        } else {
            r.refused.iter().map(|(code, n)| format!("{n} {code}")).collect::<Vec<_>>().join(", ")
        };
        println!(
            "| {} | {} | {} | {:.0} | {:.2} ms | {:.2} ms | {refused} |",
            r.amounts,
            r.concurrency,
            lat.len(),
            rate(lat.len(), r.elapsed),
            super::measure::pct_ms(&lat, 0.50),
            super::measure::pct_ms(&lat, 0.99),
        );
    }
}


fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The value at fraction `p` of a sorted sample.
pub fn pct<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied()
}

fn triple_u64(v: &[u64]) -> String {
    let mut s = v.to_vec();
    s.sort_unstable();
    let f = |p| pct(&s, p).map_or_else(|| "-".to_owned(), |x| x.to_string());
    format!("{} / {} / {}", f(0.5), f(0.95), f(1.0))
}

fn triple_ms(v: &[f64]) -> String {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let f = |p| pct(&s, p).map_or_else(|| "-".to_owned(), |x| format!("{x:.0}"));
    format!("{} / {} / {}", f(0.5), f(0.95), f(1.0))
}
