//! The shared CKB Spilman vector (docs/vectors/ckb-spilman.json): the
//! browser app's TypeScript (web/src/lib/ckb/spilman.test.ts) builds and
//! signs the same funding, refund and commitment from the same terms, so
//! a funding signed in the browser and a commitment it attaches to a
//! receipt are the bytes the Rust buyer would send. With
//! `TOLLWAY_WRITE_VECTOR=1` the file is (re)written instead of checked.

use ckb_types::packed::OutPoint;
use ckb_types::prelude::*;
use serde_json::{json, Value};
use tollway_chain::ckb::spilman::{input_indices, out_point_text, sign_inputs, ChannelTerms, FundingPlan, LiveCell};
use tollway_core::channel::wire::public_key_hex;
use tollway_core::channel::PayerKey;
use tollway_core::ckb::{ChannelFunds, Since, CKB, MIN_FEE_RATE};

mod ckb_support;
use ckb_support::{hex_of, vector_scripts, write_or_check_vector};

fn built() -> Value {
    let buyer = PayerKey::from_bytes([0x11; 32]).expect("buyer key");
    let seller = PayerKey::from_bytes([0x22; 32]).expect("seller key");
    let scripts = vector_scripts();
    let cell = |byte: u8, index: u32, capacity: u64| LiveCell { out_point: OutPoint::new([byte; 32].pack(), index), capacity };
    let funds = ChannelFunds { buyer_deposit: 1_061 * CKB, seller_cofund: 61 * CKB, fee: 1_000 };
    let plan = FundingPlan {
        buyer: buyer.public(),
        seller: seller.public(),
        funds,
        buyer_cells: vec![cell(0x55, 0, 700 * CKB), cell(0x56, 3, 600 * CKB)],
        seller_cells: vec![cell(0x66, 2, 161 * CKB)],
        fee_rate: MIN_FEE_RATE,
    };
    let unsigned = plan.build(&scripts).expect("funding");
    let channel_cell = plan.check(&scripts, &unsigned).expect("the seller's check");
    let signed = sign_inputs(&unsigned, &input_indices(&unsigned, &plan.buyer_cells), &buyer);
    let terms =
        ChannelTerms { buyer: buyer.public(), seller: seller.public(), funds, expiry: Since::AbsoluteBlock(12_345), cell: channel_cell.clone() };
    let refund = terms.refund(&scripts).expect("refund");
    let seller_refund_signature = terms.sign(&refund, &seller);
    let cumulative = 123_456_789u64;
    let commitment = terms.commitment(&scripts, cumulative).expect("commitment");
    let half = terms.with_signatures(&commitment, Some(&terms.sign(&commitment, &buyer)), None);
    let hash_of = |tx: &ckb_types::core::TransactionView| hex_of(tx.hash().raw_data().as_ref());
    json!({
        "about": "The CKB Spilman vector: built by crates/chain/tests/ckb_spilman_vector.rs (Rust) and checked by web/src/lib/ckb/spilman.test.ts (TypeScript). Amounts in shannons.",
        "buyer_secret": hex_of(&[0x11; 32]),
        "seller_secret": hex_of(&[0x22; 32]),
        "buyer_key": public_key_hex(&buyer.public()),
        "seller_key": public_key_hex(&seller.public()),
        "sighash": {"code_hash": tollway_chain::ckb::SIGHASH_TYPE_HASH, "dep": format!("{}:1", hex_of(&[0x33; 32]))},
        "multisig": {"code_hash": tollway_chain::ckb::scripts::MULTISIG_TYPE_HASH, "dep": format!("{}:1", hex_of(&[0x44; 32]))},
        "funds": {"buyer_deposit": funds.buyer_deposit.to_string(), "seller_cofund": funds.seller_cofund.to_string(), "fee": funds.fee.to_string()},
        "buyer_cells": plan.buyer_cells.iter().map(|c| json!({"out_point": out_point_text(&c.out_point), "capacity": c.capacity.to_string()})).collect::<Vec<_>>(),
        "seller_cells": plan.seller_cells.iter().map(|c| json!({"out_point": out_point_text(&c.out_point), "capacity": c.capacity.to_string()})).collect::<Vec<_>>(),
        "fee_rate": MIN_FEE_RATE.to_string(),
        "funding_fee": plan.fee(&unsigned).expect("fee").to_string(),
        "funding_unsigned": hex_of(unsigned.data().as_slice()),
        "funding_hash": hash_of(&unsigned),
        "funding_signed": hex_of(signed.data().as_slice()),
        "channel_cell": out_point_text(&channel_cell),
        "expiry_block": "12345",
        "refund_unsigned": hex_of(refund.data().as_slice()),
        "refund_hash": hash_of(&refund),
        "refund_message": hex_of(&terms.message(&refund)),
        "seller_refund_signature": hex_of(&seller_refund_signature),
        "cumulative": cumulative.to_string(),
        "commitment_hash": hash_of(&commitment),
        "commitment_half_signed": hex_of(half.data().as_slice()),
    })
}

#[test]
fn rust_builds_and_signs_the_shared_ckb_vector() {
    write_or_check_vector("ckb-spilman.json", &built());
}
