//! CKB rules the Spilman channel needs, as pure functions: the `since`
//! field of an input (timelocks, RFC 0017), cell capacity and fee
//! arithmetic, and the channel's life as a state machine. The CKB adapter (`crates/chain`) builds and sends
//! transactions; these are the numbers it must get right.

pub mod address;
pub mod capacity;
pub mod hub;
pub mod multisig;
pub mod offer;
pub mod since;
pub mod spilman;
pub mod split;

pub use address::{parse_sighash, AddressError, AddressNetwork, LockAddress, SighashArgs, SIGHASH_CODE_HASH};
pub use capacity::{fee_for_size, occupied_capacity, parse_ckb, Shannons, CKB, MIN_FEE_RATE, PLAIN_CELL};
pub use multisig::{MultisigError, MultisigScript};
pub use offer::{check_offer, latest_expiry, OfferError, OfferLimits, OfferTerms, DEFAULT_MAX_FEE_RATE, EXPIRY_SLACK_BLOCKS};
pub use since::{EpochFraction, Since, SinceError};
pub use split::{ChannelFunds, Split, SplitError};
pub use spilman::{apply, next_state, NotAllowed, SpilmanEvent, SpilmanState, Transition};
