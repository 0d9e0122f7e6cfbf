//! The stablecoin checkout's books (issue 15, docs/stablecoin.md):
//! networks and tokens, payment sessions with their reserved unique
//! amounts, every Transfer to a deposit address keyed as the chain keys it
//! (`(chain_id, tx_hash, log_index)`), the watcher's cursor, and the
//! webhook outbox. Session changes go through [`tollway_core::evm::apply`]
//! and are saved, with their points credit and webhook, in one transaction.

mod catalog;
mod rows;
mod scan;
mod sessions;
mod stats;
mod webhooks;

pub use catalog::{NetworkRow, TokenRow};
pub use rows::{SessionRow, TransferRow, TransferState};
pub use scan::{FoundTransfer, Recorded, ScanOutcome};
pub use sessions::NewSession;
pub use stats::PaymentStats;
pub use webhooks::WebhookDelivery;

/// Why the store refused a checkout operation. `code()` is the stable name
/// the HTTP API answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvmStoreError {
    /// Every unique amount near the one asked for is held by an open
    /// session.
    #[error("every amount near this one is held by an open payment; try again later or another amount")]
    NoFreeAmount,
    /// The creator has as many open sessions as it may.
    #[error("too many open payments from this client; pay or let one expire first")]
    TooManyOpen,
    /// No session with this id.
    #[error("no payment with this id")]
    UnknownPayment,
    /// Another process moved the cursor first; read again.
    #[error("the cursor moved under this scan")]
    CursorMoved,
    /// A session's stored books disagree with its transfers.
    #[error("session books disagree: {0}")]
    Session(#[from] tollway_core::evm::SessionError),
}

impl EvmStoreError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            EvmStoreError::NoFreeAmount => "no_free_amount",
            EvmStoreError::TooManyOpen => "too_many_open_payments",
            EvmStoreError::UnknownPayment => "unknown_payment",
            EvmStoreError::CursorMoved => "cursor_moved",
            EvmStoreError::Session(_) => "session_inconsistent",
        }
    }
}
