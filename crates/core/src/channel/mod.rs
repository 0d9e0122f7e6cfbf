//! Payment channels, chain-agnostic: the signed receipt (SubRAV), the
//! payee's rules for accepting one and for proposing the next, and the
//! payer's rules for signing a proposal. Pure: callers persist what these
//! functions return before acting on it. See docs/channels.md.

mod entitlement;
mod identity;
mod payee;
mod payer;
mod subrav;
pub mod wire;

pub use entitlement::{prompt_bound, Entitlement, DEFAULT_SLACK_TOKENS, PROMPT_OVERHEAD_TOKENS};
pub use identity::{ckb_hash, verify_recoverable, InvalidKey, KeyId, PayerKey, SecretKeyTextError};
pub use payee::{Accepted, Channel, ReceiptError, SubChannel, Verdict};
pub use payer::{review, PayerLimits, Refusal, MAX_NONCE_GAP};
pub use subrav::{BadSignature, ChannelId, DecodeError, SignedSubRav, SubRav, SIGNED_SUBRAV_LEN, SIGNING_DOMAIN, SUBRAV_LEN, SUBRAV_VERSION};
