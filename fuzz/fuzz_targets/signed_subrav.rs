//! Decodes arbitrary bytes as a signed SubRAV; whatever decodes must
//! encode back to the same bytes and be checkable against a channel
//! without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use tollway_core::channel::{Channel, ChannelId, PayerKey, SignedSubRav, SubChannel};
use tollway_core::Amount;

fn channel() -> &'static Channel {
    static CHANNEL: OnceLock<Channel> = OnceLock::new();
    CHANNEL.get_or_init(|| {
        let payer = PayerKey::from_bytes([1; 32]).expect("valid key");
        let sub = SubChannel { key: payer.public(), nonce: 3, accumulated: Amount::new(500), pending: None };
        Channel {
            chain_id: 1,
            id: ChannelId([0; 32]),
            epoch: 0,
            collateral: Amount::new(1_000),
            open: true,
            subs: BTreeMap::from([(payer.id(), sub)]),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(signed) = SignedSubRav::decode(data) {
        assert_eq!(&signed.encode()[..], data);
        let _ = channel().check(&signed);
    }
});
