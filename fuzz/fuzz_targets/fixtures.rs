//! The fixed state the targets check decoded payment data against (shared
//! by the targets and by `examples/write_seeds.rs`, which signs the seed
//! receipts with the same key): the payee's channel, and the payer's
//! latest signed receipt and limits on it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::OnceLock;
use tollway_core::channel::{Channel, ChannelId, PayerKey, PayerLimits, SubChannel, SubRav, SUBRAV_VERSION};
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

/// The payer's limits: at most 100 per request, 1000 in all.
pub fn limits() -> PayerLimits {
    PayerLimits { max_amount: Amount::new(100), budget: Amount::new(1_000) }
}

/// The same sub-channel at the edge of the integers: the next nonce would
/// overflow, and the limits are as large as they go.
pub fn edge_receipt() -> SubRav {
    SubRav { nonce: u64::MAX, accumulated: Amount::new(u128::MAX - 1), ..last_receipt() }
}

/// Limits that never bind.
pub fn edge_limits() -> PayerLimits {
    PayerLimits { max_amount: Amount::MAX, budget: Amount::MAX }
}
