//! What can go wrong on the payer's side, each with a stable code.

use std::path::PathBuf;
use tollway_core::channel::Refusal;

/// A payer operation's failure.
#[derive(Debug, thiserror::Error)]
pub enum PayerError {
    /// The payer refused to sign a proposal (its own limits or a proposal
    /// that is not for this channel): the request was stopped.
    #[error("refused to sign: {0}")]
    Refused(Refusal),
    /// The seller's terms for a CKB channel fail the buyer's check
    /// (expiry too far, fee rate or fees too high): nothing was signed.
    #[error("refused the seller's offer: {0}")]
    Offer(#[from] tollway_core::ckb::OfferError),
    /// The state file could not be read or written.
    #[error("payer state {path}: {message}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The state file is not what this SDK writes.
    #[error("payer state {path} is unreadable: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// No home folder for the state file (`TOLLWAY_PAYER_HOME` and `HOME` unset).
    #[error("no payer home: set TOLLWAY_PAYER_HOME (or HOME)")]
    NoHome,
    /// No local channel matches.
    #[error("no local channel {0}")]
    UnknownChannel(String),
    /// Several local channels match a short id.
    #[error("{0} names more than one local channel; give more of the id")]
    AmbiguousChannel(String),
    /// No channel was named and there is no default one.
    #[error("no channel given and no default channel; open one with `tollway channel open`")]
    NoDefaultChannel,
    /// The channel is closed (locally known).
    #[error("channel {0} is closed")]
    ChannelClosed(String),
    /// An argument that cannot be used.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The payee published no price for the model when the channel
    /// opened: the payer cannot bound what it would be asked to sign.
    #[error("no price for model {0:?} was published when the channel opened")]
    UnpricedModel(String),
    /// The server could not be reached, or the connection broke.
    #[error("cannot reach {url}: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// The server answered with an error.
    #[error("the server answered {status} {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The server's stable error code.
        code: String,
        /// The server's explanation.
        message: String,
    },
    /// The server sent something this SDK cannot read.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// A receipt the payee holds does not carry this payer's signature.
    #[error("the payee's receipt for nonce {nonce} is not signed by this payer's key")]
    ForeignReceipt {
        /// Its nonce.
        nonce: u64,
    },
    /// The CKB node failed or refused a transaction (a refund before
    /// expiry is `tx_immature`).
    #[error(transparent)]
    Chain(#[from] tollway_chain::ckb::ChainError),
    /// A CKB transaction the seller sent or the channel's funds are not as
    /// agreed.
    #[error(transparent)]
    Tx(#[from] tollway_chain::ckb::spilman::TxError),
    /// The hub's prepared payment is not the one asked for (it would pay
    /// more, to someone else, or with a higher fee): nothing was signed.
    #[error(transparent)]
    Hub(#[from] tollway_chain::ckb::hub::HubTxError),
    /// The hub's payment would cost more network fee than allowed.
    #[error("the payment's network fee is {fee} shannons, above the most allowed ({max})")]
    FeeTooHigh {
        /// The fee.
        fee: u64,
        /// The limit.
        max: u64,
    },
    /// The payee and the local state hold different receipts for the same
    /// nonce (two signers with one key?).
    #[error("the payee holds a different receipt for nonce {nonce} than the one signed here")]
    Diverged {
        /// The nonce.
        nonce: u64,
    },
}

impl PayerError {
    /// Stable code: a refusal's own code (`over_max_amount`, `over_budget`,
    /// `wrong_channel`, …), the server's code for its errors, or one of
    /// this SDK's.
    pub fn code(&self) -> &str {
        match self {
            PayerError::Refused(r) => r.code(),
            PayerError::Offer(e) => e.code(),
            PayerError::Io { .. } => "state_io",
            PayerError::Corrupt { .. } => "state_corrupt",
            PayerError::NoHome => "no_payer_home",
            PayerError::UnknownChannel(_) => "unknown_channel",
            PayerError::AmbiguousChannel(_) => "ambiguous_channel",
            PayerError::NoDefaultChannel => "no_default_channel",
            PayerError::ChannelClosed(_) => "channel_closed",
            PayerError::InvalidArgument(_) => "invalid_argument",
            PayerError::UnpricedModel(_) => "unpriced_model",
            PayerError::Transport { .. } => "unreachable",
            PayerError::Api { code, .. } => code,
            PayerError::Protocol(_) => "protocol_error",
            PayerError::ForeignReceipt { .. } => "foreign_receipt",
            PayerError::Diverged { .. } => "state_diverged",
            PayerError::Chain(e) => e.rejection().map_or(e.code(), |r| r.code()),
            PayerError::Tx(e) => e.code(),
            PayerError::Hub(e) => e.code(),
            PayerError::FeeTooHigh { .. } => "fee_too_high",
        }
    }

    /// True when the same call may succeed later (the network, or a busy
    /// server).
    pub fn is_transient(&self) -> bool {
        match self {
            PayerError::Transport { .. } => true,
            PayerError::Api { status, .. } => *status >= 500 || *status == 429,
            PayerError::Chain(e) => e.is_retryable(),
            _ => false,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> PayerError {
        PayerError::Io { path: path.into(), message: e.to_string() }
    }
}

impl From<Refusal> for PayerError {
    fn from(r: Refusal) -> Self {
        PayerError::Refused(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollway_core::Amount;

    #[test]
    fn codes_are_stable() {
        assert_eq!(PayerError::from(Refusal::WrongChannel).code(), "wrong_channel");
        let over = Refusal::OverMaxAmount { delta: Amount::new(2), max: Amount::new(1) };
        assert_eq!(PayerError::from(over).code(), "over_max_amount");
        let api = PayerError::Api { status: 409, code: "nonce_stale".into(), message: String::new() };
        assert_eq!(api.code(), "nonce_stale");
        assert!(!api.is_transient());
        assert!(PayerError::Transport { url: String::new(), message: String::new() }.is_transient());
        assert_eq!(PayerError::NoDefaultChannel.code(), "no_default_channel");
    }
}
