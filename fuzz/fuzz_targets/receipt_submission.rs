//! Decodes arbitrary bytes as a receipt submission's body
//! (`POST /api/channels/{id}/receipts`): whatever decodes must serialise to
//! JSON that decodes to the same value, and go through the payee's checks
//! without panicking; a receipt accepted once is a replay afterwards and
//! keeps the channel within its collateral.
#![no_main]

#[path = "fixtures.rs"]
mod fixtures;

use libfuzzer_sys::fuzz_target;
use tollway_core::channel::wire::{decode_json, ReceiptSubmission};
use tollway_core::channel::Verdict;

fuzz_target!(|data: &[u8]| {
    if let Ok(submission) = decode_json::<ReceiptSubmission>(data) {
        let json = serde_json::to_vec(&submission).expect("a submission serialises");
        assert_eq!(decode_json::<ReceiptSubmission>(&json).as_ref(), Ok(&submission));
        let channel = fixtures::channel();
        if let Ok(Verdict::Accepted(accepted)) = channel.check(&submission.receipt) {
            let mut after = channel.clone();
            after.apply(&accepted);
            assert!(after.total_owed() <= after.collateral);
            assert_eq!(after.check(&submission.receipt), Ok(Verdict::Replay));
        }
    }
});
