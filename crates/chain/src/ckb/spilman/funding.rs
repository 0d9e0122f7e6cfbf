//! The funding transaction: the buyer's cells and the seller's co-funding
//! cells in, the 2-of-2 channel cell out (output 0), then the buyer's
//! change and the seller's change if any. The buyer builds it and pays its
//! fee; the seller checks it before pre-signing the refund and signing
//! its own inputs; each side signs its own input group.

use tollway_core::ckb::PLAIN_CELL;
use super::TxError;
use crate::ckb::scripts::LockScripts;
use crate::ckb::signing::{group_message, placeholder_witness, sighash_placeholder};
use ckb_types::bytes::Bytes;
use ckb_types::core::{TransactionBuilder, TransactionView};
use ckb_types::packed::{CellInput, CellOutput, OutPoint};
use ckb_types::prelude::*;
use secp256k1::PublicKey;
use tollway_core::channel::{KeyId, PayerKey};
use tollway_core::ckb::{fee_for_size, ChannelFunds, MultisigScript, Shannons};

/// A live plain cell that can be spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCell {
    /// Where it is.
    pub out_point: OutPoint,
    /// What it holds.
    pub capacity: Shannons,
}

/// What a funding transaction is made of.
#[derive(Debug, Clone)]
pub struct FundingPlan {
    /// The payer.
    pub buyer: PublicKey,
    /// The payee.
    pub seller: PublicKey,
    /// The money each side puts in and the closing fee.
    pub funds: ChannelFunds,
    /// The buyer's cells: they cover the deposit, the funding fee and a
    /// change cell of at least 61 CKB.
    pub buyer_cells: Vec<LiveCell>,
    /// The seller's cells: exactly the co-funding, or at least the
    /// co-funding plus 61 CKB (a change cell).
    pub seller_cells: Vec<LiveCell>,
    /// Fee rate, shannons per 1,000 bytes.
    pub fee_rate: u64,
}

fn total(cells: &[LiveCell]) -> Option<Shannons> {
    cells.iter().try_fold(0u64, |sum, c| sum.checked_add(c.capacity))
}


/// The 2-of-2 channel cell's lock args for `buyer` and `seller`.
pub fn channel_lock_args(buyer: &PublicKey, seller: &PublicKey) -> Vec<u8> {
    MultisigScript::two_of_two(KeyId::of(buyer), KeyId::of(seller)).lock_args(None)
}

impl FundingPlan {
    fn with_fee(&self, scripts: &LockScripts, fee: Shannons) -> Result<TransactionView, TxError> {
        let funds = self.funds.validate()?;
        let channel = funds.capacity().ok_or(TxError::Funds(tollway_core::ckb::SplitError::ExceedsChannel))?;
        let buyer_in = total(&self.buyer_cells).unwrap_or(u64::MAX);
        let seller_in = total(&self.seller_cells).unwrap_or(u64::MAX);
        let needed = funds.buyer_deposit.saturating_add(fee).saturating_add(PLAIN_CELL);
        if buyer_in < needed {
            return Err(TxError::InsufficientFunds { available: buyer_in, needed });
        }
        let seller_change = seller_in
            .checked_sub(funds.seller_cofund)
            .filter(|c| *c == 0 || *c >= PLAIN_CELL)
            .ok_or_else(|| TxError::FundingMismatch("the seller's cells must hold the co-funding exactly, or 61 CKB more".into()))?;
        let cell = |capacity: Shannons, lock| CellOutput::new_builder().capacity(capacity).lock(lock).build();
        let lock_of = |key: &PublicKey| scripts.sighash.script(&KeyId::of(key).0);
        let mut outputs = vec![
            cell(channel, scripts.multisig.script(&channel_lock_args(&self.buyer, &self.seller))),
            cell(buyer_in - funds.buyer_deposit - fee, lock_of(&self.buyer)),
        ];
        if seller_change > 0 {
            outputs.push(cell(seller_change, lock_of(&self.seller)));
        }
        let inputs = self.buyer_cells.iter().chain(&self.seller_cells).map(|c| CellInput::new(c.out_point.clone(), 0));
        let mut witnesses = vec![Bytes::new(); self.buyer_cells.len() + self.seller_cells.len()];
        let signed = placeholder_witness(sighash_placeholder()).as_bytes();
        witnesses[0] = signed.clone();
        if let Some(first_seller) = witnesses.get_mut(self.buyer_cells.len()) {
            *first_seller = signed;
        }
        Ok(TransactionBuilder::default()
            .cell_deps(scripts.sighash.cell_deps.clone())
            .inputs(inputs)
            .outputs_data(outputs.iter().map(|_| Bytes::new().pack()))
            .outputs(outputs)
            .witnesses(witnesses.into_iter().map(|w| w.pack()))
            .build())
    }

    /// The unsigned funding transaction, its fee set for its signed size.
    pub fn build(&self, scripts: &LockScripts) -> Result<TransactionView, TxError> {
        if self.buyer_cells.is_empty() {
            return Err(TxError::InsufficientFunds { available: 0, needed: self.funds.buyer_deposit });
        }
        let draft = self.with_fee(scripts, 0)?;
        let size = draft.data().as_slice().len() as u64;
        let fee = fee_for_size(size, self.fee_rate).ok_or(TxError::InsufficientFunds { available: 0, needed: u64::MAX })?;
        self.with_fee(scripts, fee)
    }

    /// The fee `tx` pays if it spends exactly this plan's cells: their
    /// capacity less its outputs' (`None` if that is negative or
    /// overflows).
    pub fn fee(&self, tx: &TransactionView) -> Option<Shannons> {
        let held = total(&self.buyer_cells)?.checked_add(total(&self.seller_cells)?)?;
        let paid_out = tx.outputs().into_iter().try_fold(0u64, |sum, o| sum.checked_add(o.capacity().unpack()))?;
        held.checked_sub(paid_out)
    }

    /// Checks, as the seller, a funding transaction the buyer built: output
    /// 0 is the channel cell with the agreed capacity and 2-of-2 lock, the
    /// seller's inputs are exactly its offered cells, and its change (if
    /// any) comes back to its own lock in full. The channel cell's outpoint.
    pub fn check(&self, scripts: &LockScripts, tx: &TransactionView) -> Result<OutPoint, TxError> {
        let mismatch = |what: &str| TxError::FundingMismatch(what.to_owned());
        let funds = self.funds.validate()?;
        let channel = tx.outputs().get(0).ok_or_else(|| mismatch("no outputs"))?;
        let capacity: u64 = channel.capacity().unpack();
        if Some(capacity) != funds.capacity() {
            return Err(mismatch("the channel cell's capacity is not deposit + co-funding"));
        }
        if channel.lock() != scripts.multisig.script(&channel_lock_args(&self.buyer, &self.seller)) || channel.type_().is_some() {
            return Err(mismatch("the channel cell is not the buyer-seller 2-of-2 plain cell"));
        }
        if tx.outputs_data().get(0).is_none_or(|d| !d.raw_data().is_empty()) {
            return Err(mismatch("the channel cell carries data"));
        }
        let offered: Vec<OutPoint> = self.seller_cells.iter().map(|c| c.out_point.clone()).collect();
        let mine = tx.input_pts_iter().filter(|p| offered.contains(p)).count();
        if mine != offered.len() {
            return Err(mismatch("the seller's offered cells are not all spent"));
        }
        let seller_lock = scripts.sighash.script(&KeyId::of(&self.seller).0);
        // Checked: hostile capacities must not overflow (a panic in debug,
        // a wrapped total that could match in release).
        let returned = tx
            .outputs()
            .into_iter()
            .skip(1)
            .filter(|o| o.lock() == seller_lock)
            .try_fold(0u64, |sum, o| sum.checked_add(o.capacity().unpack()))
            .ok_or_else(|| mismatch("the outputs' capacities overflow"))?;
        let change = total(&self.seller_cells).unwrap_or(u64::MAX).saturating_sub(funds.seller_cofund);
        if returned != change {
            return Err(mismatch("the seller's change is not returned in full"));
        }
        Ok(OutPoint::new(tx.hash(), 0))
    }
}

/// The seller's reclaim of an offer it gave up after signing its funding:
/// `cells` (all the seller's plain cells) spent to one plain cell of the
/// seller's, less the fee at `fee_rate`, signed by `seller`. Once it
/// commits, the funding the seller signed can never commit (an input is
/// spent). The cells must leave at least 61 CKB after the fee
/// (`insufficient_funds` otherwise: add another of the seller's cells).
pub fn reclaim(scripts: &LockScripts, seller: &PayerKey, cells: &[LiveCell], fee_rate: u64) -> Result<TransactionView, TxError> {
    let held = total(cells).ok_or_else(|| TxError::FundingMismatch("the cells' capacities overflow".into()))?;
    let lock = scripts.sighash.script(&seller.id().0);
    let build = |fee: Shannons| {
        let output = CellOutput::new_builder().capacity(held.saturating_sub(fee)).lock(lock.clone()).build();
        let mut witnesses = vec![Bytes::new(); cells.len()];
        if let Some(first) = witnesses.first_mut() {
            *first = placeholder_witness(sighash_placeholder()).as_bytes();
        }
        TransactionBuilder::default()
            .cell_deps(scripts.sighash.cell_deps.clone())
            .inputs(cells.iter().map(|c| CellInput::new(c.out_point.clone(), 0)))
            .output(output)
            .output_data(Bytes::new().pack())
            .witnesses(witnesses.into_iter().map(|w| w.pack()))
            .build()
    };
    let size = build(0).data().as_slice().len() as u64;
    let fee = fee_for_size(size, fee_rate).ok_or(TxError::InsufficientFunds { available: held, needed: u64::MAX })?;
    let needed = PLAIN_CELL.saturating_add(fee);
    if cells.is_empty() || held < needed {
        return Err(TxError::InsufficientFunds { available: held, needed });
    }
    let unsigned = build(fee);
    Ok(sign_inputs(&unsigned, &(0..cells.len()).collect::<Vec<_>>(), seller))
}

/// The indices of the inputs of `tx` that spend `cells`.
pub fn input_indices(tx: &TransactionView, cells: &[LiveCell]) -> Vec<usize> {
    tx.input_pts_iter().enumerate().filter(|(_, p)| cells.iter().any(|c| &c.out_point == p)).map(|(i, _)| i).collect()
}

/// `tx` with the sighash input group `group` (ascending input indices, all
/// locked by `key`'s plain lock) signed by `key`.
pub fn sign_inputs(tx: &TransactionView, group: &[usize], key: &PayerKey) -> TransactionView {
    let Some(&first) = group.first() else { return tx.clone() };
    let placeholder = placeholder_witness(sighash_placeholder());
    let signature = key.sign_digest(group_message(tx, group, &placeholder));
    let signed = placeholder_witness(signature.to_vec()).as_bytes().pack();
    let mut witnesses: Vec<_> = tx.witnesses().into_iter().collect();
    if let Some(slot) = witnesses.get_mut(first) {
        *slot = signed;
    }
    tx.as_advanced_builder().set_witnesses(witnesses).build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ckb::scripts::ScriptRef;
    use ckb_types::core::ScriptHashType;
    use tollway_core::ckb::{CKB, MIN_FEE_RATE};

    fn scripts() -> LockScripts {
        let script = |byte: u8| ScriptRef { code_hash: [byte; 32].pack(), hash_type: ScriptHashType::Type, cell_deps: Vec::new() };
        LockScripts { sighash: script(1), multisig: script(2) }
    }

    fn plan(seller_cell: u64) -> FundingPlan {
        let key = |n: u8| PayerKey::from_bytes([n; 32]).expect("key");
        let cell = |n: u8, capacity| LiveCell { out_point: OutPoint::new([n; 32].pack(), 0), capacity };
        FundingPlan {
            buyer: key(1).public(),
            seller: key(2).public(),
            funds: ChannelFunds { buyer_deposit: 1_061 * CKB, seller_cofund: 61 * CKB, fee: 1_000 },
            buyer_cells: vec![cell(1, 2_000 * CKB)],
            seller_cells: vec![cell(2, seller_cell)],
            fee_rate: MIN_FEE_RATE,
        }
    }

    #[test]
    fn a_reclaim_pays_the_seller_all_but_its_fee_and_needs_61_ckb_after_it() {
        let scripts = scripts();
        let seller = PayerKey::from_bytes([2; 32]).expect("key");
        let cell = |n: u8, capacity| LiveCell { out_point: OutPoint::new([n; 32].pack(), 0), capacity };
        let alone = reclaim(&scripts, &seller, &[cell(1, 61 * CKB)], MIN_FEE_RATE).expect_err("61 CKB cannot pay a fee");
        assert_eq!(alone.code(), "insufficient_funds");
        assert_eq!(reclaim(&scripts, &seller, &[], MIN_FEE_RATE).map_err(|e| e.code()).err(), Some("insufficient_funds"));
        let overflow = reclaim(&scripts, &seller, &[cell(1, u64::MAX), cell(2, 1)], MIN_FEE_RATE).expect_err("overflow");
        assert_eq!(overflow.code(), "funding_mismatch");
        let tx = reclaim(&scripts, &seller, &[cell(1, 61 * CKB), cell(2, 100 * CKB)], MIN_FEE_RATE).expect("reclaim");
        assert_eq!(tx.inputs().len(), 2);
        let output = tx.outputs().get(0).expect("one output");
        assert_eq!((tx.outputs().len(), output.lock()), (1, scripts.sighash.script(&seller.id().0)));
        let fee = fee_for_size(tx.data().as_slice().len() as u64, MIN_FEE_RATE).expect("fee");
        assert_eq!(Unpack::<u64>::unpack(&output.capacity()), 161 * CKB - fee, "the seller's cells less the fee of the signed size");
    }

    /// The attacker's funding: two more outputs to the seller, `u64::MAX`
    /// and 1, so the seller's outputs sum past `u64::MAX` and, wrapped,
    /// to exactly the change owed. Refused as a mismatch, no panic.
    #[test]
    fn overflowing_output_capacities_are_a_mismatch_not_a_panic() {
        let scripts = scripts();
        let plan = plan(61 * CKB + 100 * CKB);
        let honest = plan.build(&scripts).expect("build");
        assert!(plan.check(&scripts, &honest).is_ok());
        let seller_lock = scripts.sighash.script(&KeyId::of(&plan.seller).0);
        let hostile = |capacity: u64| CellOutput::new_builder().capacity(capacity).lock(seller_lock.clone()).build();
        let tx = honest
            .as_advanced_builder()
            .output(hostile(u64::MAX))
            .output_data(Bytes::new().pack())
            .output(hostile(1))
            .output_data(Bytes::new().pack())
            .build();
        let refused = plan.check(&scripts, &tx).expect_err("overflowing capacities");
        assert_eq!(refused.code(), "funding_mismatch");
        assert!(refused.to_string().contains("overflow"), "{refused}");
    }
}
