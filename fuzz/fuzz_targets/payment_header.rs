//! Decodes arbitrary bytes as the `X-Tollway-Channel` request header
//! (`PaymentData`, what a payer sends with a paid request): whatever
//! decodes must encode to a header that decodes to the same value, and its
//! receipt, if any, must be checkable against a channel without panicking.
#![no_main]

#[path = "fixtures.rs"]
mod fixtures;

use libfuzzer_sys::fuzz_target;
use tollway_core::channel::wire::{decode_header, encode_header, PaymentData};

fuzz_target!(|data: &[u8]| {
    if let Ok(payment) = decode_header::<PaymentData>(data) {
        let header = encode_header(&payment);
        assert_eq!(decode_header::<PaymentData>(header.as_bytes()).as_ref(), Ok(&payment));
        if let Some(receipt) = &payment.receipt {
            let _ = fixtures::channel().check(receipt);
        }
    }
});
