//! What the CKB benchmarks share: the devnet test accounts as buyer and
//! seller, the system locks as a chain from CKB's bundled specs has them,
//! and the commitment fee.

use ckb_types::core::{DepType, ScriptHashType, TransactionView};
use ckb_types::packed::{Byte32, CellDep, OutPoint};
use ckb_types::prelude::*;
use tollway_chain::ckb::scripts::{LockScripts, ScriptRef, MULTISIG_TYPE_HASH};
use tollway_chain::ckb::spilman::{ChannelTerms, LiveCell};
use tollway_chain::ckb::{TestAccount, SIGHASH_TYPE_HASH};
use tollway_core::channel::{ckb_hash, PayerKey};
use tollway_core::ckb::{fee_for_size, occupied_capacity, ChannelFunds, Shannons, Since, CKB, MIN_FEE_RATE};

/// The transaction holding the dep groups (output 0: the sighash lock's,
/// output 1: the multisig lock's). A stand-in hash: a cell dep's size does
/// not depend on it; on a chain, `Rpc::lock_scripts` reads the genesis's.
pub const DEP_GROUP_TX: &str = "0xdddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";
/// The refund's absolute block number (its size does not depend on it).
pub const EXPIRY_BLOCK: u64 = 20_000_000;
/// The buyer's and the seller's keys (devnet test accounts 1 and 2).
pub struct Keys {
    /// The payer.
    pub buyer: PayerKey,
    /// The payee.
    pub seller: PayerKey,
}

impl Keys {
    /// Test accounts 1 (buyer) and 2 (seller).
    pub fn test_accounts() -> Keys {
        Keys { buyer: TestAccount::nth(1).key, seller: TestAccount::nth(2).key }
    }
}

pub fn byte32(text: &str) -> anyhow::Result<Byte32> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim_start_matches("0x"), &mut bytes)?;
    Ok(bytes.pack())
}

/// The system locks as a chain made from CKB's bundled specs has them:
/// code hashes of hash type `type`, one dep-group cell dep each.
pub fn chain_locks() -> anyhow::Result<LockScripts> {
    let group = byte32(DEP_GROUP_TX)?;
    let lock = |code_hash: &str, index: u32| -> anyhow::Result<ScriptRef> {
        let dep = CellDep::new_builder().out_point(OutPoint::new(group.clone(), index)).dep_type(DepType::DepGroup).build();
        Ok(ScriptRef { code_hash: byte32(code_hash)?, hash_type: ScriptHashType::Type, cell_deps: vec![dep] })
    };
    Ok(LockScripts { sighash: lock(SIGHASH_TYPE_HASH, 0)?, multisig: lock(MULTISIG_TYPE_HASH, 1)? })
}

/// A plain (sighash) cell's minimum capacity: 61 CKB.
pub fn plain_cell() -> anyhow::Result<Shannons> {
    occupied_capacity(20, None, 0).ok_or_else(|| anyhow::anyhow!("capacity overflow"))
}

/// A made-up live cell of `capacity` (its outpoint named after `label`).
pub fn live_cell(label: &str, capacity: Shannons) -> LiveCell {
    LiveCell { out_point: OutPoint::new(ckb_hash(&[b"tollway-bench-ckb:", label.as_bytes()]).pack(), 0), capacity }
}

/// The serialized size of `tx`, bytes.
pub fn size(tx: &TransactionView) -> u64 {
    tx.data().as_slice().len() as u64
}

/// The fee a fully signed commitment needs at the minimum fee rate: its
/// size depends on neither the amounts nor the keys (as the seller's
/// server computes it).
pub fn commitment_fee(scripts: &LockScripts, keys: &Keys) -> anyhow::Result<Shannons> {
    let terms = ChannelTerms {
        buyer: keys.buyer.public(),
        seller: keys.seller.public(),
        funds: ChannelFunds { buyer_deposit: 1_000 * CKB, seller_cofund: plain_cell()?, fee: 0 },
        expiry: Since::AbsoluteBlock(EXPIRY_BLOCK),
        cell: live_cell("fee template", 0).out_point,
    };
    let tx = terms.commitment(scripts, 0)?;
    let signed = terms.with_signatures(&tx, Some(&terms.sign(&tx, &keys.buyer)), Some(&terms.sign(&tx, &keys.seller)));
    fee_for_size(size(&signed), MIN_FEE_RATE).ok_or_else(|| anyhow::anyhow!("fee overflow"))
}
