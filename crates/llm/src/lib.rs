//! The model side of Tollway: the embedded local model (SmolLM2-135M
//! Instruct, Q4_1 GGUF, run in-process on the CPU with candle), its
//! tokenizer read from the GGUF itself, the ChatML prompt format, token
//! counting and estimates, and a streaming client for OpenAI-compatible
//! upstreams. Local generation is blocking and streams token by token
//! through a callback that can stop it (the caller stops when the money
//! does).

mod chat;
mod error;
mod estimate;
mod local;
pub mod remote;
mod stream;
mod tokenizer;

pub use chat::{ChatMessage, Role, DEFAULT_SYSTEM_PROMPT};
pub use error::LlmError;
pub use estimate::estimate_tokens;
pub use local::{FinishReason, GenerateParams, Generation, LocalModel};
pub use stream::TextStream;
pub use tokenizer::ChatTokenizer;
