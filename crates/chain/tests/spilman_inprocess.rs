//! The channel's transactions under the real system lock scripts
//! (`ckb-system-scripts` 0.6.0), run in-process by ckb-testtool: funding,
//! commitments and the refund unlock; forged commitments are refused by
//! Tollway's check and by the scripts. (ckb-testtool does not check
//! `since` maturity or capacity rules: `devnet_channel.rs` does, on the
//! node.)

use ckb_testtool::context::Context;
use ckb_types::bytes::Bytes;
use ckb_types::core::TransactionView;
use ckb_types::packed::{CellInput, CellOutput, OutPoint};
use ckb_types::prelude::*;
use tollway_chain::ckb::scripts::LockScripts;
use tollway_chain::ckb::spilman::{input_indices, reclaim, sign_inputs, ChannelTerms, FundingPlan};
use tollway_chain::ckb::TestAccount;
use tollway_core::channel::{KeyId, PayerKey};
use tollway_core::ckb::{ChannelFunds, Since, CKB, MIN_FEE_RATE};

mod ckb_support;
use ckb_support::{context, plain_cell, MAX_CYCLES};

/// `secp256k1_blake160_multisig_all`'s exit codes (ckb-system-scripts
/// 0.6.0): no public key recovers from a signature (an empty slot), and a
/// signature by a key that is not one of the script's or over other bytes.
const ERROR_SECP_RECOVER_PUBKEY: i8 = -11;
const ERROR_VERIFICATION: i8 = -52;

/// Asserts that the lock of input 0 (the channel cell's 2-of-2 multisig)
/// refused `tx` with `code`: not any error, that script's signature check.
fn assert_lock_refuses(context: &Context, tx: &TransactionView, code: i8, what: &str) {
    let error = context.verify_tx(tx, MAX_CYCLES).expect_err(what).to_string();
    assert!(error.contains("source: Inputs[0].Lock") && error.contains(&format!("error code {code} ")), "{what}: {error}");
}

struct Channel {
    context: Context,
    scripts: LockScripts,
    terms: ChannelTerms,
    buyer: PayerKey,
    seller: PayerKey,
}

fn funds() -> ChannelFunds {
    ChannelFunds { buyer_deposit: 1_061 * CKB, seller_cofund: 61 * CKB, fee: 1_000 }
}

/// Funds a channel: the buyer builds, the seller checks and signs its
/// input, the buyer signs its inputs; the scripts accept it.
fn open() -> Channel {
    let (mut context, scripts) = context();
    let (buyer, seller) = (TestAccount::nth(1).key, TestAccount::nth(2).key);
    let buyer_cells = vec![plain_cell(&mut context, &scripts, &buyer, 700 * CKB), plain_cell(&mut context, &scripts, &buyer, 600 * CKB)];
    let seller_cells = vec![plain_cell(&mut context, &scripts, &seller, 200 * CKB)];
    let plan = FundingPlan {
        buyer: buyer.public(),
        seller: seller.public(),
        funds: funds(),
        buyer_cells: buyer_cells.clone(),
        seller_cells: seller_cells.clone(),
        fee_rate: MIN_FEE_RATE,
    };
    let unsigned = plan.build(&scripts).expect("funding builds");
    let cell = plan.check(&scripts, &unsigned).expect("the seller accepts the funding");
    let tx = sign_inputs(&unsigned, &input_indices(&unsigned, &seller_cells), &seller);
    let tx = sign_inputs(&tx, &input_indices(&tx, &buyer_cells), &buyer);
    assert_eq!(tx.hash(), unsigned.hash(), "signing does not change the transaction hash");
    context.verify_tx(&tx, MAX_CYCLES).expect("the sighash lock accepts both groups");
    let outputs: Vec<u64> = tx.outputs().into_iter().map(|o| o.capacity().unpack()).collect();
    let size = tx.data().as_slice().len() as u64;
    assert_eq!(outputs[0], 1_122 * CKB, "deposit + co-funding");
    assert_eq!(outputs[2], 139 * CKB, "the seller's change in full");
    assert_eq!(1_500 * CKB - outputs.iter().sum::<u64>(), size + 4, "the buyer pays 1,000 shannons per 1,000 bytes of the signed size (+4)");
    let channel_cell = tx.outputs().get(0).expect("channel cell");
    context.create_cell_with_out_point(cell.clone(), channel_cell, Bytes::new());
    let terms = ChannelTerms { buyer: buyer.public(), seller: seller.public(), funds: funds(), expiry: Since::AbsoluteBlock(1_000), cell };
    Channel { context, scripts, terms, buyer, seller }
}

impl Channel {
    /// The commitment for `cumulative`, half-signed by the buyer.
    fn pay(&self, cumulative: u64) -> TransactionView {
        let tx = self.terms.commitment(&self.scripts, cumulative).expect("within the channel");
        self.terms.with_signatures(&tx, Some(&self.terms.sign(&tx, &self.buyer)), None)
    }

    /// The seller completes `half` with its own signature over it.
    fn settle(&self, half: &TransactionView) -> TransactionView {
        let seller = self.terms.sign(half, &self.seller);
        let buyer = half_signature(half);
        self.terms.with_signatures(half, Some(&buyer), Some(&seller))
    }
}

fn half_signature(tx: &TransactionView) -> [u8; 65] {
    let witness = tx.witnesses().get(0).expect("witness").raw_data();
    let args = ckb_types::packed::WitnessArgs::from_slice(&witness).expect("witness args");
    let lock = args.lock().to_opt().expect("lock").raw_data();
    let mut signature = [0u8; 65];
    signature.copy_from_slice(&lock[44..109]);
    signature
}

#[test]
fn commitments_are_checked_and_unlock_under_the_real_multisig_script() {
    let channel = open();
    for cumulative in [0, 1, 7 * CKB + 3, funds().max_payment()] {
        let half = channel.pay(cumulative);
        let checked = channel.terms.check_commitment(&channel.scripts, &half).expect("a true commitment is accepted");
        assert_eq!(checked.cumulative, cumulative);
        let full = channel.settle(&half);
        let cycles = channel.context.verify_tx(&full, MAX_CYCLES).expect("the multisig lock accepts the settlement");
        assert!(cycles > 0);
        let outputs: Vec<u64> = full.outputs().into_iter().map(|o| o.capacity().unpack()).collect();
        assert_eq!(outputs, vec![61 * CKB + cumulative, 1_061 * CKB - 1_000 - cumulative]);
    }
    // Above the channel: refused before any signature is made.
    assert_eq!(channel.terms.commitment(&channel.scripts, funds().max_payment() + 1).map_err(|e| e.code()).err(), Some("exceeds_channel"));
    // Half-signed, the scripts refuse it: the seller's signature is needed.
    assert_lock_refuses(&channel.context, &channel.pay(5), ERROR_SECP_RECOVER_PUBKEY, "the seller's slot is empty");
    // The multisig lock takes the signatures in either order.
    let half = channel.pay(5);
    let tx = channel.terms.commitment(&channel.scripts, 5).expect("commitment");
    let swapped = channel.terms.with_signatures(&tx, Some(&channel.terms.sign(&tx, &channel.seller)), Some(&half_signature(&half)));
    channel.context.verify_tx(&swapped, MAX_CYCLES).expect("signatures in either order");
}

#[test]
fn lock_scripts_round_trip_through_json() {
    let (_, scripts) = context();
    let json = serde_json::to_value(&scripts).expect("serialise");
    assert_eq!(json["multisig"]["hash_type"], "data1");
    assert_eq!(serde_json::from_value::<LockScripts>(json).expect("parse"), scripts);
}

#[test]
fn the_presigned_refund_unlocks_once_the_buyer_signs() {
    let channel = open();
    let refund = channel.terms.refund(&channel.scripts).expect("refund");
    let since: u64 = refund.inputs().get(0).expect("input").since().unpack();
    assert_eq!(since, 1_000, "absolute block number since");
    let seller = channel.terms.sign(&refund, &channel.seller);
    assert!(channel.terms.signed_by(&refund, &seller, &channel.terms.seller), "the buyer checks the seller's pre-signature");
    assert!(!channel.terms.signed_by(&refund, &seller, &channel.terms.buyer));
    let buyer = channel.terms.sign(&refund, &channel.buyer);
    let full = channel.terms.with_signatures(&refund, Some(&buyer), Some(&seller));
    channel.context.verify_tx(&full, MAX_CYCLES).expect("the multisig lock accepts the refund");
    let outputs: Vec<u64> = full.outputs().into_iter().map(|o| o.capacity().unpack()).collect();
    assert_eq!(outputs, vec![61 * CKB, 1_061 * CKB - 1_000], "each side gets back what it put in, the buyer less the fee");
}

/// Rebuilds `tx` with `edit` applied, keeping its witnesses.
fn edited(tx: &TransactionView, edit: impl FnOnce(ckb_types::core::TransactionBuilder) -> ckb_types::core::TransactionBuilder) -> TransactionView {
    edit(tx.as_advanced_builder()).build()
}

fn output(capacity: u64, lock: ckb_types::packed::Script) -> CellOutput {
    CellOutput::new_builder().capacity(capacity).lock(lock).build()
}

#[test]
fn forged_commitments_are_refused_by_tollway_and_by_the_scripts() {
    let mut channel = open();
    // Another channel between the same two keys: its cell has the same lock.
    let other_cell = OutPoint::new(channel.terms.cell.tx_hash(), 7);
    let same_lock = channel.context.get_cell(&channel.terms.cell).expect("channel cell").0;
    channel.context.create_cell_with_out_point(other_cell.clone(), same_lock, Bytes::new());
    let channel = channel;
    let (terms, scripts) = (&channel.terms, &channel.scripts);
    let honest = channel.pay(10 * CKB);
    let seller_lock = scripts.sighash.script(&KeyId::of(&terms.seller).0);
    let buyer_lock = scripts.sighash.script(&KeyId::of(&terms.buyer).0);
    let stranger = TestAccount::nth(3).key;
    let outputs = |seller: u64, buyer: u64| vec![output(seller, seller_lock.clone()), output(buyer, buyer_lock.clone())];
    let forgeries: Vec<(&str, TransactionView)> = vec![
        ("commitment_wrong_signer", {
            let tx = terms.commitment(scripts, 10 * CKB).expect("commitment");
            terms.with_signatures(&tx, Some(&terms.sign(&tx, &stranger)), None)
        }),
        // More to the seller, the same fee: the buyer never signed this.
        ("commitment_wrong_signer", edited(&honest, |b| b.set_outputs(outputs(81 * CKB, 1_041 * CKB - 1_000)))),
        (
            "commitment_outputs_changed",
            edited(&honest, |b| {
                b.set_outputs(vec![output(71 * CKB, scripts.sighash.script(&stranger.id().0)), output(1_051 * CKB - 1_000, buyer_lock.clone())])
            }),
        ),
        ("commitment_fee_changed", edited(&honest, |b| b.set_outputs(outputs(71 * CKB, 1_051 * CKB - 100_000)))),
        ("commitment_since_changed", edited(&honest, |b| b.set_inputs(vec![CellInput::new(terms.cell.clone(), 0x4000_0000_0000_0001)]))),
        ("commitment_wrong_channel", edited(&honest, |b| b.set_inputs(vec![CellInput::new(other_cell.clone(), 0)]))),
    ];
    for (code, forged) in forgeries {
        let refused = terms.check_commitment(scripts, &forged).expect_err(code);
        assert_eq!(refused.code(), code, "{refused}");
        // A seller fooled into completing it gets nothing from the chain either.
        let completed = channel.settle(&forged);
        assert_lock_refuses(&channel.context, &completed, ERROR_VERIFICATION, code);
    }
}

#[test]
fn the_seller_s_reclaim_of_its_offered_cells_unlocks_under_the_sighash_script() {
    let (mut context, scripts) = context();
    let seller = TestAccount::nth(2).key;
    let cells = vec![plain_cell(&mut context, &scripts, &seller, 61 * CKB), plain_cell(&mut context, &scripts, &seller, 300 * CKB)];
    let tx = reclaim(&scripts, &seller, &cells, MIN_FEE_RATE).expect("reclaim");
    context.verify_tx(&tx, MAX_CYCLES).expect("the seller's signature unlocks its cells");
    // Signed by another key, the sighash lock refuses it.
    let forged = reclaim(&scripts, &TestAccount::nth(3).key, &cells, MIN_FEE_RATE).expect("reclaim");
    let error = context.verify_tx(&forged, MAX_CYCLES).expect_err("another key").to_string();
    assert!(error.contains("source: Inputs[0].Lock") && error.contains("error code -31 "), "{error}");
}
