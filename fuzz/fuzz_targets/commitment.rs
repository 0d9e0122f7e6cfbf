//! Decodes arbitrary bytes as the commitment of a receipt on a CKB
//! channel (`POST /api/channels/{id}/receipts`, `commitment`: a molecule
//! serialized transaction) and checks it against the channel's terms as
//! the payee does: nothing may panic, and a commitment accepted pays at
//! most what the channel can, is the canonical commitment for what it
//! pays (the same transaction hash and the same bytes, the buyer's
//! signature in its witness) and carries the buyer's signature over it.
#![no_main]

#[path = "fixtures.rs"]
mod fixtures;

use ckb_types::packed::Transaction;
use ckb_types::prelude::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(tx) = Transaction::from_slice(data) else { return };
    let tx = tx.into_view();
    let (terms, scripts) = (fixtures::terms(), fixtures::lock_scripts());
    if let Ok(checked) = terms.check_commitment(scripts, &tx) {
        assert!(checked.cumulative <= terms.funds.max_payment());
        let canonical = terms.commitment(scripts, checked.cumulative).expect("an accepted amount has a commitment");
        assert_eq!(canonical.hash(), tx.hash());
        assert!(terms.signed_by(&canonical, &checked.buyer_signature, &terms.buyer));
        // Not even the encoding differs: the payee may keep the bytes as sent.
        let half_signed = terms.with_signatures(&canonical, Some(&checked.buyer_signature), None);
        assert_eq!(half_signed.data().as_slice(), data);
    }
});
