//! The hub (seed 002, docs/hub.md): payments below the 61 CKB cell minimum
//! through 2-in-2-out transactions with a platform hub, as pure logic: how
//! a payment is split, the life of a payment and of a payout (one
//! transition table each), and which parties a payout pays. The chain
//! adapter builds the transactions; the store keeps the books.

mod payment;
mod payout;
mod split;

pub use payment::{apply_payment, HubPaymentEvent, HubPaymentState, PaymentNotAllowed};
pub use payout::{plan_payout, PayoutPlan, PayoutState};
pub use split::{split_payment, Share, ShareRole, SplitParty, SplitRule, SplitRuleError, BPS_DENOMINATOR};
