//! What can go wrong at the hub, and the HTTP answer for each (docs/hub.md).

use crate::ApiError;
use axum::http::StatusCode;
use tollway_chain::ckb::hub::HubTxError;
use tollway_chain::ckb::ChainError;
use tollway_core::ckb::AddressError;
use tollway_store::StoreError;

/// A hub operation's failure.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The hub is not configured.
    #[error("the CKB hub is not enabled on this server")]
    Disabled,
    /// No such payment.
    #[error("no hub payment with this id")]
    UnknownPayment,
    /// An address the hub cannot use.
    #[error("{field}: {source}")]
    Address {
        /// Which field.
        field: &'static str,
        /// Why.
        source: AddressError,
    },
    /// The hub's own key as the sender.
    #[error("the hub cannot pay itself")]
    SenderIsHub,
    /// A payment to the gateway without an API key.
    #[error("a payment to the gateway buys points: send your API key (Authorization: Bearer …)")]
    NeedsUser,
    /// A payment to the gateway too small for one point.
    #[error("a payment to the gateway must buy at least one point ({0} shannons after the fee)")]
    BelowOnePoint(u64),
    /// Too many open payments prepared by this client.
    #[error("too many open payments prepared from here; sign or let some expire first")]
    TooManyFromClient,
    /// Every pool cell is leased.
    #[error("every pool cell is in use by another payment; retry in a few seconds")]
    PoolBusy,
    /// The sender's cells cannot pay it.
    #[error("the sender's cells cannot pay {needed} shannons (amount, fee and a 61 CKB change cell); it has {available} free")]
    SenderFunds {
        /// Free capacity found.
        available: u64,
        /// Needed.
        needed: u64,
    },
    /// The prepared payment's time ran out.
    #[error("this payment expired before it was signed; prepare a new one")]
    Expired,
    /// The payment is past `prepared` and the transaction differs.
    #[error("this payment was already {0}; prepare a new one")]
    NotPrepared(&'static str),
    /// A transaction that is not bytes of a transaction.
    #[error("the transaction is not 0x hex of a serialized CKB transaction")]
    MalformedTransaction,
    /// The transaction does not pass the hub's checks.
    #[error(transparent)]
    Tx(#[from] HubTxError),
    /// The node failed or refused.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> Self {
        let message = e.to_string();
        match e {
            HubError::Disabled => ApiError::not_found("hub_disabled", message),
            HubError::UnknownPayment => ApiError::not_found("unknown_payment", message),
            HubError::Address { source, .. } => ApiError::bad_request(source.code(), message),
            HubError::SenderIsHub => ApiError::bad_request("sender_is_hub", message),
            HubError::NeedsUser => ApiError::unauthorized("api_key_missing", message),
            HubError::BelowOnePoint(_) => ApiError::bad_request("amount_below_one_point", message),
            HubError::TooManyFromClient => ApiError::too_many_requests("too_many_open_payments", message, 10),
            HubError::PoolBusy => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "hub_busy", message),
            HubError::SenderFunds { .. } => ApiError::bad_request("insufficient_funds", message),
            HubError::Expired => ApiError::new(StatusCode::GONE, "payment_expired", message),
            HubError::NotPrepared(_) => ApiError::conflict("payment_not_prepared", message),
            HubError::MalformedTransaction => ApiError::bad_request("malformed_transaction", message),
            HubError::Tx(t) => {
                let status = match t {
                    HubTxError::TxMismatch(_) => StatusCode::UNPROCESSABLE_ENTITY,
                    HubTxError::BadSignature(_) => StatusCode::FORBIDDEN,
                    HubTxError::HubCellMismatch(_) | HubTxError::InvalidPlan(_) => StatusCode::INTERNAL_SERVER_ERROR,
                    _ => StatusCode::BAD_REQUEST,
                };
                ApiError::new(status, t.code(), message)
            }
            HubError::Chain(c) => match c.rejection() {
                Some(r) => ApiError::conflict(r.code(), message),
                None if c.is_retryable() => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, c.code(), message),
                None => ApiError::new(StatusCode::BAD_GATEWAY, c.code(), message),
            },
            HubError::Store(s) => s.into(),
        }
    }
}
