use super::*;

const DUE: u128 = 1_000;
const EXPIRY: i64 = 10_000;

fn step(s: &Session, e: Event, now: i64) -> Transition {
    apply(s, e, now).expect("applies")
}

#[test]
fn the_happy_path_credits_once() {
    let s = Session::new(DUE, EXPIRY);
    let t = step(&s, Event::Seen { value: DUE, block_time_ms: 5_000 }, 5_000);
    assert_eq!(t.session.status, Status::Confirming);
    assert_eq!(t.effects, vec![Effect::Notify]);
    let t = step(&t.session, Event::Confirmed { value: DUE }, 6_000);
    assert_eq!((t.session.status, t.session.exception), (Status::Paid, None));
    assert_eq!(t.effects, vec![Effect::CreditPoints, Effect::Notify]);
    // A second transfer to a paid session is over-payment, never a second credit.
    let t = step(&t.session, Event::Seen { value: DUE, block_time_ms: 7_000 }, 7_000);
    assert_eq!(t.session.status, Status::Paid);
    let t = step(&t.session, Event::Confirmed { value: DUE }, 8_000);
    assert_eq!((t.session.status, t.session.exception), (Status::Paid, Some(Exception::PaidOver)));
    assert!(!t.effects.contains(&Effect::CreditPoints));
}

#[test]
fn a_transfer_in_a_block_after_the_expiry_is_paid_late() {
    let s = step(&Session::new(DUE, EXPIRY), Event::Expire, EXPIRY).session;
    assert_eq!(s.status, Status::Expired);
    let t = step(&s, Event::Seen { value: DUE, block_time_ms: EXPIRY + 1 }, EXPIRY + 5);
    assert_eq!(t.session.status, Status::Confirming);
    let t = step(&t.session, Event::Confirmed { value: DUE }, EXPIRY + 9);
    assert_eq!((t.session.status, t.session.exception), (Status::Paid, Some(Exception::PaidLate)));
    assert!(t.effects.contains(&Effect::CreditPoints));
}

#[test]
fn a_transfer_in_time_but_confirmed_after_the_expiry_is_not_late() {
    let s = step(&Session::new(DUE, EXPIRY), Event::Seen { value: DUE, block_time_ms: EXPIRY - 1 }, EXPIRY - 1).session;
    // The sweep does not expire a confirming session.
    assert_eq!(step(&s, Event::Expire, EXPIRY + 100).session.status, Status::Confirming);
    let t = step(&s, Event::Confirmed { value: DUE }, EXPIRY + 100);
    assert_eq!((t.session.status, t.session.exception), (Status::Paid, None));
}

#[test]
fn partial_payment_waits_and_is_marked() {
    let s = step(&Session::new(DUE, EXPIRY), Event::Seen { value: 400, block_time_ms: 1 }, 1).session;
    let t = step(&s, Event::Confirmed { value: 400 }, 2);
    assert_eq!((t.session.status, t.session.exception), (Status::Waiting, Some(Exception::PaidPartial)));
    assert!(!t.effects.contains(&Effect::CreditPoints));
    // It may still expire (BTCPay: expired, paid partial); its money stays counted.
    assert_eq!(step(&t.session, Event::Expire, EXPIRY).session.status, Status::Expired);
    let rest = step(&t.session, Event::Seen { value: 600, block_time_ms: 3 }, 3).session;
    let t = step(&rest, Event::Confirmed { value: 600 }, 4);
    assert_eq!((t.session.status, t.session.exception), (Status::Paid, None));
}

#[test]
fn a_reorg_returns_a_confirming_session_to_waiting_or_expired() {
    let s = step(&Session::new(DUE, EXPIRY), Event::Seen { value: DUE, block_time_ms: 1 }, 1).session;
    let back = step(&s, Event::Dropped { value: DUE, was_confirmed: false }, 2);
    assert_eq!(back.session.status, Status::Waiting);
    assert_eq!(back.session.seen, 0);
    let late = step(&s, Event::Dropped { value: DUE, was_confirmed: false }, EXPIRY);
    assert_eq!(late.session.status, Status::Expired);
}

#[test]
fn a_reorg_deeper_than_the_confirmations_alerts_and_never_uncredits() {
    let s = step(&Session::new(DUE, EXPIRY), Event::Seen { value: DUE, block_time_ms: 1 }, 1).session;
    let paid = step(&s, Event::Confirmed { value: DUE }, 2).session;
    let t = step(&paid, Event::Dropped { value: DUE, was_confirmed: true }, 3);
    assert_eq!(t.session.status, Status::Paid);
    assert_eq!(t.effects, vec![Effect::Alert, Effect::Notify]);
}

#[test]
fn books_that_disagree_are_refused() {
    let s = Session::new(DUE, EXPIRY);
    assert_eq!(apply(&s, Event::Confirmed { value: 1 }, 0), Err(SessionError::Inconsistent));
    assert_eq!(apply(&s, Event::Dropped { value: 1, was_confirmed: true }, 0), Err(SessionError::Inconsistent));
    let full = Session { seen: u128::MAX, ..s };
    assert_eq!(apply(&full, Event::Seen { value: 1, block_time_ms: 0 }, 0), Err(SessionError::Overflow));
}

#[test]
fn invalidation_is_final_and_refused_once_paid() {
    let s = Session::new(DUE, EXPIRY);
    let failed = step(&s, Event::Invalidate, 0).session;
    assert_eq!(failed.status, Status::Failed);
    // A transfer to a failed session is recorded but changes nothing else.
    let t = step(&failed, Event::Seen { value: DUE, block_time_ms: 0 }, 0);
    assert_eq!(step(&t.session, Event::Confirmed { value: DUE }, 0).session.status, Status::Failed);
    let paid = Session { status: Status::Paid, confirmed: DUE, ..s };
    assert_eq!(apply(&paid, Event::Invalidate, 0), Err(SessionError::AlreadyPaid));
}

#[test]
fn names_round_trip() {
    for s in [Status::Waiting, Status::Confirming, Status::Paid, Status::Expired, Status::Failed] {
        assert_eq!(Status::parse(s.as_str()), Some(s));
    }
    for e in [Exception::PaidLate, Exception::PaidPartial, Exception::PaidOver] {
        assert_eq!(Exception::parse(e.as_str()), Some(e));
    }
    assert_eq!(Status::parse("settled"), None);
}
