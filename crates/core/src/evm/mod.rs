//! The stablecoin checkout's pure rules (issue 15, docs/stablecoin.md):
//! EVM addresses and hashes, token amounts, the unique amount each open
//! session is given, EIP-681 payment links, and the payment session's
//! state machine. Nothing here talks to a chain or a database.

mod address;
mod amounts;
mod session;
mod transfer;

pub use address::{keccak256, Address, Hash32, HexError};
pub use amounts::{amount_candidates, payment_uri, points_for, AmountError, TokenAmount};
pub use transfer::TransferLog;
pub use session::{apply, Effect, Event, Exception, Session, SessionError, Status, Transition};

/// `keccak256("Transfer(address,address,uint256)")`: topic 0 of an ERC-20
/// `Transfer` log.
pub const TRANSFER_TOPIC: &str = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
