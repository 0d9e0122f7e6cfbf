//! The embedded engine: SmolLM2 GGUF on candle's CPU backend.
#![allow(clippy::float_arithmetic)]

use crate::stream::TextStream;
use crate::tokenizer::ChatTokenizer;
use crate::LlmError;
use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::quantized_llama::{ModelWeights, MAX_SEQ_LEN};
use std::ops::ControlFlow;
use std::path::Path;

/// How to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateParams {
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// Sampling temperature; `None` or ≤ 0 for greedy (deterministic).
    pub temperature: Option<f64>,
    /// Nucleus sampling threshold.
    pub top_p: Option<f64>,
    /// Seed of the sampler.
    pub seed: u64,
    /// Penalty for repeating recent tokens (1.0 = none).
    pub repeat_penalty: f32,
    /// How many recent tokens the penalty looks at.
    pub repeat_last_n: usize,
}

impl Default for GenerateParams {
    fn default() -> Self {
        GenerateParams { max_tokens: 256, temperature: None, top_p: None, seed: 299_792_458, repeat_penalty: 1.1, repeat_last_n: 64 }
    }
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The model ended its turn.
    Stop,
    /// `max_tokens` or the context window was reached.
    Length,
    /// The caller stopped it.
    Cancelled,
}

/// What a generation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// Tokens of the prompt.
    pub prompt_tokens: usize,
    /// Tokens generated and handed to the caller.
    pub completion_tokens: usize,
    /// Why it ended.
    pub finish: FinishReason,
}

/// A loaded model. Generation needs `&mut self`: one at a time.
pub struct LocalModel {
    weights: ModelWeights,
    tokenizer: ChatTokenizer,
    device: Device,
}

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalModel").field("tokenizer", &self.tokenizer).finish()
    }
}

impl LocalModel {
    /// Loads weights and tokenizer from a GGUF file.
    pub fn load(path: &Path) -> Result<Self, LlmError> {
        let file_err = |source| LlmError::ModelFile { path: path.display().to_string(), source };
        let mut file = std::fs::File::open(path).map_err(file_err)?;
        let content = gguf_file::Content::read(&mut file).map_err(|e| LlmError::InvalidModel(e.to_string()))?;
        let tokenizer = ChatTokenizer::from_gguf(&content)?;
        let device = Device::Cpu;
        let weights = ModelWeights::from_gguf(content, &mut file, &device)
            .map_err(|e| LlmError::InvalidModel(e.to_string()))?;
        Ok(LocalModel { weights, tokenizer, device })
    }

    /// The model's tokenizer.
    pub fn tokenizer(&self) -> &ChatTokenizer {
        &self.tokenizer
    }

    /// The context window in tokens.
    pub fn context_len(&self) -> usize {
        MAX_SEQ_LEN
    }

    /// Generates after `prompt`, calling `on_text(text, token_id)` for every
    /// token (text may be empty while a character is incomplete). The
    /// callback returns `Break` to stop; a stopped generation reports only
    /// the tokens handed over. Blocking: run it off the async runtime.
    pub fn generate(
        &mut self,
        prompt: &[u32],
        params: &GenerateParams,
        mut on_text: impl FnMut(&str, u32) -> ControlFlow<()>,
    ) -> Result<Generation, LlmError> {
        let limit = self.context_len();
        if prompt.is_empty() || prompt.len() >= limit {
            return Err(LlmError::ContextOverflow { tokens: prompt.len(), limit });
        }
        self.weights.clear_kv_cache();
        let sampling = match params.temperature.filter(|t| *t > 0.0) {
            None => Sampling::ArgMax,
            Some(temperature) => match params.top_p {
                Some(p) => Sampling::TopP { p, temperature },
                None => Sampling::All { temperature },
            },
        };
        let mut sampler = LogitsProcessor::from_sampling(params.seed, sampling);
        let mut stream = TextStream::new();
        let mut all: Vec<u32> = prompt.to_vec();
        let budget = params.max_tokens.min(limit - prompt.len());
        let mut input = Tensor::new(prompt, &self.device)?.unsqueeze(0)?;
        let mut pos = 0;
        let mut produced = 0;
        let finish = loop {
            if produced >= budget {
                break FinishReason::Length;
            }
            let logits = self.weights.forward(&input, pos)?.squeeze(0)?;
            pos += input.dim(1)?;
            let logits = if params.repeat_penalty == 1.0 {
                logits
            } else {
                let start = all.len().saturating_sub(params.repeat_last_n);
                candle_transformers::utils::apply_repeat_penalty(&logits, params.repeat_penalty, &all[start..])?
            };
            let next = sampler.sample(&logits)?;
            if self.tokenizer.stop_ids.contains(&next) {
                break FinishReason::Stop;
            }
            all.push(next);
            produced += 1;
            let text = stream.push(&self.tokenizer, next)?;
            if on_text(&text, next).is_break() {
                break FinishReason::Cancelled;
            }
            input = Tensor::new(&[next], &self.device)?.unsqueeze(0)?;
        };
        Ok(Generation { prompt_tokens: prompt.len(), completion_tokens: produced, finish })
    }
}
