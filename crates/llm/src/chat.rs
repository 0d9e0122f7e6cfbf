//! Chat messages and the ChatML prompt SmolLM2-Instruct was trained on.

use serde::{Deserialize, Serialize};

/// Used when a conversation has no system message (the model's own default).
pub const DEFAULT_SYSTEM_PROMPT: &str = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions.
    System,
    /// The person.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// The ChatML role name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who said it.
    pub role: Role,
    /// What was said.
    pub content: String,
}

/// The ChatML segments of a conversation, ending with an open assistant
/// turn: `(special, text)` pairs where `special` marks a control token.
pub(crate) fn chatml_segments(messages: &[ChatMessage]) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let mut turn = |role: &str, content: &str| {
        out.push((true, "<|im_start|>".to_owned()));
        out.push((false, format!("{role}\n{content}")));
        out.push((true, "<|im_end|>".to_owned()));
        out.push((false, "\n".to_owned()));
    };
    if messages.first().map(|m| m.role) != Some(Role::System) {
        turn("system", DEFAULT_SYSTEM_PROMPT);
    }
    for m in messages {
        turn(m.role.as_str(), &m.content);
    }
    out.push((true, "<|im_start|>".to_owned()));
    out.push((false, "assistant\n".to_owned()));
    out
}
