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
pub(super) async fn moved(state: &AppState, ckb: &Ckb, channel: &StoredCkbChannel, events: &[E]) -> Result<(), CkbError> {
    ckb.advance(channel, events, None).await?;
    state.channels.reload(&channel.id).await?;
    Ok(())
}

fn hash_of(bytes: &[u8; 32]) -> ckb_types::packed::Byte32 {
    ckb_types::prelude::Pack::pack(bytes)
}

/// The states the tracking follows.
const TRACKED: [S; 7] = [S::Proposed, S::RefundSigned, S::Funding, S::Settling { after_expiry: false }, S::Settling { after_expiry: true }, S::Active, S::Expired];

/// Follows the chain; how many channels moved. One channel's failure is
/// logged and the others are still followed (the failures together are
/// the run's error).
async fn track(state: &AppState, ckb: &Ckb) -> Result<usize, CkbError> {
    let tip = ckb.rpc.tip_block_number().await?;
    let (mut moves, mut failed) = (0, Vec::new());
    for channel in ckb.store.ckb_channels_in(&TRACKED).await? {
        match track_one(state, ckb, &channel, tip).await {
            Ok(moved) => moves += usize::from(moved),
            Err(e) => {
                tracing::warn!(channel = %channel.id, error = %e, "cannot follow a CKB channel");
                failed.push(format!("{}: {e}", channel.id));
            }
        }
    }
    match failed.is_empty() {
        true => Ok(moves),
        false => Err(CkbError::JobFailed(format!("{moves} channels moved; failed {} [{}]", failed.len(), failed.join("; ")))),
    }
}

/// Whether a transaction in block `block` has `confirmations` blocks at
/// `tip`, its own included (0 and 1: once committed).
pub(super) fn deep_enough(confirmations: u64, block: u64, tip: u64) -> bool {
    tip.saturating_sub(block).saturating_add(1) >= confirmations
}

/// Follows one channel; whether it moved.
async fn track_one(state: &AppState, ckb: &Ckb, channel: &StoredCkbChannel, tip: u64) -> Result<bool, CkbError> {
    let stale_before = now_ms() - i64::try_from(ckb.config.offer_ttl_secs.saturating_mul(1_000)).unwrap_or(i64::MAX);
    match channel.state {
        // Nothing signed yet: a stale offer is simply given up.
        S::Proposed if channel.updated_at < stale_before => moved(state, ckb, channel, &[E::FundingDropped]).await.map(|_| true),
        S::RefundSigned | S::Funding => {
            let status = match &channel.funding_tx_hash {
                Some(hash) => ckb.rpc.tx_status(&hash_of(hash)).await?,
                None => TxStatus::Unknown,
            };
            let events: &[E] = match status {
                TxStatus::Committed(block) if deep_enough(ckb.config.funding_confirmations, block, tip) => match channel.state {
                    S::RefundSigned => &[E::FundingSent, E::FundingCommitted],
                    _ => &[E::FundingCommitted],
                },
                TxStatus::Committed(_) | TxStatus::Pending | TxStatus::Proposed => return Ok(false),
                // Given up (or being given up: its reclaim is stored): the
                // seller signed this funding, so its cells are spent back
                // before the channel is abandoned.
                TxStatus::Unknown | TxStatus::Rejected(_) if channel.closing_tx.is_some() || channel.updated_at < stale_before => {
                    return ckb.give_up(state, channel, tip).await;
                }
                TxStatus::Unknown | TxStatus::Rejected(_) => return Ok(false),
            };
            moved(state, ckb, channel, events).await.map(|_| true)
        }
        S::Settling { .. } => {
            let Some(closing) = channel.closing_tx.as_deref() else { return Ok(false) };
            let settlement = transaction(closing)?;
            match ckb.rpc.tx_status(&settlement.hash()).await? {
                TxStatus::Committed(_) => moved(state, ckb, channel, &[E::SettleCommitted]).await.map(|_| true),
                TxStatus::Pending | TxStatus::Proposed => Ok(false),
                TxStatus::Unknown | TxStatus::Rejected(_) if cell_live(ckb, channel).await? => ckb.send_closing(&settlement).await.map(|_| false),
                // Spent by someone else: the buyer's refund won.
                TxStatus::Unknown | TxStatus::Rejected(_) => moved(state, ckb, channel, &[E::TxDropped, E::RefundSent, E::RefundCommitted]).await.map(|_| true),
            }
        }
        S::Active | S::Expired if !cell_live(ckb, channel).await? => {
            let events: &[E] = if channel.state == S::Active { &[E::ExpiryReached, E::RefundSent, E::RefundCommitted] } else { &[E::RefundSent, E::RefundCommitted] };
            moved(state, ckb, channel, events).await.map(|_| true)
        }
        _ => Ok(false),
    }
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
        // One channel's failure must not keep the others from settling
        // (settling re-reads the channel's receipt state either way).
        match ckb.settle(&state.channels, None, &channel.id).await {
            Ok(_) => settled.push(format!("{} ({} shannons)", channel.id, channel.latest_cumulative)),
            Err(e) => failed.push(format!("{}: {e}", channel.id)),
        }
    }
    let detail = format!("tip {tip}: settled {} [{}]; {unpaid} due with nothing paid", settled.len(), settled.join(", "));
    match failed.is_empty() {
        true => Ok(detail),
        false => Err(CkbError::SettleFailed(format!("{detail}; failed {} [{}]", failed.len(), failed.join("; ")))),
    }
}

/// Marks expired (no more receipts) the channels whose refund can now
/// enter the pool (from three blocks before the expiry: the pool judges a
/// `since` by the earliest block that could commit the transaction), and
/// those past their local payment deadline, which needs no node: when the
/// node is unreachable the deadline still applies, and the run fails
/// after it. One channel's failure does not keep the others open.
async fn mark_expired(state: &AppState, ckb: &Ckb) -> Result<usize, CkbError> {
    let tip = ckb.rpc.tip_block_number().await;
    let now = now_ms();
    let (mut expired, mut failed) = (0, Vec::new());
    for channel in ckb.store.ckb_channels_in(&[S::Active, S::Settling { after_expiry: false }]).await? {
        let by_chain = tip.as_ref().is_ok_and(|tip| tip.saturating_add(3) >= channel.expiry_block);
        let by_clock = channel.pay_until.is_some_and(|deadline| now >= deadline);
        if by_chain || by_clock {
            match moved(state, ckb, &channel, &[E::ExpiryReached]).await {
                Ok(()) => expired += 1,
                Err(e) => failed.push(format!("{}: {e}", channel.id)),
            }
        }
    }
    let mut problems = failed;
    if let Err(e) = tip {
        problems.push(format!("the node: {e}"));
    }
    match problems.is_empty() {
        true => Ok(expired),
        false => Err(CkbError::JobFailed(format!("{expired} channels expired; failed: {}", problems.join("; ")))),
    }
}

#[cfg(test)]
mod tests {
    use super::deep_enough;

    #[test]
    fn depth_counts_the_funding_s_own_block() {
        assert!(deep_enough(0, 10, 10) && deep_enough(1, 10, 10));
        assert!(!deep_enough(4, 10, 12), "3 blocks of 4");
        assert!(deep_enough(4, 10, 13));
        // A tip read before the block that committed it.
        assert!(deep_enough(1, 11, 10) && !deep_enough(2, 11, 10));
        // No overflow at the ends.
        assert!(deep_enough(u64::MAX, 0, u64::MAX) && !deep_enough(u64::MAX, 2, u64::MAX));
    }
}
