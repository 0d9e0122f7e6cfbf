//! Background jobs: releasing holds whose timeout passed, claiming
//! accepted channel receipts.

use crate::AppState;
use std::time::Duration;
use tollway_core::ledger::{ChainError, Command, Links, TransferError, TransferId, TransferRequest};
use tollway_store::channels::ClaimRequest;
use tollway_store::history::ExpiredHold;
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

/// Holds looked at per page of the expiry sweep.
const SWEEP_PAGE: i64 = 500;

/// Releases every hold past its timeout; returns how many it released.
/// The sweep pages through the expired holds by position, all of a page
/// submitted at once (the writer commits them together); a hold that
/// cannot be released is logged and passed over, never blocking the
/// others. Expiry ids are derived with [`TransferId::derive`], so they are
/// valid whatever the hold's id.
pub async fn expire_holds(state: &AppState) -> Result<usize, tollway_store::StoreError> {
    let now = tollway_store::now_ms();
    let mut after: Option<ExpiredHold> = None;
    let mut released = 0;
    loop {
        let page = state.store.expired_holds(now, after.as_ref(), SWEEP_PAGE).await?;
        let submissions = page.iter().map(|hold| {
            let links = Links { user_id: hold.user_id, ..Links::default() };
            let request = TransferRequest::expiry(TransferId(hold.id.clone()), links);
            state.writer.submit(Submission { command: Command::Chain(vec![request]), record: None })
        });
        for (hold, outcome) in page.iter().zip(futures::future::join_all(submissions).await) {
            match outcome?.result {
                Ok(_) => {
                    released += 1;
                    state.metrics.holds_expired.inc();
                }
                // Resolved by another process since the page was read.
                Err(ChainError {
                    error:
                        TransferError::PendingTransferAlreadyPosted
                        | TransferError::PendingTransferAlreadyVoided
                        | TransferError::PendingTransferExpired,
                    ..
                }) => {}
                Err(e) => tracing::warn!(hold = %hold.id, error = %e.error, "hold could not be expired; passed over"),
            }
        }
        if page.len() < usize::try_from(SWEEP_PAGE).unwrap_or(usize::MAX) {
            return Ok(released);
        }
        after = page.last().cloned();
    }
}
