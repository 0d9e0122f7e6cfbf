//! The fixed state the targets check decoded payment data against (shared
//! by the targets and by `examples/write_seeds.rs`, which signs the seed
//! receipts and commitments with the same keys): the payee's channel, and
//! the payer's latest signed receipt and limits on it; a CKB channel's
//! terms and lock scripts.
#![allow(dead_code)]

use ckb_types::core::{DepType, ScriptHashType};
use ckb_types::packed::{CellDep, OutPoint};
use ckb_types::prelude::*;
use ckb_types::H256;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::OnceLock;
use tollway_chain::ckb::scripts::{LockScripts, ScriptRef, MULTISIG_TYPE_HASH};
use tollway_chain::ckb::spilman::ChannelTerms;
use tollway_chain::ckb::SIGHASH_TYPE_HASH;
use tollway_core::channel::{Channel, ChannelId, PayerKey, PayerLimits, SubChannel, SubRav, SUBRAV_VERSION};
use tollway_core::ckb::{ChannelFunds, Since, CKB};
use tollway_core::Amount;

/// The payer's key (its sub-channel is the channel's only one).
pub fn payer() -> &'static PayerKey {
    static KEY: OnceLock<PayerKey> = OnceLock::new();
    KEY.get_or_init(|| PayerKey::from_bytes([1; 32]).expect("valid key"))
}

/// The payee's view: chain 1, channel 0x00…, epoch 0, collateral 1000;
/// the payer's sub-channel has accepted nonce 3 for 500.
pub fn channel() -> &'static Channel {
    static CHANNEL: OnceLock<Channel> = OnceLock::new();
    CHANNEL.get_or_init(|| {
        let sub = SubChannel { key: payer().public(), nonce: 3, accumulated: Amount::new(500), pending: None };
        Channel {
            chain_id: 1,
            id: ChannelId([0; 32]),
            epoch: 0,
            collateral: Amount::new(1_000),
            open: true,
            subs: BTreeMap::from([(payer().id(), sub)]),
        }
    })
}

/// The payer's latest signed receipt on that sub-channel (nonce 3, 500).
pub fn last_receipt() -> SubRav {
    SubRav {
        version: SUBRAV_VERSION,
        chain_id: 1,
        channel_id: ChannelId([0; 32]),
        epoch: 0,
        sub_channel: payer().id(),
        nonce: 3,
        accumulated: Amount::new(500),
    }
}

/// The payer's limits: at most 100 per request, 60 for what it received,
/// 1000 in all.
pub fn limits() -> PayerLimits {
    PayerLimits { max_amount: Amount::new(100), entitled: Amount::new(60), budget: Amount::new(1_000) }
}

/// The same sub-channel at the edge of the integers: the next nonce would
/// overflow, and the limits are as large as they go.
pub fn edge_receipt() -> SubRav {
    SubRav { nonce: u64::MAX, accumulated: Amount::new(u128::MAX - 1), ..last_receipt() }
}

/// Limits that never bind.
pub fn edge_limits() -> PayerLimits {
    PayerLimits { max_amount: Amount::MAX, entitled: Amount::MAX, budget: Amount::MAX }
}

/// The seller's key on the CKB channel (the buyer is [`payer`]).
pub fn seller() -> &'static PayerKey {
    static KEY: OnceLock<PayerKey> = OnceLock::new();
    KEY.get_or_init(|| PayerKey::from_bytes([2; 32]).expect("valid key"))
}

/// The system locks as a genesis made from CKB's bundled specs names
/// them: by type hash, each brought in by one dep group (at a made-up
/// out point: the check compares, it does not load).
pub fn lock_scripts() -> &'static LockScripts {
    static SCRIPTS: OnceLock<LockScripts> = OnceLock::new();
    SCRIPTS.get_or_init(|| {
        let script = |type_hash: &str, index: u32| {
            let code_hash = H256::from_str(type_hash.trim_start_matches("0x")).expect("a 32-byte hex constant");
            let dep = CellDep::new_builder().out_point(OutPoint::new([9u8; 32].pack(), index)).dep_type(DepType::DepGroup).build();
            ScriptRef { code_hash: code_hash.pack(), hash_type: ScriptHashType::Type, cell_deps: vec![dep] }
        };
        LockScripts { sighash: script(SIGHASH_TYPE_HASH, 0), multisig: script(MULTISIG_TYPE_HASH, 1) }
    })
}

/// The CKB channel's money: 1,061 CKB from the buyer, 61 from the
/// seller, a 1,000-shannon fee per closing.
pub fn ckb_funds() -> ChannelFunds {
    ChannelFunds { buyer_deposit: 1_061 * CKB, seller_cofund: 61 * CKB, fee: 1_000 }
}

/// The CKB channel's terms: [`payer`] buys from [`seller`], refund from
/// block 1,000, the channel cell at `0x0707…07:0`.
pub fn terms() -> &'static ChannelTerms {
    static TERMS: OnceLock<ChannelTerms> = OnceLock::new();
    TERMS.get_or_init(|| ChannelTerms {
        buyer: payer().public(),
        seller: seller().public(),
        funds: ckb_funds(),
        expiry: Since::AbsoluteBlock(1_000),
        cell: OutPoint::new([7u8; 32].pack(), 0),
    })
}
