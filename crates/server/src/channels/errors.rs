//! What can go wrong with a channel, and the HTTP answer for each
//! (docs/channels.md).

use crate::ApiError;
use axum::http::StatusCode;
use tollway_core::channel::wire::WireError;
use tollway_core::channel::ReceiptError;
use tollway_store::StoreError;

/// A channel operation's failure.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// A protocol rule refused the receipt or proposal.
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    /// Unreadable payment data.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// No such channel (or not the caller's).
    #[error("no such channel")]
    UnknownChannel,
    /// No such sub-channel.
    #[error("no such sub-channel")]
    UnknownSubChannel,
    /// The sub-channel kept changing underneath (other processes).
    #[error("the sub-channel is changing too fast; retry")]
    Contended,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The HTTP status of a refusal by the acceptance rules.
fn receipt_status(e: ReceiptError) -> StatusCode {
    match e {
        ReceiptError::UnsupportedVersion => StatusCode::BAD_REQUEST,
        ReceiptError::UnknownChannel | ReceiptError::UnknownSubChannel => StatusCode::NOT_FOUND,
        ReceiptError::BadSignature => StatusCode::FORBIDDEN,
        ReceiptError::ExceedsCollateral => StatusCode::PAYMENT_REQUIRED,
        ReceiptError::WrongChain
        | ReceiptError::ChannelClosed
        | ReceiptError::EpochMismatch
        | ReceiptError::NonceReused
        | ReceiptError::NonceStale
        | ReceiptError::NonceTooFar
        | ReceiptError::AmountDecreased => StatusCode::CONFLICT,
    }
}

impl From<ChannelError> for ApiError {
    fn from(e: ChannelError) -> Self {
        match e {
            ChannelError::Receipt(r) => ApiError::new(receipt_status(r), r.code(), r.to_string()),
            ChannelError::Wire(w) => ApiError::bad_request(w.code(), w.to_string()),
            ChannelError::UnknownChannel => ApiError::not_found("unknown_channel", e.to_string()),
            ChannelError::UnknownSubChannel => ApiError::not_found("unknown_sub_channel", e.to_string()),
            ChannelError::Contended => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "channel_contended", e.to_string()),
            ChannelError::Store(s) => s.into(),
        }
    }
}
