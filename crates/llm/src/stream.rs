//! Turning generated token ids into text as they come, without ever
//! emitting half of a multi-byte character.

use crate::tokenizer::ChatTokenizer;
use crate::LlmError;

/// Incremental decoder: feed ids, get the new text they complete.
#[derive(Debug, Default)]
pub struct TextStream {
    ids: Vec<u32>,
    emitted: usize,
}

impl TextStream {
    /// An empty stream.
    pub fn new() -> Self {
        TextStream::default()
    }

    /// Adds a token; returns the text it completes (possibly empty, when it
    /// ends inside a UTF-8 character that later tokens finish).
    pub fn push(&mut self, tokenizer: &ChatTokenizer, id: u32) -> Result<String, LlmError> {
        self.ids.push(id);
        let text = tokenizer.decode(&self.ids)?;
        if text.ends_with('\u{FFFD}') || text.len() < self.emitted {
            return Ok(String::new());
        }
        let new = text.get(self.emitted..).unwrap_or_default().to_owned();
        self.emitted = text.len();
        Ok(new)
    }
}
