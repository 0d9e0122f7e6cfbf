//! Decodes arbitrary bytes as a signed SubRAV; whatever decodes must
//! encode back to the same bytes and be checkable against a channel
//! without panicking.
#![no_main]

#[path = "fixtures.rs"]
mod fixtures;

use libfuzzer_sys::fuzz_target;
use tollway_core::channel::SignedSubRav;

fuzz_target!(|data: &[u8]| {
    if let Ok(signed) = SignedSubRav::decode(data) {
        assert_eq!(&signed.encode()[..], data);
        let _ = fixtures::channel().check(&signed);
    }
});
