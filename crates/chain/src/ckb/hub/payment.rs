//! The payment transaction (docs/hub.md, "The payment transaction"): the
//! sender's cells (inputs 0..k-1) and the hub's leased pool cell (input k)
//! in; the sender's change (output 0) and the hub's cell grown by the
//! amount (output 1) out. The sender pays the network fee; each side signs
//! its own input group, independently of the other.

use super::{assemble, distinct, fee_of, plain_output, sum, total, HubTxError, LiveCell, PaymentTerms, PLAIN_CELL};
use crate::ckb::scripts::LockScripts;
use crate::ckb::spilman::sign_inputs;
use ckb_types::core::TransactionView;
use ckb_types::packed::OutPoint;
use tollway_core::channel::PayerKey;
use tollway_core::ckb::{Shannons, SighashArgs};

/// The most sender inputs a payment takes.
pub const MAX_SENDER_INPUTS: usize = 32;

/// What a payment is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubPaymentPlan {
    /// The sender's lock args.
    pub sender: SighashArgs,
    /// The sender's plain cells, oldest first: [`HubPaymentPlan::build`]
    /// spends them all, [`HubPaymentPlan::build_fewest`] the fewest from
    /// the front that pay.
    pub sender_cells: Vec<LiveCell>,
    /// The hub's lock args.
    pub hub: SighashArgs,
    /// The hub's pool cell leased to this payment.
    pub pool_cell: LiveCell,
    /// What the sender pays the hub, shannons.
    pub amount: Shannons,
    /// Fee rate, shannons per 1,000 bytes.
    pub fee_rate: u64,
}

/// A payment ready for the sender's signature.
#[derive(Debug, Clone)]
pub struct PreparedPayment {
    /// The unsigned transaction (65-byte placeholders where the two
    /// signatures go); its hash is final.
    pub tx: TransactionView,
    /// The network fee the sender pays.
    pub fee: Shannons,
    /// The sender's change (output 0).
    pub change: Shannons,
    /// The sender's cells it spends (inputs 0..k-1).
    pub sender_cells: Vec<LiveCell>,
    /// What the hub checks the signed transaction against
    /// ([`super::check_signed`]).
    pub terms: PaymentTerms,
}

impl PreparedPayment {
    /// The index of the hub's input (after the sender's).
    pub fn hub_input(&self) -> usize {
        self.sender_cells.len()
    }
}

impl HubPaymentPlan {
    /// The payment spending all of `sender_cells`, its fee set for its
    /// signed size. `amount_zero`, `sender_is_hub`, `invalid_plan` (a cell
    /// given twice), `amount_below_fee`, `insufficient_funds` (no cell, or
    /// change below 61 CKB), `output_below_minimum` (a pool cell below
    /// 61 CKB), `overflow`.
    pub fn build(&self, scripts: &LockScripts) -> Result<PreparedPayment, HubTxError> {
        self.build_with(scripts, &self.sender_cells)
    }

    /// The payment spending the fewest of `sender_cells` from the front
    /// that pay the amount, the fee (which grows with the inputs) and
    /// 61 CKB of change, at most [`MAX_SENDER_INPUTS`] of them
    /// (`too_many_inputs` when the first ones do not pay it but all of
    /// them might). Otherwise as [`HubPaymentPlan::build`].
    pub fn build_fewest(&self, scripts: &LockScripts) -> Result<PreparedPayment, HubTxError> {
        let most = self.sender_cells.len().min(MAX_SENDER_INPUTS);
        for k in 1..most {
            match self.build_with(scripts, &self.sender_cells[..k]) {
                Err(HubTxError::InsufficientFunds { .. }) => continue,
                other => return other,
            }
        }
        match self.build_with(scripts, &self.sender_cells[..most]) {
            Err(HubTxError::InsufficientFunds { needed, .. })
                if self.sender_cells.len() > most && self.sender_cells.iter().fold(0u64, |s, c| s.saturating_add(c.capacity)) >= needed =>
            {
                Err(HubTxError::TooManyInputs { max: MAX_SENDER_INPUTS })
            }
            other => other,
        }
    }

    fn build_with(&self, scripts: &LockScripts, cells: &[LiveCell]) -> Result<PreparedPayment, HubTxError> {
        if self.amount == 0 {
            return Err(HubTxError::AmountZero);
        }
        if self.sender == self.hub {
            return Err(HubTxError::SenderIsHub);
        }
        distinct(cells.iter().map(|c| &c.out_point).chain([&self.pool_cell.out_point]))?;
        let available = total(cells)?;
        let to_hub = self.pool_cell.capacity.checked_add(self.amount).ok_or(HubTxError::Overflow)?;
        let fee = fee_of(&self.layout(scripts, cells, 0, to_hub), self.fee_rate)?;
        if self.amount < fee {
            return Err(HubTxError::AmountBelowFee { amount: self.amount, fee });
        }
        let needed = sum(&[self.amount, fee, PLAIN_CELL])?;
        if cells.is_empty() || available < needed {
            return Err(HubTxError::InsufficientFunds { available, needed });
        }
        if to_hub < PLAIN_CELL {
            return Err(HubTxError::OutputBelowMinimum { index: 1, capacity: to_hub });
        }
        let change = available - self.amount - fee;
        let terms =
            PaymentTerms { sender: self.sender, hub: self.hub, sender_inputs: cells.len(), pool_cell: self.pool_cell.clone(), amount: self.amount };
        Ok(PreparedPayment { tx: self.layout(scripts, cells, change, to_hub), fee, change, sender_cells: cells.to_vec(), terms })
    }

    /// The documented layout: the sender's cells then the pool cell in;
    /// the sender's change then the hub's cell out; the placeholders at
    /// input 0 and input k.
    fn layout(&self, scripts: &LockScripts, cells: &[LiveCell], change: Shannons, to_hub: Shannons) -> TransactionView {
        let inputs: Vec<&OutPoint> = cells.iter().map(|c| &c.out_point).chain([&self.pool_cell.out_point]).collect();
        let outputs = vec![plain_output(scripts, self.sender, change), plain_output(scripts, self.hub, to_hub)];
        assemble(scripts, &inputs, outputs, &[0, cells.len()])
    }
}

/// `tx` (a payment) with the sender's input group, inputs
/// `0..sender_inputs`, signed by `key`: what the CLI, the payer SDK and
/// the web app do with a prepared payment.
pub fn sign_sender(tx: &TransactionView, sender_inputs: usize, key: &PayerKey) -> TransactionView {
    sign_inputs(tx, &(0..sender_inputs).collect::<Vec<_>>(), key)
}

/// `tx` (a payment the hub checked with [`super::check_signed`]) with the
/// hub's input `hub_input` signed by `key`.
pub fn sign_hub(tx: &TransactionView, hub_input: usize, key: &PayerKey) -> TransactionView {
    sign_inputs(tx, &[hub_input], key)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{args, cell, key, scripts};
    use super::*;
    use ckb_types::prelude::*;
    use tollway_core::ckb::{fee_for_size, CKB, MIN_FEE_RATE};

    fn plan(sender_cells: Vec<LiveCell>, amount: Shannons) -> HubPaymentPlan {
        HubPaymentPlan { sender: args(&key(1)), sender_cells, hub: args(&key(9)), pool_cell: cell(200, 100 * CKB), amount, fee_rate: MIN_FEE_RATE }
    }

    fn capacities(tx: &TransactionView) -> Vec<u64> {
        tx.outputs().into_iter().map(|o| o.capacity().unpack()).collect()
    }

    #[test]
    fn a_payment_has_the_documented_layout_and_the_sender_pays_the_fee() {
        let scripts = scripts();
        let cells = vec![cell(1, 70 * CKB), cell(2, 80 * CKB)];
        let prepared = plan(cells.clone(), 5 * CKB).build(&scripts).expect("builds");
        let tx = &prepared.tx;
        let points: Vec<OutPoint> = tx.input_pts_iter().collect();
        assert_eq!(points, vec![cells[0].out_point.clone(), cells[1].out_point.clone(), cell(200, 0).out_point]);
        assert!(tx.inputs().into_iter().all(|i| Unpack::<u64>::unpack(&i.since()) == 0));
        assert_eq!(prepared.hub_input(), 2);
        assert_eq!(capacities(tx), vec![150 * CKB - 5 * CKB - prepared.fee, 105 * CKB], "change, then pool cell + amount");
        assert_eq!(prepared.change, 145 * CKB - prepared.fee);
        let size = tx.data().as_slice().len() as u64;
        assert_eq!(Some(prepared.fee), fee_for_size(size, MIN_FEE_RATE), "the fee of the signed size");
        let signed = sign_hub(&sign_sender(tx, 2, &key(1)), 2, &key(9));
        assert_eq!(signed.data().as_slice().len() as u64, size, "signing does not change the size");
        assert_eq!(signed.hash(), tx.hash());
        let witnesses: Vec<usize> = tx.witnesses().into_iter().map(|w| w.raw_data().len()).collect();
        assert_eq!(witnesses, vec![85, 0, 85], "WitnessArgs{{lock: 65 bytes}} first in each group, empty otherwise");
        assert!(tx.outputs_data().into_iter().all(|d| d.raw_data().is_empty()));
        assert!(tx.outputs().into_iter().all(|o| o.type_().is_none()));
        let locks: Vec<Vec<u8>> = tx.outputs().into_iter().map(|o| o.lock().args().raw_data().to_vec()).collect();
        assert_eq!(locks, vec![args(&key(1)).0.to_vec(), args(&key(9)).0.to_vec()]);
    }

    #[test]
    fn the_fewest_cells_from_the_front_are_spent() {
        let scripts = scripts();
        let cells = vec![cell(1, 62 * CKB), cell(2, 3 * CKB), cell(3, 500 * CKB), cell(4, 900 * CKB)];
        // 62 + 3 = 65 CKB cannot pay 5 CKB + fee and keep 61 CKB; the third cell can.
        let prepared = plan(cells.clone(), 5 * CKB).build_fewest(&scripts).expect("builds");
        assert_eq!(prepared.sender_cells, cells[..3].to_vec());
        // An amount below the fee is refused before the cells are counted.
        let tight = plan(vec![cell(1, 61 * CKB + 1_000)], 100);
        assert_eq!(tight.build_fewest(&scripts).map_err(|e| e.code()).err(), Some("amount_below_fee"));
        let exact_fee = plan(vec![cell(1, 70 * CKB)], 5 * CKB).build(&scripts).expect("builds").fee;
        let exact = plan(vec![cell(1, 61 * CKB + 5 * CKB + exact_fee)], 5 * CKB).build_fewest(&scripts).expect("exactly enough");
        assert_eq!(exact.change, 61 * CKB);
        // Nothing covers it: insufficient_funds with the whole sum; too many
        // small cells that together would: too_many_inputs.
        let poor = plan(vec![cell(1, 62 * CKB), cell(2, 62 * CKB)], 100 * CKB).build_fewest(&scripts).expect_err("poor");
        assert_eq!(poor, HubTxError::InsufficientFunds { available: 124 * CKB, needed: poor_needed(&poor) });
        let dust: Vec<LiveCell> = (1..=40).map(|n| cell(n, 2 * CKB)).collect();
        assert_eq!(plan(dust.clone(), 10 * CKB).build_fewest(&scripts).map_err(|e| e.code()).err(), Some("too_many_inputs"));
        assert_eq!(plan(dust, 1_000 * CKB).build_fewest(&scripts).map_err(|e| e.code()).err(), Some("insufficient_funds"));
        assert_eq!(plan(vec![], 5 * CKB).build_fewest(&scripts).map_err(|e| e.code()).err(), Some("insufficient_funds"));
    }

    fn poor_needed(e: &HubTxError) -> u64 {
        match e {
            HubTxError::InsufficientFunds { needed, .. } => {
                assert!(*needed > 161 * CKB && *needed < 161 * CKB + 2_000, "amount + 61 CKB + fee: {needed}");
                *needed
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn hostile_plans_are_refused_with_their_codes_and_never_panic() {
        let scripts = scripts();
        let code = |p: HubPaymentPlan| p.build(&scripts).map_err(|e| e.code()).err();
        assert_eq!(code(plan(vec![cell(1, 100 * CKB)], 0)), Some("amount_zero"));
        assert_eq!(code(plan(vec![cell(1, 100 * CKB)], 1)), Some("amount_below_fee"));
        assert_eq!(code(plan(vec![cell(1, 100 * CKB)], 40 * CKB)), Some("insufficient_funds"), "change below 61 CKB");
        assert_eq!(code(plan(vec![cell(1, 100 * CKB)], 500 * CKB)), Some("insufficient_funds"), "above the sender's cells");
        assert_eq!(code(plan(vec![], 5 * CKB)), Some("insufficient_funds"));
        assert_eq!(code(plan(vec![cell(1, u64::MAX), cell(2, u64::MAX)], 5 * CKB)), Some("overflow"));
        assert_eq!(code(plan(vec![cell(1, 100 * CKB)], u64::MAX)), Some("overflow"), "pool cell + amount");
        assert_eq!(code(HubPaymentPlan { pool_cell: cell(200, u64::MAX), ..plan(vec![cell(1, 100 * CKB)], 5 * CKB) }), Some("overflow"));
        assert_eq!(code(HubPaymentPlan { fee_rate: u64::MAX, ..plan(vec![cell(1, 100 * CKB)], 5 * CKB) }), Some("overflow"));
        assert_eq!(code(plan(vec![cell(1, u64::MAX)], u64::MAX - 61 * CKB)), Some("overflow"));
        // A sender with u64::MAX in one cell pays fine (change = the rest).
        let rich = plan(vec![cell(1, u64::MAX)], 5 * CKB).build(&scripts).expect("one huge cell");
        assert_eq!(rich.change, u64::MAX - 5 * CKB - rich.fee);
        assert_eq!(code(HubPaymentPlan { hub: args(&key(1)), ..plan(vec![cell(1, 100 * CKB)], 5 * CKB) }), Some("sender_is_hub"));
        assert_eq!(code(plan(vec![cell(1, 100 * CKB), cell(1, 100 * CKB)], 5 * CKB)), Some("invalid_plan"));
        assert_eq!(code(plan(vec![cell(200, 100 * CKB)], 5 * CKB)), Some("invalid_plan"), "the pool cell as the sender's");
        assert_eq!(code(HubPaymentPlan { pool_cell: cell(200, CKB), ..plan(vec![cell(1, 100 * CKB)], 5 * CKB) }), Some("output_below_minimum"));
    }
}
