//! Background jobs: releasing holds whose timeout passed.

use crate::AppState;
use std::time::Duration;
use tollway_core::ledger::{Command, Links, Operation, Reason, TransferId, TransferRequest};
use tollway_store::Submission;

/// Starts the jobs on the current runtime.
pub fn spawn(state: AppState) {
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
