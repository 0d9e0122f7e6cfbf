//! What can go wrong on the CKB rail, and the HTTP answer for each
//! (docs/ckb.md, "HTTP API").

use crate::channels::ChannelError;
use crate::ApiError;
use axum::http::StatusCode;
use tollway_chain::ckb::spilman::TxError;
use tollway_chain::ckb::ChainError;
use tollway_core::ckb::{NotAllowed, SplitError};
use tollway_store::StoreError;

/// A CKB channel operation's failure.
#[derive(Debug, thiserror::Error)]
pub enum CkbError {
    /// The rail is not configured (`ckb.rpc_url`).
    #[error("the CKB rail is not enabled on this server")]
    Disabled,
    /// No such CKB channel (or not the caller's).
    #[error("no such CKB channel")]
    UnknownChannel,
    /// A duration outside the configured bounds.
    #[error("the duration must be {min} to {max} seconds")]
    InvalidDuration {
        /// Shortest.
        min: u64,
        /// Longest.
        max: u64,
    },
    /// The seller has no free cells to co-fund with.
    #[error("the seller has no free cells to co-fund a channel; try again later")]
    SellerFundsUnavailable,
    /// A receipt on a CKB channel came without its commitment.
    #[error("a receipt on a CKB channel must carry its commitment")]
    CommitmentRequired,
    /// A commitment on a channel that is not CKB-backed.
    #[error("this channel is not CKB-backed: a receipt carries no commitment")]
    CommitmentNotExpected,
    /// The commitment pays another total than the receipt.
    #[error("the commitment pays {commitment} shannons, the receipt {receipt}")]
    CommitmentAmountMismatch {
        /// What the commitment pays.
        commitment: u64,
        /// The receipt's total.
        receipt: u128,
    },
    /// No commitment to settle with.
    #[error("nothing was paid on this channel: there is nothing to settle")]
    NothingToSettle,
    /// The auto-settle job could not settle some channels (the detail
    /// says which and why).
    #[error("{0}")]
    SettleFailed(String),
    /// A job could not follow some channels (the detail says which and
    /// why); the others were followed.
    #[error("{0}")]
    JobFailed(String),
    /// The channel's local payment deadline has passed: it takes no more
    /// receipts, even while the node cannot say where the chain is.
    #[error("this channel stopped taking receipts at {pay_until} (Unix ms): its expiry is too near to settle safely")]
    ChannelExpiring {
        /// The deadline, Unix ms.
        pay_until: i64,
    },
    /// The move is not allowed in the channel's state.
    #[error(transparent)]
    State(#[from] NotAllowed),
    /// A transaction that is not what the channel's terms make.
    #[error(transparent)]
    Tx(#[from] TxError),
    /// The node failed or refused.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The receipt side refused.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SplitError> for CkbError {
    fn from(e: SplitError) -> Self {
        CkbError::Tx(TxError::Funds(e))
    }
}

fn tx_status(e: &TxError) -> StatusCode {
    match e {
        TxError::Malformed(_) => StatusCode::BAD_REQUEST,
        TxError::WrongSigner { .. } => StatusCode::FORBIDDEN,
        TxError::Funds(SplitError::ExceedsChannel) => StatusCode::PAYMENT_REQUIRED,
        TxError::Funds(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl From<CkbError> for ApiError {
    fn from(e: CkbError) -> Self {
        let message = e.to_string();
        match e {
            CkbError::Disabled => ApiError::not_found("ckb_disabled", message),
            CkbError::UnknownChannel => ApiError::not_found("unknown_channel", message),
            CkbError::InvalidDuration { .. } => ApiError::bad_request("invalid_duration", message),
            CkbError::SellerFundsUnavailable => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "seller_funds_unavailable", message),
            CkbError::CommitmentRequired => ApiError::bad_request("commitment_required", message),
            CkbError::CommitmentNotExpected => ApiError::bad_request("commitment_not_expected", message),
            CkbError::CommitmentAmountMismatch { .. } => ApiError::conflict("commitment_amount_mismatch", message),
            CkbError::NothingToSettle => ApiError::conflict("nothing_to_settle", message),
            CkbError::SettleFailed(_) => ApiError::new(StatusCode::BAD_GATEWAY, "settle_failed", message),
            CkbError::JobFailed(_) => ApiError::new(StatusCode::BAD_GATEWAY, "ckb_job_failed", message),
            CkbError::ChannelExpiring { .. } => ApiError::conflict("channel_expiring", message),
            CkbError::State(s) => ApiError::conflict(s.code(), message),
            CkbError::Tx(t) => ApiError::new(tx_status(&t), t.code(), message),
            CkbError::Chain(c) => match c.rejection() {
                Some(r) => ApiError::conflict(r.code(), message),
                None if c.is_retryable() => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, c.code(), message),
                None => ApiError::new(StatusCode::BAD_GATEWAY, c.code(), message),
            },
            CkbError::Channel(c) => c.into(),
            CkbError::Store(s) => s.into(),
        }
    }
}
