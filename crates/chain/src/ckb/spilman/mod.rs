//! The Spilman channel's transactions on CKB: funding, commitments and the
//! refund, built and checked without I/O (docs/ckb.md). The channel's
//! life is `tollway_core::ckb::spilman`; the node adapter sends what these
//! build.

mod error;
mod funding;
mod terms;

pub use error::TxError;
pub use funding::{channel_lock_args, input_indices, reclaim, sign_inputs, FundingPlan, LiveCell};
pub use terms::{out_point_text, parse_out_point, ChannelTerms, CheckedCommitment};
