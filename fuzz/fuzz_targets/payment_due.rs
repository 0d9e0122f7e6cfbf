//! Decodes arbitrary bytes as what a payee asks to be signed (`PaymentDue`,
//! the payer's decoders of a response header and of a chunk's or pause
//! event's JSON): whatever decodes must encode back to the same value, and
//! the payer's review of its proposal must never panic nor approve anything
//! outside the payer's limits.
#![no_main]

#[path = "fixtures.rs"]
mod fixtures;

use libfuzzer_sys::fuzz_target;
use tollway_core::channel::wire::{decode_header, decode_json, encode_header, PaymentDue};
use tollway_core::channel::{review, PayerLimits, SubRav};

fn review_within_limits(last: &SubRav, limits: &PayerLimits, due: &PaymentDue) {
    let proposal = &due.proposal;
    if let Ok(delta) = review(last, limits, proposal) {
        assert_eq!(
            (proposal.version, proposal.chain_id, proposal.channel_id, proposal.epoch, proposal.sub_channel),
            (last.version, last.chain_id, last.channel_id, last.epoch, last.sub_channel),
        );
        assert!(delta <= limits.max_amount && delta <= limits.entitled);
        assert_eq!(last.accumulated.checked_add(delta), Ok(proposal.accumulated));
        if delta.is_zero() && proposal.nonce == last.nonce {
            // The last receipt proposed again: re-signing it costs nothing.
            assert_eq!(proposal, last);
        } else {
            assert!(proposal.nonce > last.nonce && proposal.nonce - last.nonce <= tollway_core::channel::MAX_NONCE_GAP);
            assert!(proposal.accumulated <= limits.budget);
        }
    }
}

fn review_both(due: &PaymentDue) {
    review_within_limits(&fixtures::last_receipt(), &fixtures::limits(), due);
    review_within_limits(&fixtures::edge_receipt(), &fixtures::edge_limits(), due);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(due) = decode_header::<PaymentDue>(data) {
        let header = encode_header(&due);
        assert_eq!(decode_header::<PaymentDue>(header.as_bytes()).as_ref(), Ok(&due));
        review_both(&due);
    }
    if let Ok(due) = decode_json::<PaymentDue>(data) {
        let json = serde_json::to_vec(&due).expect("a PaymentDue serialises");
        assert_eq!(decode_json::<PaymentDue>(&json).as_ref(), Ok(&due));
        review_both(&due);
    }
});
