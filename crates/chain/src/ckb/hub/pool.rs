//! The hub's transactions of its own cells, signed by the hub's key: the
//! payout (parties' plain cells, then the hub's change) and the pool's
//! rebalancing (a split into cells of one size, a merge into one cell).
//! All inputs share the hub's lock (one input group); the fee comes out
//! of the hub's change, which keeps at least 61 CKB.

use super::{assemble, distinct, fee_of, plain_output, sum, total, HubTxError, LiveCell, PLAIN_CELL};
use crate::ckb::scripts::LockScripts;
use crate::ckb::spilman::sign_inputs;
use ckb_types::core::TransactionView;
use ckb_types::packed::{CellOutput, OutPoint};
use tollway_core::channel::PayerKey;
use tollway_core::ckb::hub::PayoutPlan;
use tollway_core::ckb::{Shannons, SighashArgs};

/// A signed transaction of the hub's own cells.
#[derive(Debug, Clone)]
pub struct HubTransaction {
    /// The transaction, signed by the hub.
    pub tx: TransactionView,
    /// Its network fee, paid from the change.
    pub fee: Shannons,
    /// The hub's change: the last output.
    pub change: Shannons,
}

/// The payout of `plan`: `cells` (the hub's) in; one plain cell per party
/// and amount, in the plan's order, then the hub's change out, signed by
/// `hub`. `invalid_plan` (nobody to pay, a cell given twice),
/// `output_below_minimum` (a party's amount below 61 CKB),
/// `insufficient_funds` (the cells cannot pay the outputs, the fee and
/// 61 CKB of change), `overflow`.
pub fn payout(scripts: &LockScripts, hub: &PayerKey, cells: &[LiveCell], plan: &PayoutPlan, fee_rate: u64) -> Result<HubTransaction, HubTxError> {
    if plan.outputs.is_empty() {
        return Err(HubTxError::InvalidPlan("a payout pays nobody".into()));
    }
    spend_own(scripts, hub, cells, &plan.outputs, fee_rate)
}

/// The pool's split: `cells` (the hub's) in; `count` cells of exactly
/// `cell_capacity` then the rest (at least 61 CKB, the fee paid from it)
/// out, all the hub's, signed by `hub`. `invalid_plan` (no cell to make),
/// `output_below_minimum` (`cell_capacity` below 61 CKB), otherwise as
/// [`payout`].
pub fn split(
    scripts: &LockScripts,
    hub: &PayerKey,
    cells: &[LiveCell],
    count: usize,
    cell_capacity: Shannons,
    fee_rate: u64,
) -> Result<HubTransaction, HubTxError> {
    if count == 0 {
        return Err(HubTxError::InvalidPlan("a split into no cells".into()));
    }
    if cell_capacity < PLAIN_CELL {
        return Err(HubTxError::OutputBelowMinimum { index: 0, capacity: cell_capacity });
    }
    // Refused before `count` outputs are made: a hostile count must not
    // allocate more than the cells can pay.
    let available = total(cells)?;
    let wanted = u64::try_from(count).ok().and_then(|n| n.checked_mul(cell_capacity)).ok_or(HubTxError::Overflow)?;
    if wanted > available {
        return Err(HubTxError::InsufficientFunds { available, needed: wanted.saturating_add(PLAIN_CELL) });
    }
    let owner = SighashArgs(hub.id().0);
    spend_own(scripts, hub, cells, &vec![(owner, cell_capacity); count], fee_rate)
}

/// The pool's merge: `cells` (the hub's) in, one cell of the hub's
/// holding them all less the fee out, signed by `hub`. Errors as
/// [`payout`].
pub fn merge(scripts: &LockScripts, hub: &PayerKey, cells: &[LiveCell], fee_rate: u64) -> Result<HubTransaction, HubTxError> {
    spend_own(scripts, hub, cells, &[], fee_rate)
}

/// `cells` (all `key`'s) in; `outputs` then `key`'s change out, the fee
/// for the signed size taken from the change; signed by `key`.
fn spend_own(
    scripts: &LockScripts,
    key: &PayerKey,
    cells: &[LiveCell],
    outputs: &[(SighashArgs, Shannons)],
    fee_rate: u64,
) -> Result<HubTransaction, HubTxError> {
    distinct(cells.iter().map(|c| &c.out_point))?;
    if let Some((index, &(_, capacity))) = outputs.iter().enumerate().find(|(_, (_, capacity))| *capacity < PLAIN_CELL) {
        return Err(HubTxError::OutputBelowMinimum { index, capacity });
    }
    let available = total(cells)?;
    let paid = outputs.iter().try_fold(0u64, |s, (_, c)| s.checked_add(*c)).ok_or(HubTxError::Overflow)?;
    let owner = SighashArgs(key.id().0);
    let points: Vec<&OutPoint> = cells.iter().map(|c| &c.out_point).collect();
    let build = |change: Shannons| {
        let mut cells: Vec<CellOutput> = outputs.iter().map(|&(party, amount)| plain_output(scripts, party, amount)).collect();
        cells.push(plain_output(scripts, owner, change));
        assemble(scripts, &points, cells, &[0])
    };
    let fee = fee_of(&build(0), fee_rate)?;
    let needed = sum(&[paid, fee, PLAIN_CELL])?;
    if cells.is_empty() || available < needed {
        return Err(HubTxError::InsufficientFunds { available, needed });
    }
    let change = available - paid - fee;
    let tx = sign_inputs(&build(change), &(0..cells.len()).collect::<Vec<_>>(), key);
    Ok(HubTransaction { tx, fee, change })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{args, cell, key, scripts};
    use super::*;
    use crate::ckb::signing::{group_message, placeholder_witness, sighash_placeholder, signer_of};
    use ckb_types::packed::WitnessArgs;
    use ckb_types::prelude::*;
    use tollway_core::ckb::{fee_for_size, CKB, MIN_FEE_RATE};

    fn capacities(tx: &TransactionView) -> Vec<u64> {
        tx.outputs().into_iter().map(|o| o.capacity().unpack()).collect()
    }

    fn owners(tx: &TransactionView) -> Vec<[u8; 20]> {
        tx.outputs().into_iter().map(|o| o.lock().args().raw_data().as_ref().try_into().expect("20 bytes")).collect()
    }

    /// Whether `tx`'s single input group is signed by `key`, as the lock checks it.
    fn signed_by(tx: &TransactionView, key: &PayerKey) -> bool {
        let group: Vec<usize> = (0..tx.inputs().len()).collect();
        let w0 = WitnessArgs::from_slice(&tx.witnesses().get(0).expect("w0").raw_data()).expect("args");
        let signature: [u8; 65] = w0.lock().to_opt().expect("lock").raw_data().as_ref().try_into().expect("65 bytes");
        let message = group_message(tx, &group, &placeholder_witness(sighash_placeholder()));
        signer_of(message, &signature).is_some_and(|k| k == key.public())
    }

    fn fee_is_for_size(built: &HubTransaction) {
        let size = built.tx.data().as_slice().len() as u64;
        assert_eq!(Some(built.fee), fee_for_size(size, MIN_FEE_RATE));
    }

    #[test]
    fn a_payout_pays_each_party_then_the_hub_s_change_signed_by_the_hub() {
        let (scripts, hub) = (scripts(), key(9));
        let plan = PayoutPlan { outputs: vec![(args(&key(1)), 70 * CKB), (args(&key(2)), 66 * CKB + 1)] };
        let cells = [cell(1, 105 * CKB), cell(2, 107 * CKB)];
        let built = payout(&scripts, &hub, &cells, &plan, MIN_FEE_RATE).expect("payout");
        assert_eq!(capacities(&built.tx), vec![70 * CKB, 66 * CKB + 1, 212 * CKB - 136 * CKB - 1 - built.fee]);
        assert_eq!(owners(&built.tx), vec![args(&key(1)).0, args(&key(2)).0, args(&hub).0]);
        assert_eq!(built.change, 76 * CKB - 1 - built.fee);
        fee_is_for_size(&built);
        assert!(signed_by(&built.tx, &hub));
        assert_eq!(built.tx.witnesses().get(1).map(|w| w.raw_data().len()), Some(0), "one group: the second witness empty");

        let code = |plan: &PayoutPlan, cells: &[LiveCell]| payout(&scripts, &hub, cells, plan, MIN_FEE_RATE).map_err(|e| e.code()).err();
        assert_eq!(code(&PayoutPlan { outputs: vec![] }, &cells), Some("invalid_plan"));
        assert_eq!(code(&PayoutPlan { outputs: vec![(args(&key(1)), 61 * CKB - 1)] }, &cells), Some("output_below_minimum"));
        assert_eq!(code(&plan, &cells[..1]), Some("insufficient_funds"), "105 CKB cannot pay 136 CKB");
        assert_eq!(code(&plan, &[cell(1, 136 * CKB + 1 + 60 * CKB)]), Some("insufficient_funds"), "change below 61 CKB");
        assert_eq!(code(&plan, &[]), Some("insufficient_funds"));
        assert_eq!(code(&plan, &[cell(1, u64::MAX), cell(2, 1)]), Some("overflow"));
        assert_eq!(code(&PayoutPlan { outputs: vec![(args(&key(1)), u64::MAX), (args(&key(2)), u64::MAX)] }, &cells), Some("overflow"));
        assert_eq!(code(&plan, &[cell(1, 200 * CKB), cell(1, 200 * CKB)]), Some("invalid_plan"), "a cell twice");
        assert_eq!(payout(&scripts, &hub, &cells, &plan, u64::MAX).map_err(|e| e.code()).err(), Some("overflow"));
    }

    #[test]
    fn the_pool_splits_into_cells_of_one_size_and_merges_into_one() {
        let (scripts, hub) = (scripts(), key(9));
        let built = split(&scripts, &hub, &[cell(1, 1_000 * CKB)], 3, 100 * CKB, MIN_FEE_RATE).expect("split");
        assert_eq!(capacities(&built.tx), vec![100 * CKB, 100 * CKB, 100 * CKB, 700 * CKB - built.fee], "three cells, then the rest");
        assert!(owners(&built.tx).iter().all(|o| *o == args(&hub).0));
        fee_is_for_size(&built);
        assert!(signed_by(&built.tx, &hub));

        let code = |cells: &[LiveCell], count, capacity| split(&scripts, &hub, cells, count, capacity, MIN_FEE_RATE).map_err(|e| e.code()).err();
        assert_eq!(code(&[cell(1, 1_000 * CKB)], 0, 100 * CKB), Some("invalid_plan"));
        assert_eq!(code(&[cell(1, 1_000 * CKB)], 3, 60 * CKB), Some("output_below_minimum"));
        assert_eq!(code(&[cell(1, 1_000 * CKB)], 10, 100 * CKB), Some("insufficient_funds"), "no rest left");
        assert_eq!(code(&[cell(1, 1_000 * CKB)], 10, 94 * CKB), Some("insufficient_funds"), "a rest below 61 CKB");
        assert_eq!(code(&[cell(1, 1_000 * CKB)], usize::MAX, 100 * CKB), Some("overflow"));
        assert_eq!(code(&[cell(1, u64::MAX)], usize::MAX / 2, 61 * CKB), Some("overflow"));
        assert_eq!(code(&[cell(1, 1_000 * CKB)], 1_000_000_000, 61 * CKB), Some("insufficient_funds"), "refused before making the outputs");

        let cells = [cell(1, 105 * CKB), cell(2, 100 * CKB), cell(3, 61 * CKB)];
        let merged = merge(&scripts, &hub, &cells, MIN_FEE_RATE).expect("merge");
        assert_eq!(capacities(&merged.tx), vec![266 * CKB - merged.fee]);
        assert_eq!(merged.change, 266 * CKB - merged.fee);
        fee_is_for_size(&merged);
        assert!(signed_by(&merged.tx, &hub));
        assert_eq!(merge(&scripts, &hub, &[], MIN_FEE_RATE).map_err(|e| e.code()).err(), Some("insufficient_funds"));
        assert_eq!(merge(&scripts, &hub, &[cell(1, 61 * CKB)], MIN_FEE_RATE).map_err(|e| e.code()).err(), Some("insufficient_funds"));
        assert_eq!(merge(&scripts, &hub, &[cell(1, u64::MAX), cell(2, 1)], MIN_FEE_RATE).map_err(|e| e.code()).err(), Some("overflow"));
    }
}
