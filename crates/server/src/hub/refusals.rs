//! When a node's refusal fails a hub transaction. A refusal such as "input
//! unknown" is not proof: the input may be the change of a parent the
//! node has taken but not yet verified, and the transaction may still
//! commit. Failing it then would free its cells while it is alive, and the
//! next payment on them would double-spend (seen in `tollway bench hub`
//! before this check: a payment refused as `PoolRejectedRBF`). So the hub
//! fails a transaction only when a script refused it, or when one of its
//! inputs is spent on chain by another transaction, or comes from a
//! transaction the node does not hold that is not one of the hub's own
//! payments still alive (prepared, sent or complete). The hub offers
//! sender cells only from committed blocks or from its own payments in
//! flight, so a parent outside both is lost for good, and a payment on it
//! is failed rather than left holding its pool cell.

use super::{Hub, HubError};
use ckb_types::core::TransactionView;
use ckb_types::prelude::*;
use tollway_chain::ckb::{Rejection, TxStatus};
use tollway_core::ckb::hub::HubPaymentState;

/// Whether a refusal may mean the transaction can never commit (an input
/// spent or unknown, a failing script, a timelock): the hub then checks
/// with [`Hub::refused_for_good`] before failing it.
pub(super) fn never_commits(r: Rejection) -> bool {
    matches!(r, Rejection::InputSpent | Rejection::InputUnknown | Rejection::ScriptFailed | Rejection::Immature)
}

impl Hub {
    /// Whether the node holds `tx` itself, in its pool or committed: a
    /// refusal of a second send of it (even as a replacement of itself at
    /// the same fee, when two sends race) means it was sent.
    pub(super) async fn holds(&self, tx: &TransactionView) -> Result<bool, HubError> {
        Ok(matches!(self.rpc.tx_status(&tx.hash()).await?, TxStatus::Committed(_) | TxStatus::Pending | TxStatus::Proposed))
    }

    /// Whether `tx`, refused with `r` and not held by the node
    /// ([`Hub::holds`], asked first), can never commit: a script refused
    /// it, or an input of it is dead (see the module's doc).
    pub(super) async fn refused_for_good(&self, tx: &TransactionView, r: Rejection) -> Result<bool, HubError> {
        if r == Rejection::ScriptFailed {
            return Ok(true);
        }
        let mut dead = false;
        for point in tx.input_pts_iter() {
            if self.rpc.live_cell(&point).await?.is_some() {
                continue;
            }
            let parent = point.tx_hash();
            dead = match self.rpc.tx_status(&parent).await? {
                // Made on chain and no longer live: spent by a committed transaction.
                TxStatus::Committed(_) => true,
                TxStatus::Pending | TxStatus::Proposed => false,
                TxStatus::Rejected(_) | TxStatus::Unknown => {
                    let hash: ckb_types::H256 = parent.unpack();
                    let states = self.store.hub_payment_states_by_tx(&hash.0).await?;
                    states.iter().all(|s| matches!(s, HubPaymentState::Failed | HubPaymentState::Expired))
                }
            };
            if dead {
                break;
            }
        }
        Ok(dead)
    }
}
