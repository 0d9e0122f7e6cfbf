//! What can go wrong talking to an EVM network or running the local devnet.

/// An EVM adapter's failure. Every variant has a stable [`code`](EvmError::code).
#[derive(Debug, thiserror::Error)]
pub enum EvmError {
    /// The client was given no RPC URL at all.
    #[error("no RPC URL given for the EVM network")]
    NoEndpoints,
    /// An RPC URL is not an absolute `http://` or `https://` URL.
    #[error("bad RPC URL {url:?}: {message}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        message: String,
    },
    /// The call's arguments are wrong before anything is sent (e.g. a block
    /// range whose start is after its end).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Every endpoint failed (transport error, timeout, lag) for this call.
    #[error("no RPC endpoint answered {method}: {}", attempts.join("; "))]
    Unavailable {
        /// The RPC method.
        method: String,
        /// One line per endpoint tried: its URL and what went wrong.
        attempts: Vec<String>,
    },
    /// The serving endpoint is on another chain than the one configured.
    #[error("RPC endpoint {url} is on chain {got}, not the configured chain {expected}")]
    WrongChain {
        /// The endpoint's URL.
        url: String,
        /// The configured chain id.
        expected: u64,
        /// What the endpoint's `eth_chainId` answered.
        got: u64,
    },
    /// The node answered the call with a JSON-RPC error (the request's
    /// fault, or the node's refusal): not failed over.
    #[error("{method} failed ({code}): {message}")]
    Rpc {
        /// The RPC method.
        method: String,
        /// The JSON-RPC error code.
        code: i64,
        /// The node's message.
        message: String,
    },
    /// Every endpoint answered something that is not what the method
    /// returns (or a block or receipt lacks a field it must have).
    #[error("malformed answer to {method}: {message}")]
    Malformed {
        /// The RPC method.
        method: String,
        /// What was wrong.
        message: String,
    },
    /// alloy refused the request before sending it (serialization, signing).
    #[error("{method} could not be sent: {message}")]
    Local {
        /// The RPC method.
        method: String,
        /// alloy's message.
        message: String,
    },
    /// No anvil binary was found (`TOLLWAY_ANVIL_BIN`, the cache of
    /// `scripts/anvil.sh`, or running that script).
    #[error("anvil not found: {0} (run scripts/anvil.sh, or set TOLLWAY_ANVIL_BIN)")]
    AnvilMissing(String),
    /// Something that is not an RPC node listens on the devnet's port.
    #[error("port {port} on {host} is taken by something that is not an EVM node; stop it or choose another port")]
    PortTaken {
        /// The host.
        host: String,
        /// The port.
        port: u16,
    },
    /// anvil exited or never answered.
    #[error("anvil did not start: {0}")]
    NodeDidNotStart(String),
    /// The devnet's tokens could not be made to exist at their addresses.
    #[error("devnet tokens: {0}")]
    Deploy(String),
    /// A secret key is not a valid secp256k1 key.
    #[error("invalid secret key: {0}")]
    InvalidKey(String),
    /// A transaction was sent but no receipt came back in time.
    #[error("transaction {hash} was not mined: {message}")]
    NotMined {
        /// The transaction hash (0x + 64 hex).
        hash: String,
        /// What happened.
        message: String,
    },
    /// Running or stopping a process.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl EvmError {
    /// Stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            EvmError::NoEndpoints => "no_rpc_urls",
            EvmError::InvalidUrl { .. } => "invalid_rpc_url",
            EvmError::InvalidRequest(_) => "invalid_request",
            EvmError::Unavailable { .. } => "rpc_unavailable",
            EvmError::WrongChain { .. } => "wrong_chain",
            EvmError::Rpc { .. } => "rpc_error",
            EvmError::Malformed { .. } => "malformed_response",
            EvmError::Local { .. } => "rpc_local_error",
            EvmError::AnvilMissing(_) => "anvil_missing",
            EvmError::PortTaken { .. } => "port_taken",
            EvmError::NodeDidNotStart(_) => "node_did_not_start",
            EvmError::Deploy(_) => "deploy_failed",
            EvmError::InvalidKey(_) => "invalid_secret_key",
            EvmError::NotMined { .. } => "not_mined",
            EvmError::Io { .. } => "io_error",
        }
    }

    /// True when trying again later may succeed (no endpoint answered, or
    /// the receipt did not come in time); a refusal or a wrong chain is final.
    pub fn is_retryable(&self) -> bool {
        matches!(self, EvmError::Unavailable { .. } | EvmError::NotMined { .. })
    }

    /// A failed call to one node, with no failover (the devnet's calls).
    pub(crate) fn transport(method: &str, error: alloy::transports::TransportError) -> EvmError {
        use alloy::transports::RpcError;
        let method = method.to_owned();
        match error {
            RpcError::ErrorResp(payload) => EvmError::Rpc { method, code: payload.code, message: payload.message.to_string() },
            RpcError::DeserError { err, .. } => EvmError::Malformed { method, message: err.to_string() },
            RpcError::NullResp => EvmError::Malformed { method, message: "a null result".into() },
            RpcError::Transport(kind) => EvmError::Unavailable { method, attempts: vec![kind.to_string()] },
            other => EvmError::Local { method, message: other.to_string() },
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> EvmError {
        EvmError::Io { context: context.into(), source }
    }
}
