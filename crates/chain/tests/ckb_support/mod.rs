//! Shared by the CKB tests that need no node: the shared vectors
//! (`ckb_*_vector.rs`, checked by the browser app's TypeScript against the
//! same file) and the in-process runs of the real system lock scripts
//! under ckb-testtool (`ckb_hub_tx.rs`, `spilman_inprocess.rs`).
#![allow(dead_code)]

use ckb_testtool::context::Context;
use ckb_types::bytes::Bytes;
use ckb_types::core::{DepType, ScriptHashType};
use ckb_types::packed::{CellDep, CellOutput, OutPoint};
use ckb_types::prelude::*;
use serde_json::Value;
use tollway_chain::ckb::scripts::{LockScripts, ScriptRef, MULTISIG_TYPE_HASH};
use tollway_chain::ckb::spilman::LiveCell;
use tollway_chain::ckb::SIGHASH_TYPE_HASH;
use tollway_core::channel::PayerKey;

/// The cycle limit the in-process runs verify under.
pub const MAX_CYCLES: u64 = 70_000_000;

/// `bytes` as `0x` hex.
pub fn hex_of(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// The system locks as a vector names them: the real type hashes, with
/// made-up dep groups (`0x33…:1` for sighash, `0x44…:1` for multisig).
pub fn vector_scripts() -> LockScripts {
    let script_ref = |code_hash: &str, dep_byte: u8| {
        let mut hash = [0u8; 32];
        hex::decode_to_slice(code_hash.trim_start_matches("0x"), &mut hash).expect("hash");
        let dep = CellDep::new_builder().out_point(OutPoint::new([dep_byte; 32].pack(), 1)).dep_type(DepType::DepGroup).build();
        ScriptRef { code_hash: hash.pack(), hash_type: ScriptHashType::Type, cell_deps: vec![dep] }
    };
    LockScripts { sighash: script_ref(SIGHASH_TYPE_HASH, 0x33), multisig: script_ref(MULTISIG_TYPE_HASH, 0x44) }
}

/// Checks that the vector file `name` (under docs/vectors) holds exactly
/// `built`; with `TOLLWAY_WRITE_VECTOR=1` it is (re)written first.
pub fn write_or_check_vector(name: &str, built: &Value) {
    let path = format!("{}/../../docs/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var("TOLLWAY_WRITE_VECTOR").is_ok() {
        std::fs::write(&path, serde_json::to_string_pretty(built).expect("json") + "\n").expect("write the vector");
    }
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).expect("JSON");
    assert_eq!(&kept, built, "docs/vectors/{name} is what Rust builds (TOLLWAY_WRITE_VECTOR=1 rewrites it)");
}

/// A system script's binary from `ckb-system-scripts` 0.6.0.
pub fn bundled(name: &str) -> Bytes {
    let path = format!("specs/cells/{name}");
    Bytes::from(ckb_system_scripts::BUNDLED_CELL.get(&path).unwrap_or_else(|e| panic!("{path}: {e}")).into_owned())
}

/// A context with the system locks deployed, and the scripts pointing at them.
pub fn context() -> (Context, LockScripts) {
    let mut context = Context::default();
    let data = context.deploy_cell(bundled("secp256k1_data"));
    let code_dep = |point: OutPoint| CellDep::new_builder().out_point(point).dep_type(DepType::Code).build();
    let mut script = |name: &str| {
        let binary = bundled(name);
        let point = context.deploy_cell(binary.clone());
        ScriptRef {
            code_hash: CellOutput::calc_data_hash(&binary),
            hash_type: ScriptHashType::Data1,
            cell_deps: vec![code_dep(point), code_dep(data.clone())],
        }
    };
    let scripts = LockScripts { sighash: script("secp256k1_blake160_sighash_all"), multisig: script("secp256k1_blake160_multisig_all") };
    (context, scripts)
}

/// A live cell of `capacity` locked by `key`'s sighash lock, in `context`.
pub fn plain_cell(context: &mut Context, scripts: &LockScripts, key: &PayerKey, capacity: u64) -> LiveCell {
    let output = CellOutput::new_builder().capacity(capacity).lock(scripts.sighash.script(&key.id().0)).build();
    LiveCell { out_point: context.create_cell(output, Bytes::new()), capacity }
}
