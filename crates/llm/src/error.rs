/// A failure of the model side.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The model file is missing or unreadable.
    #[error("cannot read model file {path}: {source}")]
    ModelFile {
        /// Where it was looked for.
        path: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The model file is not a usable GGUF.
    #[error("invalid model: {0}")]
    InvalidModel(String),
    /// The tokenizer could not be built or used.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The prompt does not fit the context window.
    #[error("prompt of {tokens} tokens does not fit the {limit}-token context")]
    ContextOverflow {
        /// Prompt tokens.
        tokens: usize,
        /// Context window.
        limit: usize,
    },
    /// The inference backend failed.
    #[error("inference failed: {0}")]
    Inference(String),
}

impl LlmError {
    /// True when the same request may succeed later (never for the local
    /// model: its failures are deterministic).
    pub fn is_retryable(&self) -> bool {
        false
    }
}

impl From<candle_core::Error> for LlmError {
    fn from(e: candle_core::Error) -> Self {
        LlmError::Inference(e.to_string())
    }
}
