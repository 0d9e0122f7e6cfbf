//! The shared CKB hub vector (docs/vectors/ckb-hub.json): the browser
//! app's TypeScript (web/src/lib/ckb/hub.test.ts) builds the same hub
//! payment from the same cells and signs the sender's input group, so the
//! transaction the page reviews and signs is byte for byte the one the
//! hub prepared. With `TOLLWAY_WRITE_VECTOR=1` the file is (re)written
//! instead of checked.

use ckb_types::packed::OutPoint;
use ckb_types::prelude::*;
use serde_json::{json, Value};
use tollway_chain::ckb::hub::{sign_sender, HubPaymentPlan, LiveCell};
use tollway_chain::ckb::spilman::out_point_text;
use tollway_core::channel::PayerKey;
use tollway_core::ckb::{SighashArgs, CKB, MIN_FEE_RATE};

mod ckb_support;
use ckb_support::{hex_of, vector_scripts, write_or_check_vector};

fn built() -> Value {
    let sender = PayerKey::from_bytes([0x11; 32]).expect("sender key");
    let hub = PayerKey::from_bytes([0x22; 32]).expect("hub key");
    let scripts = vector_scripts();
    let cell = |byte: u8, index: u32, capacity: u64| LiveCell { out_point: OutPoint::new([byte; 32].pack(), index), capacity };
    let plan = HubPaymentPlan {
        sender: SighashArgs(sender.id().0),
        sender_cells: vec![cell(0x55, 0, 70 * CKB), cell(0x56, 3, 80 * CKB + 12_345)],
        hub: SighashArgs(hub.id().0),
        pool_cell: cell(0x66, 1, 100 * CKB),
        amount: 5 * CKB,
        fee_rate: MIN_FEE_RATE,
    };
    let prepared = plan.build(&scripts).expect("payment");
    let signed = sign_sender(&prepared.tx, prepared.hub_input(), &sender);
    let cells = |list: &[LiveCell]| {
        list.iter().map(|c| json!({"out_point": out_point_text(&c.out_point), "capacity": c.capacity.to_string()})).collect::<Vec<_>>()
    };
    json!({
        "about": "The CKB hub payment vector: built by crates/chain/tests/ckb_hub_vector.rs (Rust) and checked by web/src/lib/ckb/hub.test.ts (TypeScript). Amounts in shannons.",
        "sender_secret": hex_of(&[0x11; 32]),
        "hub_secret": hex_of(&[0x22; 32]),
        "sender_lock_args": plan.sender.to_hex(),
        "hub_lock_args": plan.hub.to_hex(),
        "sighash": {"code_hash": tollway_chain::ckb::SIGHASH_TYPE_HASH, "dep": format!("{}:1", hex_of(&[0x33; 32]))},
        "sender_cells": cells(&plan.sender_cells),
        "pool_cell": {"out_point": out_point_text(&plan.pool_cell.out_point), "capacity": plan.pool_cell.capacity.to_string()},
        "amount": plan.amount.to_string(),
        "fee_rate": MIN_FEE_RATE.to_string(),
        "fee": prepared.fee.to_string(),
        "change": prepared.change.to_string(),
        "hub_input": prepared.hub_input(),
        "prepared_tx": hex_of(prepared.tx.data().as_slice()),
        "tx_hash": hex_of(prepared.tx.hash().raw_data().as_ref()),
        "sender_signed_tx": hex_of(signed.data().as_slice()),
    })
}

#[test]
fn rust_builds_and_signs_the_shared_hub_vector() {
    write_or_check_vector("ckb-hub.json", &built());
}
