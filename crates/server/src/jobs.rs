//! Background jobs: releasing holds whose timeout passed, claiming
//! accepted channel receipts.

use crate::AppState;
use std::time::Duration;
use tollway_core::ledger::{Command, Links, Operation, Reason, TransferId, TransferRequest};
use tollway_store::channels::ClaimRequest;
use tollway_store::Submission;

/// Starts the jobs on the current runtime.
pub fn spawn(state: AppState) {
    tokio::spawn(claim_channels(state.clone()));
    tokio::spawn(async move {
        let period = Duration::from_secs(state.config.expiry_sweep_secs.max(1));
        loop {
            tokio::time::sleep(period).await;
            if let Err(e) = expire_holds(&state).await {
                tracing::warn!(error = %e, "hold expiry sweep failed");
            }
        }
    });
}

/// Claims accepted receipts: every sub-channel every
/// `channels.claim_interval_secs`, and channels owing at least
/// `channels.claim_threshold` unclaimed at each expiry sweep. One batch
/// (one transaction) per run.
async fn claim_channels(state: AppState) {
    let sweep = Duration::from_secs(state.config.expiry_sweep_secs.max(1));
    let every = state.config.channels.claim_interval_secs.max(1);
    let mut last_full = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(sweep).await;
        let full = last_full.elapsed().as_secs() >= every;
        let min_unclaimed = if full { tollway_core::Amount::ZERO } else { state.config.channels.claim_threshold };
        match state.store.claim(&ClaimRequest { channels: None, min_unclaimed }).await {
            Ok(report) if report.sub_channels > 0 => {
                tracing::info!(sub_channels = report.sub_channels, amount = %report.amount, "claimed channel receipts");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "channel claim failed"),
        }
        if full {
            last_full = tokio::time::Instant::now();
        }
    }
}

/// Releases every hold past its timeout; returns how many it released.
pub async fn expire_holds(state: &AppState) -> Result<usize, tollway_store::StoreError> {
    let ids = state.store.expired_holds(tollway_store::now_ms(), 500).await?;
    let mut released = 0;
    for (id, user_id) in ids {
        let request = TransferRequest {
            id: TransferId(format!("expire:{id}")),
            op: Operation::Expire { pending_id: TransferId(id) },
            reason: Reason::Expiry,
            links: Links { user_id, ..Links::default() },
        };
        let outcome = state.writer.submit(Submission { command: Command::Chain(vec![request]), record: None }).await?;
        if outcome.result.is_ok() {
            released += 1;
            state.metrics.holds_expired.inc();
        }
    }
    Ok(released)
}
