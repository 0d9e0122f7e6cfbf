//! The tokenizer, built from the GGUF's own metadata.

use crate::chat::{chatml_segments, ChatMessage};
use crate::LlmError;
use candle_core::quantized::gguf_file;
use candle_core::quantized::tokenizer::TokenizerFromGguf;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::Tokenizer;

/// A tokenizer plus the ids of the model's control tokens.
#[derive(Clone)]
pub struct ChatTokenizer {
    inner: Tokenizer,
    /// Text of every control token, longest first.
    specials: Vec<String>,
    /// Ids that end a generation (`<|im_end|>`, `<|endoftext|>`).
    pub stop_ids: Vec<u32>,
}

impl std::fmt::Debug for ChatTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTokenizer").field("stop_ids", &self.stop_ids).finish()
    }
}

fn tok_err(e: impl std::fmt::Display) -> LlmError {
    LlmError::Tokenizer(e.to_string())
}

impl ChatTokenizer {
    /// Builds the tokenizer from GGUF metadata. SmolLM2's pre-tokenizer name
    /// (`smollm`) is unknown to candle, whose fallback adds a prefix space;
    /// it is replaced by what the model was trained with: digits split one
    /// by one, then byte-level without a prefix space.
    pub fn from_gguf(content: &gguf_file::Content) -> Result<Self, LlmError> {
        let mut inner = Tokenizer::from_gguf(content).map_err(tok_err)?;
        let pre: PreTokenizerWrapper =
            Sequence::new(vec![Digits::new(true).into(), ByteLevel::new(false, true, true).into()]).into();
        inner.with_pre_tokenizer(Some(pre));
        let mut stop_ids = Vec::new();
        for name in ["<|im_end|>", "<|endoftext|>"] {
            if let Some(id) = inner.token_to_id(name) {
                stop_ids.push(id);
            }
        }
        if stop_ids.is_empty() {
            return Err(LlmError::Tokenizer("the model has no <|im_end|> or <|endoftext|> token".into()));
        }
        let mut specials: Vec<String> =
            inner.get_added_tokens_decoder().values().filter(|t| t.special).map(|t| t.content.clone()).collect();
        specials.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Ok(ChatTokenizer { inner, specials, stop_ids })
    }

    /// Token ids of plain text. Control-token strings in it (`<|im_end|>`
    /// typed by a user) stay text: each is encoded in two pieces, so the
    /// added-token matcher never sees it whole.
    pub fn encode_text(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        let mut ids = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let next = self.specials.iter().filter_map(|s| rest.find(s.as_str()).map(|at| (at, s))).min_by_key(|(at, _)| *at);
            let Some((at, special)) = next else {
                ids.extend(self.encode_plain(rest)?);
                break;
            };
            ids.extend(self.encode_plain(&rest[..at])?);
            let split = special.len() - special.chars().last().map_or(0, char::len_utf8);
            ids.extend(self.encode_plain(&special[..split])?);
            ids.extend(self.encode_plain(&special[split..])?);
            rest = &rest[at + special.len()..];
        }
        Ok(ids)
    }

    fn encode_plain(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let enc = self.inner.encode_fast(text, false).map_err(tok_err)?;
        Ok(enc.get_ids().to_vec())
    }

    /// Number of tokens of plain text.
    pub fn count(&self, text: &str) -> Result<usize, LlmError> {
        Ok(self.encode_text(text)?.len())
    }

    /// The ChatML prompt of a conversation, as ids. Message text can never
    /// inject a control token: text and control tokens are encoded apart.
    pub fn encode_chat(&self, messages: &[ChatMessage]) -> Result<Vec<u32>, LlmError> {
        let mut ids = Vec::new();
        for (special, text) in chatml_segments(messages) {
            if special {
                let id = self.inner.token_to_id(&text).ok_or_else(|| tok_err(format!("no token {text}")))?;
                ids.push(id);
            } else {
                ids.extend(self.encode_text(&text)?);
            }
        }
        Ok(ids)
    }

    /// Text of ids, control tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String, LlmError> {
        self.inner.decode(ids, true).map_err(tok_err)
    }
}
