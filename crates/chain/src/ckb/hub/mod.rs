//! The hub's transactions (seed 002, docs/hub.md): the 2-in-2-out payment
//! that moves any amount from a sender's cells into one of the hub's pool
//! cells, the hub's check of the sender-signed payment before it adds its
//! own signature, and the hub's transactions of its own cells: payouts to
//! parties and the pool's rebalancing (split, merge).
//!
//! Every lock is `secp256k1_blake160_sighash_all`, every output a plain
//! cell (no type, no data). The builders are pure: the caller reads the
//! cells from the node and sends what they return. Capacities are summed
//! with checked arithmetic throughout: hostile figures are errors, never a
//! panic or a wrapped total.

mod check;
mod error;
mod payment;
mod pool;

pub use crate::ckb::spilman::LiveCell;
pub use check::{check_signed, PaymentTerms};
pub use error::HubTxError;
pub use payment::{sign_hub, sign_sender, HubPaymentPlan, PreparedPayment, MAX_SENDER_INPUTS};
pub use pool::{merge, payout, split, HubTransaction};

use crate::ckb::scripts::LockScripts;
use crate::ckb::signing::{placeholder_witness, sighash_placeholder};
use ckb_types::bytes::Bytes;
use ckb_types::core::{TransactionBuilder, TransactionView};
use ckb_types::packed::{CellInput, CellOutput, OutPoint};
use ckb_types::prelude::*;
use tollway_core::ckb::{fee_for_size, Shannons, SighashArgs};

use tollway_core::ckb::PLAIN_CELL;

/// What `cells` hold together; `Overflow` past 64 bits.
fn total(cells: &[LiveCell]) -> Result<Shannons, HubTxError> {
    cells.iter().try_fold(0u64, |sum, c| sum.checked_add(c.capacity)).ok_or(HubTxError::Overflow)
}

/// Refuses a cell given twice (the node would refuse the transaction).
fn distinct<'a>(points: impl IntoIterator<Item = &'a OutPoint>) -> Result<(), HubTxError> {
    let mut seen: Vec<&OutPoint> = Vec::new();
    for point in points {
        if seen.contains(&point) {
            return Err(HubTxError::InvalidPlan("a cell is spent twice".into()));
        }
        seen.push(point);
    }
    Ok(())
}

/// A plain cell of `owner` holding `capacity`.
fn plain_output(scripts: &LockScripts, owner: SighashArgs, capacity: Shannons) -> CellOutput {
    CellOutput::new_builder().capacity(capacity).lock(scripts.sighash.script(&owner.0)).build()
}

/// A transaction spending `inputs` (since 0) to `outputs` (no data) under
/// the sighash dep group; the inputs at `group_starts` (each the first of
/// its input group) get the 65-byte placeholder witness, the others an
/// empty one.
fn assemble(scripts: &LockScripts, inputs: &[&OutPoint], outputs: Vec<CellOutput>, group_starts: &[usize]) -> TransactionView {
    let placeholder = placeholder_witness(sighash_placeholder()).as_bytes();
    let witnesses = (0..inputs.len()).map(|i| if group_starts.contains(&i) { placeholder.clone() } else { Bytes::new() }).map(|w| w.pack());
    TransactionBuilder::default()
        .cell_deps(scripts.sighash.cell_deps.clone())
        .inputs(inputs.iter().map(|p| CellInput::new((*p).clone(), 0)))
        .outputs_data(outputs.iter().map(|_| Bytes::new().pack()))
        .outputs(outputs)
        .witnesses(witnesses)
        .build()
}

/// The fee of `tx` at `fee_rate` once signed: its placeholders are as
/// long as the signatures, so its size is already the signed size.
fn fee_of(tx: &TransactionView, fee_rate: u64) -> Result<Shannons, HubTxError> {
    let size = u64::try_from(tx.data().as_slice().len()).map_err(|_| HubTxError::Overflow)?;
    fee_for_size(size, fee_rate).ok_or(HubTxError::Overflow)
}

/// Adds `figures` with checked arithmetic.
fn sum(figures: &[Shannons]) -> Result<Shannons, HubTxError> {
    figures.iter().try_fold(0u64, |s, f| s.checked_add(*f)).ok_or(HubTxError::Overflow)
}

#[cfg(test)]
mod test_support {
    //! Keys, cells and fake script locations for the unit tests.

    use super::LiveCell;
    use crate::ckb::scripts::{LockScripts, ScriptRef};
    use ckb_types::core::{DepType, ScriptHashType};
    use ckb_types::packed::{CellDep, OutPoint};
    use ckb_types::prelude::*;
    use tollway_core::channel::PayerKey;
    use tollway_core::ckb::SighashArgs;

    pub fn scripts() -> LockScripts {
        let dep = |byte: u8| CellDep::new_builder().out_point(OutPoint::new([byte; 32].pack(), 0)).dep_type(DepType::DepGroup).build();
        let script = |byte: u8| ScriptRef { code_hash: [byte; 32].pack(), hash_type: ScriptHashType::Type, cell_deps: vec![dep(byte)] };
        LockScripts { sighash: script(1), multisig: script(2) }
    }

    pub fn key(n: u8) -> PayerKey {
        PayerKey::from_bytes([n; 32]).expect("key")
    }

    pub fn args(key: &PayerKey) -> SighashArgs {
        SighashArgs(key.id().0)
    }

    pub fn cell(n: u8, capacity: u64) -> LiveCell {
        LiveCell { out_point: OutPoint::new([n; 32].pack(), u32::from(n)), capacity }
    }
}
