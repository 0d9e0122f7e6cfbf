//! The hub's check of a sender-signed payment before it signs its own
//! input: the signed transaction must be the prepared one byte for byte
//! but for the sender's 65 signature bytes, and that signature must be
//! what the sender's lock accepts. The prepared transaction is checked
//! too (defence in depth): the hub never signs a payment that moves its
//! own capacity other than pool cell + amount to its own plain cell.

use super::{HubTxError, LiveCell};
use crate::ckb::scripts::LockScripts;
use crate::ckb::signing::{group_message, sighash_placeholder, signer_of, Signature};
use ckb_types::core::TransactionView;
use ckb_types::packed::{CellOutput, WitnessArgs};
use ckb_types::prelude::*;
use tollway_core::channel::KeyId;
use tollway_core::ckb::multisig::SIGNATURE_LEN;
use tollway_core::ckb::{Shannons, SighashArgs};

/// What the hub agreed to at prepare, from its books: the signed payment
/// is checked against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentTerms {
    /// The sender's lock args: its signature must recover to this key.
    pub sender: SighashArgs,
    /// The hub's lock args.
    pub hub: SighashArgs,
    /// How many of the sender's cells the payment spends (inputs
    /// `0..sender_inputs`; the hub's input is the next one).
    pub sender_inputs: usize,
    /// The hub's pool cell the payment spends.
    pub pool_cell: LiveCell,
    /// What the sender pays the hub.
    pub amount: Shannons,
}

/// Checks, as the hub, the payment `signed` the sender returned against
/// the `prepared` one, before the hub signs it. In this order:
///
/// - the prepared payment pays the hub exactly its pool cell plus the
///   amount, to its own plain cell, spending nothing else of the hub's
///   (`hub_cell_mismatch`);
/// - `signed` has the prepared hash (inputs, outputs, cell deps, since,
///   version, data), the same number of witnesses, every witness but the
///   first byte for byte the prepared one, and the first the prepared
///   `WitnessArgs` but for its lock (`tx_mismatch`);
/// - that lock is a 65-byte recoverable signature of sighash-all over the
///   sender's input group whose key's blake160 is the sender's lock args
///   (`bad_signature`).
pub fn check_signed(scripts: &LockScripts, prepared: &TransactionView, signed: &TransactionView, terms: &PaymentTerms) -> Result<(), HubTxError> {
    check_prepared(scripts, prepared, terms)?;
    if signed.hash() != prepared.hash() {
        return Err(HubTxError::TxMismatch("the hash differs: inputs, outputs, cell deps, since, version or data changed".into()));
    }
    let (ours, theirs) = (prepared.witnesses(), signed.witnesses());
    if ours.len() != theirs.len() {
        return Err(HubTxError::TxMismatch(format!("{} witnesses, the prepared payment has {}", theirs.len(), ours.len())));
    }
    if let Some(index) = (1..ours.len()).find(|&i| ours.get(i).map(|w| w.raw_data()) != theirs.get(i).map(|w| w.raw_data())) {
        return Err(HubTxError::TxMismatch(format!("witness {index} differs from the prepared one")));
    }
    let first = |w: Option<ckb_types::packed::Bytes>| w.map(|w| w.raw_data()).unwrap_or_default();
    let (signature, witness) = sender_signature(&first(ours.get(0)), &first(theirs.get(0)))?;
    // What the sighash lock signs: the group's first witness with its lock
    // zeroed.
    let group: Vec<usize> = (0..terms.sender_inputs).collect();
    let zeroed = witness.as_builder().lock(Some(ckb_types::bytes::Bytes::from(sighash_placeholder())).pack()).build();
    let key = signer_of(group_message(prepared, &group, &zeroed), &signature)
        .ok_or_else(|| HubTxError::BadSignature("not a valid recoverable signature".into()))?;
    if KeyId::of(&key).0 != terms.sender.0 {
        return Err(HubTxError::BadSignature(format!("signed by {}, not by the sender {}", KeyId::of(&key), terms.sender)));
    }
    Ok(())
}

/// The sender's signature and the signed first witness, once that is the
/// prepared one but for its lock.
fn sender_signature(prepared: &[u8], signed: &[u8]) -> Result<(Signature, WitnessArgs), HubTxError> {
    let mismatch = || HubTxError::TxMismatch("witness 0 is not the prepared WitnessArgs with the sender's signature in its lock".into());
    let theirs = WitnessArgs::from_slice(signed).map_err(|_| mismatch())?;
    let ours = WitnessArgs::from_slice(prepared).map_err(|_| HubTxError::HubCellMismatch("witness 0 is not a WitnessArgs".into()))?;
    if ours.as_builder().lock(theirs.lock()).build().as_slice() != signed {
        return Err(mismatch());
    }
    let lock = theirs.lock().to_opt().map(|l| l.raw_data()).unwrap_or_default();
    let signature = <Signature>::try_from(lock.as_ref())
        .map_err(|_| HubTxError::BadSignature(format!("the signature is {} bytes, not {SIGNATURE_LEN}", lock.len())))?;
    Ok((signature, theirs))
}

/// The defence in depth: the prepared payment spends the sender's inputs
/// then exactly the leased pool cell, and pays the sender's and the hub's
/// plain cells, the hub's holding its pool cell plus the amount.
fn check_prepared(scripts: &LockScripts, tx: &TransactionView, terms: &PaymentTerms) -> Result<(), HubTxError> {
    let wrong = |what: &str| Err(HubTxError::HubCellMismatch(what.to_owned()));
    if terms.sender == terms.hub {
        return Err(HubTxError::SenderIsHub);
    }
    let inputs: Vec<_> = tx.inputs().into_iter().collect();
    let k = terms.sender_inputs;
    if k == 0 || k.checked_add(1) != Some(inputs.len()) {
        return wrong(&format!("{} inputs, the terms give {k} of the sender's and the hub's", inputs.len()));
    }
    if inputs[k].previous_output() != terms.pool_cell.out_point || Unpack::<u64>::unpack(&inputs[k].since()) != 0 {
        return wrong("the hub's input is not its leased pool cell with since 0");
    }
    if inputs[..k].iter().any(|i| i.previous_output() == terms.pool_cell.out_point) {
        return wrong("the pool cell is spent as the sender's");
    }
    let plain_to = |cell: &CellOutput, owner: SighashArgs| cell.type_().is_none() && cell.lock() == scripts.sighash.script(&owner.0);
    let (outputs, data) = (tx.outputs(), tx.outputs_data());
    let (change, to_hub) = match (outputs.len(), outputs.get(0), outputs.get(1)) {
        (2, Some(change), Some(to_hub)) => (change, to_hub),
        (n, _, _) => return wrong(&format!("{n} outputs, a payment has 2")),
    };
    if !plain_to(&change, terms.sender) || !plain_to(&to_hub, terms.hub) || data.into_iter().any(|d| !d.raw_data().is_empty()) {
        return wrong("the outputs are not the sender's then the hub's plain cells");
    }
    let expected = terms.pool_cell.capacity.checked_add(terms.amount);
    if expected != Some(to_hub.capacity().unpack()) {
        return wrong("the hub's output is not its pool cell plus the amount");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{args, cell, key, scripts};
    use super::super::{sign_sender, HubPaymentPlan, PreparedPayment};
    use super::*;
    use crate::ckb::signing::placeholder_witness;
    use ckb_types::bytes::Bytes;
    use ckb_types::core::{DepType, TransactionBuilder};
    use ckb_types::packed::{CellDep, CellInput, OutPoint};
    use tollway_core::ckb::{CKB, MIN_FEE_RATE};

    fn prepared(sender_cells: usize) -> (LockScripts, PreparedPayment) {
        let scripts = scripts();
        let plan = HubPaymentPlan {
            sender: args(&key(1)),
            sender_cells: (1..=sender_cells as u8).map(|n| cell(n, 100 * CKB)).collect(),
            hub: args(&key(9)),
            pool_cell: cell(200, 100 * CKB),
            amount: 5 * CKB,
            fee_rate: MIN_FEE_RATE,
        };
        let prepared = plan.build(&scripts).expect("builds");
        (scripts, prepared)
    }

    fn edited(tx: &TransactionView, edit: impl FnOnce(TransactionBuilder) -> TransactionBuilder) -> TransactionView {
        edit(tx.as_advanced_builder()).build()
    }

    /// `tx` with witness `index` replaced by `witness`.
    fn with_witness(tx: &TransactionView, index: usize, witness: Bytes) -> TransactionView {
        let mut witnesses: Vec<_> = tx.witnesses().into_iter().collect();
        witnesses[index] = witness.pack();
        tx.as_advanced_builder().set_witnesses(witnesses).build()
    }

    fn lock_witness(lock: Vec<u8>) -> Bytes {
        placeholder_witness(lock).as_bytes()
    }

    #[test]
    fn the_honest_signed_payment_passes() {
        for k in [1, 2, 5] {
            let (scripts, prepared) = prepared(k);
            let signed = sign_sender(&prepared.tx, k, &key(1));
            assert_ne!(signed.witnesses().get(0), prepared.tx.witnesses().get(0), "the sender signed");
            check_signed(&scripts, &prepared.tx, &signed, &prepared.terms).unwrap_or_else(|e| panic!("{k} inputs: {e}"));
        }
    }

    #[test]
    fn hostile_signed_payments_are_refused_with_the_right_code() {
        let (scripts, prepared) = prepared(2);
        let tx = &prepared.tx;
        let sender = key(1);
        let honest = sign_sender(tx, 2, &sender);
        let signature = honest.witnesses().get(0).expect("w0").raw_data();
        let signature = WitnessArgs::from_slice(&signature).expect("args").lock().to_opt().expect("lock").raw_data().to_vec();
        let output = |n: usize| tx.outputs().get(n).expect("output");
        let capacity = |o: &CellOutput| -> u64 { o.capacity().unpack() };
        let mut outputs: Vec<CellOutput> = tx.outputs().into_iter().collect();
        outputs[0] = output(0).as_builder().capacity(capacity(&output(0)) + 1).build();
        let plus_one = outputs;
        let mut outputs: Vec<CellOutput> = tx.outputs().into_iter().collect();
        outputs[0] = output(0).as_builder().lock(scripts.sighash.script(&key(5).id().0)).build();
        let other_lock = outputs;
        let dep = CellDep::new_builder().out_point(OutPoint::new([7; 32].pack(), 0)).dep_type(DepType::DepGroup).build();
        let other_input = CellInput::new(cell(50, 0).out_point, 0);
        let mut inputs: Vec<CellInput> = tx.inputs().into_iter().collect();
        inputs[0] = CellInput::new(inputs[0].previous_output(), 0x4000_0000_0000_0001);
        let since_changed = inputs;
        // A transaction the sender re-signs after editing it: only the hash catches it.
        let resigned = |edit: &dyn Fn(TransactionBuilder) -> TransactionBuilder| sign_sender(&edit(tx.as_advanced_builder()).build(), 2, &sender);
        let another = {
            let mut digest = [0u8; 32];
            digest.copy_from_slice(tx.hash().as_slice());
            sender.sign_digest(digest).to_vec()
        };
        let mut with_input_type = WitnessArgs::from_slice(&honest.witnesses().get(0).expect("w0").raw_data()).expect("args").as_builder();
        with_input_type = with_input_type.input_type(Some(Bytes::from_static(b"x")).pack());
        let hostile: Vec<(&str, &str, TransactionView)> = vec![
            ("an output capacity +1", "tx_mismatch", resigned(&|b| b.set_outputs(plus_one.clone()))),
            ("an output lock changed", "tx_mismatch", resigned(&|b| b.set_outputs(other_lock.clone()))),
            ("an extra output", "tx_mismatch", resigned(&|b| b.output(output(0)).output_data(Bytes::new().pack()))),
            ("an extra input", "tx_mismatch", resigned(&|b| b.input(other_input.clone()))),
            ("since changed", "tx_mismatch", resigned(&|b| b.set_inputs(since_changed.clone()))),
            ("a cell dep added", "tx_mismatch", resigned(&|b| b.cell_dep(dep.clone()))),
            ("a cell dep changed", "tx_mismatch", resigned(&|b| b.set_cell_deps(vec![dep.clone()]))),
            ("output data added", "tx_mismatch", resigned(&|b| b.set_outputs_data(vec![Bytes::from_static(b"x").pack(), Bytes::new().pack()]))),
            ("an extra witness", "tx_mismatch", edited(&honest, |b| b.witness(Bytes::new().pack()))),
            ("an extra witness, signed over", "tx_mismatch", resigned(&|b| b.witness(Bytes::from_static(b"x").pack()))),
            ("a witness dropped", "tx_mismatch", edited(&honest, |b| b.set_witnesses(honest.witnesses().into_iter().take(2).collect()))),
            ("witness 1 changed", "tx_mismatch", with_witness(&honest, 1, Bytes::from_static(b"garbage"))),
            ("witness 1 changed, signed over", "tx_mismatch", sign_sender(&with_witness(tx, 1, Bytes::from_static(b"garbage")), 2, &sender)),
            ("the hub's placeholder filled with garbage", "tx_mismatch", with_witness(&honest, 2, lock_witness(vec![0xab; 65]))),
            ("witness 0 with an input type", "tx_mismatch", with_witness(&honest, 0, with_input_type.build().as_bytes())),
            ("witness 0 not a WitnessArgs", "tx_mismatch", with_witness(&honest, 0, Bytes::from(signature.clone()))),
            ("a signature by another key", "bad_signature", sign_sender(tx, 2, &key(5))),
            ("a signature over a different message", "bad_signature", with_witness(&honest, 0, lock_witness(another))),
            ("a signature over the first input only", "bad_signature", sign_sender(tx, 1, &sender)),
            ("a truncated signature", "bad_signature", with_witness(&honest, 0, lock_witness(signature[..64].to_vec()))),
            ("a longer signature", "bad_signature", with_witness(&honest, 0, lock_witness([signature.clone(), vec![0]].concat()))),
            ("64 zero bytes", "bad_signature", with_witness(&honest, 0, lock_witness(vec![0; 64]))),
            ("65 zero bytes (unsigned)", "bad_signature", tx.clone()),
            ("no lock", "bad_signature", with_witness(&honest, 0, WitnessArgs::default().as_bytes())),
            ("an invalid recovery id", "bad_signature", with_witness(&honest, 0, lock_witness([&signature[..64], &[7]].concat()))),
        ];
        for (what, code, forged) in hostile {
            let refused = check_signed(&scripts, tx, &forged, &prepared.terms).expect_err(what);
            assert_eq!(refused.code(), code, "{what}: {refused}");
        }
        check_signed(&scripts, tx, &honest, &prepared.terms).expect("the honest one passes");
    }

    #[test]
    fn the_hub_never_signs_a_prepared_payment_that_moves_its_capacity_otherwise() {
        let (scripts, prepared) = prepared(1);
        let signed = sign_sender(&prepared.tx, 1, &key(1));
        let terms = &prepared.terms;
        let refused = |terms: PaymentTerms| check_signed(&scripts, &prepared.tx, &signed, &terms).map_err(|e| e.code()).err();
        assert_eq!(refused(PaymentTerms { amount: 4 * CKB, ..terms.clone() }), Some("hub_cell_mismatch"));
        assert_eq!(refused(PaymentTerms { amount: u64::MAX, ..terms.clone() }), Some("hub_cell_mismatch"));
        assert_eq!(refused(PaymentTerms { pool_cell: cell(201, 100 * CKB), ..terms.clone() }), Some("hub_cell_mismatch"));
        assert_eq!(refused(PaymentTerms { pool_cell: cell(200, 99 * CKB), ..terms.clone() }), Some("hub_cell_mismatch"));
        assert_eq!(refused(PaymentTerms { hub: args(&key(5)), ..terms.clone() }), Some("hub_cell_mismatch"));
        assert_eq!(refused(PaymentTerms { sender_inputs: 0, ..terms.clone() }), Some("hub_cell_mismatch"));
        assert_eq!(refused(PaymentTerms { sender_inputs: 2, ..terms.clone() }), Some("hub_cell_mismatch"));
        assert_eq!(refused(PaymentTerms { sender_inputs: usize::MAX, ..terms.clone() }), Some("hub_cell_mismatch"));
        assert_eq!(refused(PaymentTerms { hub: terms.sender, ..terms.clone() }), Some("sender_is_hub"));
        // Another sender's key named in the terms: the signature is not theirs.
        assert_eq!(refused(PaymentTerms { sender: args(&key(5)), ..terms.clone() }), Some("hub_cell_mismatch"), "output 0 is not theirs");
        // Another payment's prepared transaction, honestly signed: not this one.
        let (_, other) = prepared_with_amount(6 * CKB);
        let other_signed = sign_sender(&other.tx, 1, &key(1));
        assert_eq!(check_signed(&scripts, &prepared.tx, &other_signed, terms).map_err(|e| e.code()).err(), Some("tx_mismatch"));
        check_signed(&scripts, &prepared.tx, &signed, terms).expect("as agreed");
    }

    fn prepared_with_amount(amount: u64) -> (LockScripts, PreparedPayment) {
        let (scripts, first) = prepared(1);
        let plan = HubPaymentPlan {
            sender: first.terms.sender,
            sender_cells: first.sender_cells.clone(),
            hub: first.terms.hub,
            pool_cell: first.terms.pool_cell.clone(),
            amount,
            fee_rate: MIN_FEE_RATE,
        };
        let prepared = plan.build(&scripts).expect("builds");
        (scripts, prepared)
    }
}
