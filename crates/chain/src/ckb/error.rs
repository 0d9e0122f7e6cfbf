//! What can go wrong talking to or running a CKB node.

use std::path::PathBuf;

/// A chain adapter's failure.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The `ckb` binary is not where it was looked for.
    #[error("the ckb node binary is missing at {0} (run scripts/ckb.sh to build it, or set TOLLWAY_CKB_BIN)")]
    BinaryMissing(PathBuf),
    /// Something else listens on a port the node needs.
    #[error("port {0} on 127.0.0.1 is taken; stop what listens there or choose another port")]
    PortTaken(u16),
    /// The node exited or never answered.
    #[error("the ckb node did not start: {0}")]
    NodeDidNotStart(String),
    /// Reading or writing the devnet's files, or running the binary.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The RPC endpoint could not be reached or answered garbage.
    #[error("ckb rpc {method}: {message}")]
    Transport {
        /// The RPC method.
        method: String,
        /// What happened.
        message: String,
    },
    /// The genesis block lacks what the CKB rail needs.
    #[error("{0}")]
    Genesis(String),
    /// The node refused the call.
    #[error("ckb rpc {method} failed ({code}): {message}")]
    Rpc {
        /// The RPC method.
        method: String,
        /// The node's error code.
        code: i64,
        /// The node's message.
        message: String,
    },
}

impl ChainError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ChainError::BinaryMissing(_) => "ckb_binary_missing",
            ChainError::PortTaken(_) => "port_taken",
            ChainError::NodeDidNotStart(_) => "node_did_not_start",
            ChainError::Io { .. } => "io_error",
            ChainError::Transport { .. } => "chain_unreachable",
            ChainError::Rpc { .. } => "chain_rpc_error",
            ChainError::Genesis(_) => "unsupported_genesis",
        }
    }

    /// True when trying again later may succeed (the node was busy or
    /// unreachable); a refusal by the node is final.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ChainError::Transport { .. })
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> ChainError {
        ChainError::Io { context: context.into(), source }
    }
}
