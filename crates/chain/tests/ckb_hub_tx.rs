//! The hub's transactions under the real system lock script
//! (`secp256k1_blake160_sighash_all` from `ckb-system-scripts` 0.6.0), run
//! in-process by ckb-testtool: the payment signed by the sender and the
//! hub (in either order), checked by the hub in between; tampered payments
//! refused by the lock; payouts, splits and merges. Prints the cycles and
//! sizes docs/benchmarks.md quotes. (ckb-testtool does not check capacity
//! rules or the fee: `ckb_hub_devnet.rs` does, on the node.)

use ckb_testtool::context::Context;
use ckb_types::bytes::Bytes;
use ckb_types::core::{TransactionBuilder, TransactionView};
use ckb_types::packed::{CellInput, CellOutput};
use ckb_types::prelude::*;
use tollway_chain::ckb::hub::{check_signed, merge, payout, sign_hub, sign_sender, split, HubPaymentPlan, HubTransaction, LiveCell, PreparedPayment};
use tollway_chain::ckb::scripts::LockScripts;
use tollway_chain::ckb::signing::{placeholder_witness, sighash_placeholder};
use tollway_chain::ckb::spilman::sign_inputs;
use tollway_chain::ckb::TestAccount;
use tollway_core::channel::PayerKey;
use tollway_core::ckb::hub::PayoutPlan;
use tollway_core::ckb::{fee_for_size, SighashArgs, CKB, MIN_FEE_RATE};

mod ckb_support;
use ckb_support::{context, plain_cell, MAX_CYCLES};

/// `secp256k1_blake160_sighash_all`'s exit codes (ckb-system-scripts
/// 0.6.0): the recovered key's blake160 is not the lock args (another
/// key, or a signature over other bytes), and no key recovers at all (the
/// zero placeholder).
const ERROR_PUBKEY_BLAKE160_HASH: i8 = -31;
const ERROR_SECP_RECOVER_PUBKEY: i8 = -11;

fn args(key: &PayerKey) -> SighashArgs {
    SighashArgs(key.id().0)
}

/// Asserts that the lock of input `input` refused `tx` with `code`.
fn assert_lock_refuses(context: &Context, tx: &TransactionView, input: usize, code: i8, what: &str) {
    let error = context.verify_tx(tx, MAX_CYCLES).expect_err(what).to_string();
    assert!(error.contains(&format!("source: Inputs[{input}].Lock")) && error.contains(&format!("error code {code} ")), "{what}: {error}");
}

fn size(tx: &TransactionView) -> usize {
    tx.data().as_slice().len()
}

/// Prints one line of the benchmark.
fn bench(what: &str, context: &Context, tx: &TransactionView, fee: u64) -> u64 {
    let cycles = context.verify_tx(tx, MAX_CYCLES).unwrap_or_else(|e| panic!("{what}: {e}"));
    eprintln!(
        "bench: {what}: {} inputs, {} outputs, {cycles} cycles, {} bytes serialized, fee {fee} shannons at {MIN_FEE_RATE} shannons/KB",
        tx.inputs().len(),
        tx.outputs().len(),
        size(tx)
    );
    cycles
}

struct Payment {
    context: Context,
    scripts: LockScripts,
    sender: PayerKey,
    hub: PayerKey,
    prepared: PreparedPayment,
}

/// A payment of `amount` from `sender_cells` (capacities) through a
/// 100 CKB pool cell, built by the hub.
fn prepare(sender_cells: &[u64], amount: u64) -> Payment {
    let (mut context, scripts) = context();
    let (sender, hub) = (TestAccount::nth(1).key, TestAccount::nth(3).key);
    let cells = sender_cells.iter().map(|c| plain_cell(&mut context, &scripts, &sender, *c)).collect();
    let pool_cell = plain_cell(&mut context, &scripts, &hub, 100 * CKB);
    let plan = HubPaymentPlan { sender: args(&sender), sender_cells: cells, hub: args(&hub), pool_cell, amount, fee_rate: MIN_FEE_RATE };
    let prepared = plan.build_fewest(&scripts).expect("the payment builds");
    Payment { context, scripts, sender, hub, prepared }
}

impl Payment {
    /// The sender signs, the hub checks and signs.
    fn complete(&self) -> TransactionView {
        let k = self.prepared.sender_cells.len();
        let signed = sign_sender(&self.prepared.tx, k, &self.sender);
        check_signed(&self.scripts, &self.prepared.tx, &signed, &self.prepared.terms).expect("the hub accepts the sender's signature");
        sign_hub(&signed, self.prepared.hub_input(), &self.hub)
    }
}

#[test]
fn a_payment_signed_by_the_sender_then_the_hub_unlocks_under_the_real_sighash_script() {
    let payment = prepare(&[1_000 * CKB], 5 * CKB);
    let tx = payment.complete();
    assert_eq!(tx.hash(), payment.prepared.tx.hash(), "signing does not change the hash fixed at prepare");
    assert_eq!(size(&tx), size(&payment.prepared.tx), "nor the size the fee was computed for");
    assert_eq!(Some(payment.prepared.fee), fee_for_size(size(&tx) as u64, MIN_FEE_RATE));
    let outputs: Vec<u64> = tx.outputs().into_iter().map(|o| o.capacity().unpack()).collect();
    assert_eq!(outputs, vec![995 * CKB - payment.prepared.fee, 105 * CKB]);
    bench("hub payment, 1 sender input", &payment.context, &tx, payment.prepared.fee);

    // Each signature is independent of the other: the hub may sign first.
    let k = payment.prepared.hub_input();
    let hub_first = sign_sender(&sign_hub(&payment.prepared.tx, k, &payment.hub), k, &payment.sender);
    assert_eq!(hub_first.witnesses().as_slice(), tx.witnesses().as_slice(), "the same witnesses in either order");

    // Several sender inputs: one group, its first witness signed, the others empty.
    let payment = prepare(&[62 * CKB, 2 * CKB, 2 * CKB, 900 * CKB], 5 * CKB);
    assert_eq!(payment.prepared.sender_cells.len(), 4, "62 + 2 + 2 CKB cannot pay 5 CKB + fee + 61 CKB");
    let tx = payment.complete();
    bench("hub payment, 4 sender inputs", &payment.context, &tx, payment.prepared.fee);
}

#[test]
fn tampered_payments_are_refused_by_the_lock() {
    let payment = prepare(&[1_000 * CKB], 5 * CKB);
    let (context, prepared) = (&payment.context, &payment.prepared);
    let k = prepared.hub_input();
    let stranger = TestAccount::nth(2).key;

    // The sender's slot signed by another key: the hub's check refuses it
    // first, and a hub fooled into signing it gets nothing from the lock.
    let forged = sign_sender(&prepared.tx, k, &stranger);
    assert_eq!(check_signed(&payment.scripts, &prepared.tx, &forged, &prepared.terms).map_err(|e| e.code()).err(), Some("bad_signature"));
    assert_lock_refuses(context, &sign_hub(&forged, k, &payment.hub), 0, ERROR_PUBKEY_BLAKE160_HASH, "the sender's input signed by another key");

    // Outputs changed after both signed: both signatures are over the old ones.
    let full = payment.complete();
    let mut outputs: Vec<CellOutput> = full.outputs().into_iter().collect();
    let stolen = Unpack::<u64>::unpack(&outputs[1].capacity()) - CKB;
    outputs[0] = outputs[0].clone().as_builder().capacity(Unpack::<u64>::unpack(&outputs[0].capacity()) + CKB).build();
    outputs[1] = outputs[1].clone().as_builder().capacity(stolen).build();
    let changed = full.as_advanced_builder().set_outputs(outputs).build();
    assert_lock_refuses(context, &changed, 0, ERROR_PUBKEY_BLAKE160_HASH, "the outputs changed after signing");

    // Signed by the sender only: the hub's input is still locked.
    let half = sign_sender(&prepared.tx, k, &payment.sender);
    assert_lock_refuses(context, &half, k, ERROR_SECP_RECOVER_PUBKEY, "the hub has not signed");
    // The hub's signature over another payment's transaction does not carry over.
    let other = prepare(&[1_000 * CKB], 6 * CKB);
    let other_hub_witness = sign_hub(&other.prepared.tx, 1, &other.hub).witnesses().get(1).expect("hub witness");
    let mut witnesses: Vec<_> = half.witnesses().into_iter().collect();
    witnesses[k] = other_hub_witness;
    let replayed = half.as_advanced_builder().set_witnesses(witnesses).build();
    assert_lock_refuses(context, &replayed, k, ERROR_PUBKEY_BLAKE160_HASH, "a hub signature from another payment");
}

fn hub_cells(context: &mut Context, scripts: &LockScripts, hub: &PayerKey, capacities: &[u64]) -> Vec<LiveCell> {
    capacities.iter().map(|c| plain_cell(context, scripts, hub, *c)).collect()
}

fn verify(context: &Context, built: &HubTransaction, what: &str) -> u64 {
    bench(what, context, &built.tx, built.fee)
}

#[test]
fn payouts_splits_and_merges_unlock_under_the_real_sighash_script() {
    let (mut context, scripts) = context();
    let hub = TestAccount::nth(3).key;
    let party = |n: u8| SighashArgs([n; 20]);

    let cells = hub_cells(&mut context, &scripts, &hub, &[200 * CKB]);
    let one = payout(&scripts, &hub, &cells, &PayoutPlan { outputs: vec![(party(1), 70 * CKB)] }, MIN_FEE_RATE).expect("payout");
    let one_cycles = verify(&context, &one, "hub payout, 1 output");
    let cells = hub_cells(&mut context, &scripts, &hub, &[1_000 * CKB]);
    let ten = PayoutPlan { outputs: (1..=10).map(|n| (party(n), 66 * CKB + u64::from(n))).collect() };
    let ten = payout(&scripts, &hub, &cells, &ten, MIN_FEE_RATE).expect("payout");
    let ten_cycles = verify(&context, &ten, "hub payout, 10 outputs");
    assert_eq!(ten.tx.outputs().len(), 11);
    assert!(ten_cycles < one_cycles * 2, "one signature either way: {one_cycles} vs {ten_cycles}");
    // `hub.payout_max_outputs`' default: 50 parties paid by one transaction.
    let cells = hub_cells(&mut context, &scripts, &hub, &[5_000 * CKB]);
    let fifty = PayoutPlan { outputs: (1..=50).map(|n| (party(n), 66 * CKB + u64::from(n))).collect() };
    let fifty = payout(&scripts, &hub, &cells, &fifty, MIN_FEE_RATE).expect("payout");
    let fifty_cycles = verify(&context, &fifty, "hub payout, 50 outputs");
    assert_eq!(fifty.tx.outputs().len(), 51);
    assert!(fifty_cycles < one_cycles * 2, "one signature either way: {one_cycles} vs {fifty_cycles}");
    let cells = hub_cells(&mut context, &scripts, &hub, &[300 * CKB, 200 * CKB]);
    let two_in =
        payout(&scripts, &hub, &cells, &PayoutPlan { outputs: vec![(party(1), 70 * CKB), (party(2), 80 * CKB)] }, MIN_FEE_RATE).expect("payout");
    verify(&context, &two_in, "hub payout, 2 inputs, 2 outputs");

    let cells = hub_cells(&mut context, &scripts, &hub, &[10_000 * CKB]);
    let split = split(&scripts, &hub, &cells, 20, 100 * CKB, MIN_FEE_RATE).expect("split");
    verify(&context, &split, "pool split into 20 cells");
    let cells = hub_cells(&mut context, &scripts, &hub, &[105 * CKB; 20]);
    let merged = merge(&scripts, &hub, &cells, MIN_FEE_RATE).expect("merge");
    verify(&context, &merged, "pool merge of 20 cells");
    assert_eq!(merged.change, 2_100 * CKB - merged.fee);

    // Signed by another key, the hub's cells stay locked.
    let cells = hub_cells(&mut context, &scripts, &hub, &[300 * CKB]);
    let forged = merge(&scripts, &TestAccount::nth(2).key, &cells, MIN_FEE_RATE).expect("builds");
    assert_lock_refuses(&context, &forged.tx, 0, ERROR_PUBKEY_BLAKE160_HASH, "a merge signed by another key");
}

/// The baseline: a plain transfer of 61 CKB (the least there is), one
/// input, the receiver's cell and the change.
#[test]
fn a_plain_61_ckb_transfer_for_comparison() {
    let (mut context, scripts) = context();
    let sender = TestAccount::nth(1).key;
    let cell = plain_cell(&mut context, &scripts, &sender, 1_000 * CKB);
    let output = |args: &[u8], capacity: u64| CellOutput::new_builder().capacity(capacity).lock(scripts.sighash.script(args)).build();
    let build = |fee: u64| {
        TransactionBuilder::default()
            .cell_deps(scripts.sighash.cell_deps.clone())
            .input(CellInput::new(cell.out_point.clone(), 0))
            .outputs(vec![output(&[7; 20], 61 * CKB), output(&sender.id().0, 939 * CKB - fee)])
            .outputs_data(vec![Bytes::new().pack(), Bytes::new().pack()])
            .witness(placeholder_witness(sighash_placeholder()).as_bytes().pack())
            .build()
    };
    let fee = fee_for_size(size(&build(0)) as u64, MIN_FEE_RATE).expect("fee");
    let tx = sign_inputs(&build(fee), &[0], &sender);
    bench("plain 61 CKB transfer", &context, &tx, fee);
}
