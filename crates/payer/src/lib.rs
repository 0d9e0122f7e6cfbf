//! Tollway's payer SDK: what a user or an AI agent embeds to pay for APIs
//! per chunk from a payment channel (docs/channels.md).
//!
//! * [`Payer::open`] makes a fresh secp256k1 key, moves a deposit into a
//!   channel at the payee, and saves everything in the state file.
//! * [`Payer::chat`] streams a chat completion: every chunk carries the
//!   payee's proposal for the new total; a background signer reviews the
//!   newest one against the payer's own limits (`max_amount` per request,
//!   `budget` in total), persists the receipt as the latest signed, and
//!   only then posts it. The payee is trusted for nothing.
//! * [`Payer::complete`] is the whole-answer, postpaid variant.
//! * [`Payer::recover`] reconciles the local state with the payee's after
//!   a crash; [`Payer::close`] returns the unspent deposit.
//!
//! The state file ([`StateFile`]) is JSON, mode 0600 (it holds secret
//! keys), written atomically under a lock; a receipt is durable before it
//! is sent, so after a crash no other receipt is ever signed with its nonce.

// Layers, each using only those above it: the state file (with the CKB
// terms it keeps), then the review of a proposal, then the background
// signer, then the client (open, close, recover, whole answers), then
// streams and CKB opening. The CLI sits on top.
mod api;
mod ckb_record;
mod error;
mod state;

mod review;

mod signer;

mod client;

mod chat;
mod ckb;
mod hub;

pub use api::{ReceiptAck, RemoteChannel, RemoteSub};
pub use chat::ChatSummary;
pub use ckb::{CkbOpenRequest, RemoteCkbChannel};
pub use hub::{hub_pay, HubPayRequest};
pub use ckb_record::CkbRecord;
pub use client::{ChannelView, Closed, Completion, OpenRequest, Payer, Recovery, RecoveryAction};
pub use error::PayerError;
pub use signer::{ReceiptSink, Signer, SignerReport};
pub use review::{Allowance, Decision, Newest};
pub use state::{commitment_for, ChannelRecord, PayerState, Secret, StateFile, HOME_ENV, STATE_FILE, STATE_VERSION};
pub use tollway_core::channel::wire::PaymentDue;
pub use tollway_core::channel::{ChannelId, KeyId, Refusal, SignedSubRav, SubRav};
pub use tollway_core::Amount;
