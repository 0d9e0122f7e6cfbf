//! Payment-channel rules without I/O: adversarial payers against the
//! payee's checks, adversarial payees against the payer's review, and
//! random honest sessions.

use proptest::prelude::*;
use std::collections::BTreeMap;
use tollway_core::channel::*;
use tollway_core::Amount;

const CHAIN: u64 = 7;

fn key(byte: u8) -> PayerKey {
    PayerKey::from_bytes([byte; 32]).expect("valid key")
}

/// A channel of collateral 1,000 with one sub-channel for `payer`.
fn channel(payer: &PayerKey) -> Channel {
    let sub = SubChannel { key: payer.public(), nonce: 0, accumulated: Amount::ZERO, pending: None };
    Channel { chain_id: CHAIN, id: ChannelId([1; 32]), epoch: 3, collateral: Amount::new(1_000), open: true, subs: BTreeMap::from([(payer.id(), sub)]) }
}

fn rav(payer: &PayerKey, nonce: u64, amount: u128) -> SubRav {
    SubRav { version: 1, chain_id: CHAIN, channel_id: ChannelId([1; 32]), epoch: 3, sub_channel: payer.id(), nonce, accumulated: Amount::new(amount) }
}

fn accept(ch: &mut Channel, signed: &SignedSubRav) -> Verdict {
    let verdict = ch.check(signed).expect("accepted");
    if let Verdict::Accepted(a) = &verdict {
        ch.apply(a);
    }
    verdict
}

#[test]
fn adversarial_payer_receipts_are_refused_with_their_codes_and_change_nothing() {
    let payer = key(1);
    let mut ch = channel(&payer);
    let first = accept(&mut ch, &rav(&payer, 5, 300).sign(&payer));
    assert_eq!(first, Verdict::Accepted(Accepted { sub_channel: payer.id(), nonce: 5, accumulated: Amount::new(300), delta: Amount::new(300) }));
    assert_eq!(ch.check(&rav(&payer, 5, 300).sign(&payer)), Ok(Verdict::Replay), "the same receipt again is a no-op");
    let before = ch.clone();
    let other_channel = SubRav { channel_id: ChannelId([2; 32]), ..rav(&payer, 6, 400) };
    let other_epoch = SubRav { epoch: 2, ..rav(&payer, 6, 400) };
    let other_chain = SubRav { chain_id: 8, ..rav(&payer, 6, 400) };
    let stranger = key(9);
    let cases: Vec<(SignedSubRav, ReceiptError)> = vec![
        (rav(&payer, 5, 400).sign(&payer), ReceiptError::NonceReused),
        (rav(&payer, 4, 400).sign(&payer), ReceiptError::NonceStale),
        (rav(&payer, 6, 299).sign(&payer), ReceiptError::AmountDecreased),
        (rav(&payer, 6, 400).sign(&key(2)), ReceiptError::BadSignature),
        (SubRav { sub_channel: stranger.id(), ..rav(&payer, 6, 400) }.sign(&stranger), ReceiptError::UnknownSubChannel),
        (other_channel.sign(&payer), ReceiptError::UnknownChannel),
        (other_epoch.sign(&payer), ReceiptError::EpochMismatch),
        (other_chain.sign(&payer), ReceiptError::WrongChain),
        (rav(&payer, 6, 1_001).sign(&payer), ReceiptError::ExceedsCollateral),
        (SubRav { version: 2, ..rav(&payer, 6, 400) }.sign(&payer), ReceiptError::UnsupportedVersion),
    ];
    for (signed, want) in cases {
        assert_eq!(ch.check(&signed), Err(want), "{:?}", signed.rav);
        assert_eq!(ch, before, "a refused receipt changes nothing");
    }
    // A receipt signed for one channel replayed on another channel of the same key.
    let mut twin = channel(&payer);
    twin.id = ChannelId([2; 32]);
    assert_eq!(twin.check(&rav(&payer, 6, 400).sign(&payer)), Err(ReceiptError::UnknownChannel));
    let mut garbage = rav(&payer, 6, 400).sign(&payer).encode();
    garbage[100] ^= 0x40;
    let tampered = SignedSubRav::decode(&garbage).expect("still decodes");
    assert_eq!(ch.check(&tampered), Err(ReceiptError::BadSignature));
    assert!(SignedSubRav::decode(b"not a receipt").is_err());
    ch.open = false;
    assert_eq!(ch.check(&rav(&payer, 6, 400).sign(&payer)), Err(ReceiptError::ChannelClosed));
}

#[test]
fn collateral_is_shared_by_all_sub_channels() {
    let (a, b) = (key(1), key(2));
    let mut ch = channel(&a);
    ch.subs.insert(b.id(), SubChannel { key: b.public(), nonce: 0, accumulated: Amount::ZERO, pending: None });
    accept(&mut ch, &rav(&a, 1, 600).sign(&a));
    assert_eq!(ch.check(&rav(&b, 1, 401).sign(&b)), Err(ReceiptError::ExceedsCollateral));
    accept(&mut ch, &rav(&b, 1, 400).sign(&b));
    assert_eq!(ch.total_owed(), Amount::new(1_000));
    assert_eq!(ch.propose(a.id(), Amount::new(1)), Err(ReceiptError::ExceedsCollateral));
}

#[test]
fn proposals_build_on_the_pending_one_and_never_block() {
    let payer = key(1);
    let mut ch = channel(&payer);
    let p1 = ch.propose(payer.id(), Amount::new(10)).expect("proposal");
    assert_eq!((p1.nonce, p1.accumulated), (1, Amount::new(10)));
    ch.subs.get_mut(&payer.id()).expect("sub").pending = Some(p1);
    let p2 = ch.propose(payer.id(), Amount::new(5)).expect("proposal");
    assert_eq!((p2.nonce, p2.accumulated), (2, Amount::new(15)), "an unsigned proposal is replaced (its amount included), with a fresh nonce");
    ch.subs.get_mut(&payer.id()).expect("sub").pending = Some(p2);
    accept(&mut ch, &p2.sign(&payer));
    assert_eq!(ch.subs[&payer.id()].pending, None, "a signed proposal is no longer pending");
    let p3 = ch.propose(payer.id(), Amount::new(1)).expect("proposal");
    assert_eq!((p3.nonce, p3.accumulated), (3, Amount::new(16)));
}

fn limits(max: u128, entitled: u128, budget: u128) -> PayerLimits {
    PayerLimits { max_amount: Amount::new(max), entitled: Amount::new(entitled), budget: Amount::new(budget) }
}

#[test]
fn adversarial_payee_proposals_are_refused_by_the_payer() {
    let payer = key(1);
    let last = rav(&payer, 4, 100);
    let limits = limits(50, 1_000, 200);
    assert_eq!(review(&last, &limits, &rav(&payer, 5, 150)), Ok(Amount::new(50)));
    assert_eq!(review(&last, &limits, &rav(&payer, 9, 150)), Ok(Amount::new(50)), "skipping to a newer proposal is fine");
    assert_eq!(review(&last, &limits, &rav(&payer, 4, 100)), Ok(Amount::ZERO), "the last signed one again");
    assert_eq!(review(&last, &limits, &rav(&payer, 4 + MAX_NONCE_GAP, 120)), Ok(Amount::new(20)), "the largest nonce step");
    let cases = [
        (rav(&payer, 5, 151), Refusal::OverMaxAmount { delta: Amount::new(51), max: Amount::new(50) }),
        (rav(&payer, 5, 99), Refusal::AmountDecreased),
        (rav(&payer, 4, 120), Refusal::NonceNotIncreasing),
        (rav(&payer, 3, 120), Refusal::NonceNotIncreasing),
        (rav(&payer, u64::MAX, 120), Refusal::NonceTooFar),
        (rav(&payer, 5 + MAX_NONCE_GAP, 120), Refusal::NonceTooFar),
        (SubRav { chain_id: 8, ..rav(&payer, 5, 120) }, Refusal::WrongChain),
        (SubRav { channel_id: ChannelId([2; 32]), ..rav(&payer, 5, 120) }, Refusal::WrongChannel),
        (SubRav { epoch: 4, ..rav(&payer, 5, 120) }, Refusal::WrongEpoch),
        (SubRav { sub_channel: key(2).id(), ..rav(&payer, 5, 120) }, Refusal::WrongSubChannel),
        (SubRav { version: 9, ..rav(&payer, 5, 120) }, Refusal::UnsupportedVersion),
    ];
    for (proposal, want) in cases {
        assert_eq!(review(&last, &limits, &proposal), Err(want), "{proposal:?}");
    }
    let near = SubRav { accumulated: Amount::new(190), ..last };
    assert_eq!(review(&near, &limits, &rav(&payer, 5, 201)), Err(Refusal::OverBudget { accumulated: Amount::new(201), budget: Amount::new(200) }));
}

/// A price of 1 minor unit per output token and nothing for the prompt.
fn token_price() -> tollway_core::pricing::PriceRule {
    use tollway_core::pricing::{Price, PriceRule};
    let per_token = Price::parse("1000", tollway_core::Asset::POINTS).expect("price");
    PriceRule { model: "m".into(), version: 1, input_per_1k: Price(0), output_per_1k: per_token, effective_from: 0, active: true }
}

/// The payee inflates every proposal by a little, each within the
/// request's `max_amount` and the budget: the payer's entitlement (what it
/// received, at the pinned price, plus the slack) stops it at the first
/// proposal that asks for more than was delivered plus the slack.
#[test]
fn an_inflated_payee_within_max_amount_is_refused_by_what_was_received() {
    let payer = key(1);
    let mut ch = channel(&payer);
    let mut last = rav(&payer, 0, 0);
    let mut entitlement = Entitlement::new(token_price(), 0, 4);
    let mut added = Amount::ZERO;
    let mut refused = None;
    for chunk in 0..20u32 {
        // One byte of content, charged as 3 tokens (2 of them invented).
        entitlement.receive("x");
        let proposal = ch.propose(payer.id(), Amount::new(3)).expect("proposal");
        ch.subs.get_mut(&payer.id()).expect("sub").pending = Some(proposal);
        let limits = PayerLimits { max_amount: Amount::new(500), entitled: entitlement.amount().saturating_sub(added), budget: Amount::new(1_000) };
        match review(&last, &limits, &proposal) {
            Ok(delta) => {
                added = added.checked_add(delta).expect("small");
                last = proposal;
            }
            Err(r) => {
                refused = Some((chunk, r));
                break;
            }
        }
    }
    // Entitled after n chunks: 2n (1 byte + 1 per chunk) + 4 slack; asked: 3n.
    // 3n > 2n + 4 first at n = 5 (chunk index 4).
    assert_eq!(refused, Some((4, Refusal::OverReceived { delta: Amount::new(3), entitled: Amount::new(2) })));
    assert_eq!(added, Amount::new(12), "the payer lost at most the slack to the inflation (12 signed for 8 received)");
    // An honest payee charging 1 token per byte is never refused.
    let mut honest = Entitlement::new(token_price(), 0, 0);
    honest.receive("abc");
    let limits = PayerLimits { max_amount: Amount::new(500), entitled: honest.amount(), budget: Amount::new(1_000) };
    assert_eq!(review(&rav(&payer, 0, 0), &limits, &rav(&payer, 1, 3)), Ok(Amount::new(3)));
}

#[test]
fn a_receipt_that_jumps_the_nonce_is_refused_so_no_one_can_freeze_the_sub_channel() {
    let payer = key(1);
    let mut ch = channel(&payer);
    let before = ch.clone();
    assert_eq!(ch.check(&rav(&payer, u64::MAX, 10).sign(&payer)), Err(ReceiptError::NonceTooFar));
    assert_eq!(ch.check(&rav(&payer, MAX_NONCE_GAP + 1, 10).sign(&payer)), Err(ReceiptError::NonceTooFar));
    assert_eq!(ch, before);
    accept(&mut ch, &rav(&payer, MAX_NONCE_GAP, 10).sign(&payer));
    let next = ch.propose(payer.id(), Amount::new(1)).expect("the sub-channel still takes proposals");
    assert_eq!(next.nonce, MAX_NONCE_GAP + 1);
}

proptest! {
    /// An honest payer and payee over random costs: what the payee holds
    /// signed is the sum of the costs proposed up to the last signed
    /// proposal (counted here from the inputs, not from what review
    /// returned), never above the budget or the collateral, and every
    /// refusal is a limit.
    #[test]
    fn honest_sessions_agree_to_the_unit(costs in proptest::collection::vec(0u128..120, 1..40), max in 1u128..100, budget in 0u128..1_500) {
        let payer = key(1);
        let mut ch = channel(&payer);
        let mut last = rav(&payer, 0, 0);
        let mut proposed_costs = 0u128;
        let mut signed_costs = 0u128;
        for cost in costs {
            let proposal = match ch.propose(payer.id(), Amount::new(cost)) {
                Ok(p) => p,
                Err(e) => { prop_assert_eq!(e, ReceiptError::ExceedsCollateral); continue; }
            };
            ch.subs.get_mut(&payer.id()).expect("sub").pending = Some(proposal);
            proposed_costs += cost;
            let limits = PayerLimits { max_amount: Amount::new(max), entitled: Amount::MAX, budget: Amount::new(budget) };
            match review(&last, &limits, &proposal) {
                Ok(_) => {
                    let bytes = proposal.sign(&payer).encode();
                    if let Verdict::Accepted(a) = ch.check(&SignedSubRav::decode(&bytes).expect("decodes")).expect("an honest receipt is accepted") {
                        ch.apply(&a);
                    }
                    last = proposal;
                    signed_costs = proposed_costs;
                }
                Err(r) => prop_assert!(matches!(r, Refusal::OverMaxAmount { .. } | Refusal::OverBudget { .. }), "{:?}", r),
            }
        }
        prop_assert_eq!(ch.subs[&payer.id()].accumulated, Amount::new(signed_costs));
        prop_assert!(signed_costs <= budget && signed_costs <= 1_000);
    }

    /// Decoding never panics, and whatever decodes encodes back to the same bytes.
    #[test]
    fn decoding_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(s) = SignedSubRav::decode(&bytes) {
            prop_assert_eq!(s.encode().to_vec(), bytes);
        }
    }

    #[test]
    fn encoding_round_trips(chain in any::<u64>(), id in any::<[u8; 32]>(), epoch in any::<u64>(), sub in any::<[u8; 20]>(), nonce in any::<u64>(), amount in any::<u128>()) {
        let rav = SubRav { version: 1, chain_id: chain, channel_id: ChannelId(id), epoch, sub_channel: KeyId(sub), nonce, accumulated: Amount::new(amount) };
        prop_assert_eq!(SubRav::decode(&rav.encode()), Ok(rav));
    }
}
