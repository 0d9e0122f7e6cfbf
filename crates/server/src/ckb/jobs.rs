//! The CKB rail's jobs, every `ckb.job_interval_secs`: follow the chain
//! (funding committed → active, settlements committed, refunds seen,
//! stale offers abandoned), settle every channel expiring within
//! `ckb.settle_margin_secs`, and mark expired channels. Each run of the
//! auto-settle and expiry tasks, and each tracking run that changed
//! something or failed, is written to the task log (`task_runs`).

use super::{transaction, Ckb, CkbError};
use crate::AppState;
use std::time::Duration;
use tollway_chain::ckb::spilman::parse_out_point;
use tollway_chain::ckb::TxStatus;
use tollway_core::ckb::{SpilmanEvent as E, SpilmanState as S};
use tollway_store::{now_ms, StoredCkbChannel, TaskRun};

/// The task names in the log.
pub const TASKS: [&str; 3] = ["ckb_track", "ckb_auto_settle", "ckb_mark_expired"];

/// Starts the jobs if the rail is on.
pub fn spawn(state: AppState) {
    let Some(ckb) = state.ckb.clone() else { return };
    tokio::spawn(async move {
        let period = Duration::from_secs(ckb.config.job_interval_secs.max(1));
        loop {
            run_once(&state, &ckb).await;
            tokio::time::sleep(period).await;
        }
    });
}

/// One round of every task, each logged.
pub async fn run_once(state: &AppState, ckb: &Ckb) {
    let started = now_ms();
    let tracked = track(state, ckb).await;
    if !matches!(tracked, Ok(0)) {
        log(ckb, "ckb_track", started, tracked.map(|n| format!("{n} channels moved"))).await;
    }
    let started = now_ms();
    let settled = auto_settle(state, ckb).await;
    log(ckb, "ckb_auto_settle", started, settled).await;
    let started = now_ms();
    let expired = mark_expired(state, ckb).await;
    log(ckb, "ckb_mark_expired", started, expired.map(|n| format!("{n} channels expired"))).await;
}

async fn log(ckb: &Ckb, task: &str, started_at: i64, result: Result<String, CkbError>) {
    let (ok, detail) = match result {
        Ok(detail) => (true, detail),
        Err(e) => {
            tracing::warn!(task, error = %e, "ckb job failed");
            (false, e.to_string())
        }
    };
    let run = TaskRun { task: task.to_owned(), started_at, finished_at: now_ms(), ok, detail };
    if let Err(e) = ckb.store.record_task_run(&run).await {
        tracing::warn!(task, error = %e, "cannot write the task log");
    }
}

/// Moves `channel` by `events`, then reloads its receipt state (a channel
/// takes payments only while active).
async fn moved(state: &AppState, ckb: &Ckb, channel: &StoredCkbChannel, events: &[E]) -> Result<(), CkbError> {
    ckb.advance(channel, events, None).await?;
    state.channels.reload(&channel.id).await?;
    Ok(())
}

fn hash_of(bytes: &[u8; 32]) -> ckb_types::packed::Byte32 {
    ckb_types::prelude::Pack::pack(bytes)
}

/// Follows the chain; how many channels moved.
async fn track(state: &AppState, ckb: &Ckb) -> Result<usize, CkbError> {
    let mut moves = 0;
    let stale_before = now_ms() - i64::try_from(ckb.config.offer_ttl_secs.saturating_mul(1_000)).unwrap_or(i64::MAX);
    for channel in ckb.store.ckb_channels_in(&[S::Proposed, S::RefundSigned, S::Funding]).await? {
        let status = match &channel.funding_tx_hash {
            Some(hash) => ckb.rpc.tx_status(&hash_of(hash)).await?,
            None => TxStatus::Unknown,
        };
        let events: &[E] = match (channel.state, status) {
            (S::RefundSigned, TxStatus::Committed(_)) => &[E::FundingSent, E::FundingCommitted],
            (S::Funding, TxStatus::Committed(_)) => &[E::FundingCommitted],
            (_, TxStatus::Unknown | TxStatus::Rejected(_)) if channel.updated_at < stale_before => &[E::FundingDropped],
            _ => continue,
        };
        moved(state, ckb, &channel, events).await?;
        moves += 1;
    }
    for channel in ckb.store.ckb_channels_in(&[S::Settling { after_expiry: false }, S::Settling { after_expiry: true }]).await? {
        let Some(closing) = channel.closing_tx.as_deref() else { continue };
        let settlement = transaction(closing)?;
        match ckb.rpc.tx_status(&settlement.hash()).await? {
            TxStatus::Committed(_) => {
                moved(state, ckb, &channel, &[E::SettleCommitted]).await?;
                moves += 1;
            }
            TxStatus::Pending | TxStatus::Proposed => {}
            TxStatus::Unknown | TxStatus::Rejected(_) => {
                if cell_live(ckb, &channel).await? {
                    ckb.send_closing(&settlement).await?;
                } else {
                    // Spent by someone else: the buyer's refund won.
                    moved(state, ckb, &channel, &[E::TxDropped, E::RefundSent, E::RefundCommitted]).await?;
                    moves += 1;
                }
            }
        }
    }
    for channel in ckb.store.ckb_channels_in(&[S::Active, S::Expired]).await? {
        if !cell_live(ckb, &channel).await? {
            let events: &[E] = if channel.state == S::Active { &[E::ExpiryReached, E::RefundSent, E::RefundCommitted] } else { &[E::RefundSent, E::RefundCommitted] };
            moved(state, ckb, &channel, events).await?;
            moves += 1;
        }
    }
    Ok(moves)
}

async fn cell_live(ckb: &Ckb, channel: &StoredCkbChannel) -> Result<bool, CkbError> {
    let Some(cell) = channel.cell.as_deref().and_then(parse_out_point) else { return Ok(true) };
    Ok(ckb.rpc.is_live(&cell).await?)
}

/// Settles every channel whose expiry is within the margin.
async fn auto_settle(state: &AppState, ckb: &Ckb) -> Result<String, CkbError> {
    let tip = ckb.rpc.tip_block_number().await?;
    let margin = ckb.config.settle_margin_secs.div_ceil(ckb.config.block_interval_secs.max(1));
    let (mut settled, mut failed, mut unpaid) = (Vec::new(), Vec::new(), 0);
    for channel in ckb.store.ckb_channels_in(&[S::Active, S::Expired]).await? {
        if channel.expiry_block > tip.saturating_add(margin) {
            continue;
        }
        if channel.latest_cumulative == 0 {
            unpaid += 1;
            continue;
        }
        // One channel's failure must not keep the others from settling.
        match ckb.settle(None, &channel.id).await {
            Ok(_) => settled.push(format!("{} ({} shannons)", channel.id, channel.latest_cumulative)),
            Err(e) => failed.push(format!("{}: {e}", channel.id)),
        }
        state.channels.reload(&channel.id).await?;
    }
    let detail = format!("tip {tip}: settled {} [{}]; {unpaid} due with nothing paid", settled.len(), settled.join(", "));
    match failed.is_empty() {
        true => Ok(detail),
        false => Err(CkbError::SettleFailed(format!("{detail}; failed {} [{}]", failed.len(), failed.join("; ")))),
    }
}

/// Marks channels whose refund can now enter the pool (from three blocks
/// before the expiry: the pool judges a `since` by the earliest block
/// that could commit the transaction).
async fn mark_expired(state: &AppState, ckb: &Ckb) -> Result<usize, CkbError> {
    let tip = ckb.rpc.tip_block_number().await?;
    let mut expired = 0;
    for channel in ckb.store.ckb_channels_in(&[S::Active, S::Settling { after_expiry: false }]).await? {
        if tip.saturating_add(3) >= channel.expiry_block {
            moved(state, ckb, &channel, &[E::ExpiryReached]).await?;
            expired += 1;
        }
    }
    Ok(expired)
}
