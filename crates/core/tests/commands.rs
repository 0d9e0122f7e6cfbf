//! Planned ledger commands: charges that book arrears, reservations that
//! settle, grants that repay arrears, and replays.

use tollway_core::ledger::*;
use tollway_core::{Amount, Asset};

const P: Asset = Asset::POINTS;

fn fresh() -> Batch {
    let mut b = Batch::new(1_000);
    b.load_account(Account::new(AccountId::issuance(P), P, AccountFlags::NONE));
    b.load_account(Account::new(AccountId::revenue(P), P, AccountFlags::NONE));
    b.load_account(Account::new(AccountId::user_wallet(1, P), P, AccountFlags::WALLET));
    b.load_account(Account::new(AccountId::user_arrears(1, P), P, AccountFlags::DEBT));
    b
}

fn grant(id: &str, amount: u128) -> Command {
    Command::Grant(Grant {
        id: TransferId(id.into()),
        user_id: 1,
        asset: P,
        amount: Amount::new(amount),
        reason: Reason::Grant,
        links: Links::default(),
    })
}

fn charge(id: &str, amount: u128, reservation: Option<&str>) -> Command {
    Command::Charge(Charge {
        id: TransferId(id.into()),
        user_id: 1,
        asset: P,
        amount: Amount::new(amount),
        reservation: reservation.map(|r| TransferId(r.into())),
        links: Links::default(),
    })
}

fn sum(applied: &[Applied], reason: Reason) -> u128 {
    applied.iter().map(Applied::transfer).filter(|t| t.reason == reason).map(|t| t.amount.units()).sum()
}

fn wallet(b: &Batch) -> &Account {
    b.account(&AccountId::user_wallet(1, P)).expect("wallet")
}

fn owed(b: &Batch) -> Amount {
    b.account(&AccountId::user_arrears(1, P)).expect("arrears").owed()
}

#[test]
fn charge_beyond_balance_books_arrears_and_grant_repays_them() {
    let mut b = fresh();
    grant("g1", 30).execute(&mut b).expect("grant");
    let applied = charge("c1", 50, None).execute(&mut b).expect("charge");
    assert_eq!((sum(&applied, Reason::Charge), sum(&applied, Reason::Arrears)), (30, 20));
    assert_eq!((wallet(&b).balance(), owed(&b)), (Amount::ZERO, Amount::new(20)));
    let replay = charge("c1", 50, None).execute(&mut b).expect("replay");
    assert!(replay.iter().all(|a| matches!(a, Applied::Exists(_))));
    assert_eq!(replay.len(), 2);
    grant("g2", 15).execute(&mut b).expect("grant");
    assert_eq!((wallet(&b).balance(), owed(&b)), (Amount::ZERO, Amount::new(5)));
    grant("g3", 100).execute(&mut b).expect("grant");
    assert_eq!((wallet(&b).balance(), owed(&b)), (Amount::new(95), Amount::ZERO));
    let e = grant("g3", 99).execute(&mut b).expect_err("conflicting reuse");
    assert_eq!(e.error, TransferError::ExistsWithDifferentFields { field: "amount" });
}

#[test]
fn charge_settles_reservation_partially_or_with_extra() {
    let mut b = fresh();
    grant("g", 100).execute(&mut b).expect("grant");
    let hold = |id: &str, amount: u128| {
        Command::Chain(vec![TransferRequest {
            id: TransferId(id.into()),
            op: Operation::Hold {
                debit: AccountId::user_wallet(1, P),
                credit: AccountId::revenue(P),
                amount: Amount::new(amount),
                timeout_secs: 60,
            },
            reason: Reason::Reservation,
            links: Links::default(),
        }])
    };
    hold("h1", 40).execute(&mut b).expect("hold");
    charge("c1", 25, Some("h1")).execute(&mut b).expect("charge");
    assert_eq!((wallet(&b).balance(), wallet(&b).available()), (Amount::new(75), Amount::new(75)));
    assert_eq!(b.pending_status(&TransferId("h1".into())), Some(PendingStatus::Posted));
    hold("h2", 10).execute(&mut b).expect("hold");
    let applied = charge("c2", 30, Some("h2")).execute(&mut b).expect("charge");
    assert_eq!(sum(&applied, Reason::Charge), 30);
    assert_eq!(wallet(&b).balance(), Amount::new(45));
    // A settled reservation is not settled twice: the next charge is plain.
    charge("c3", 5, Some("h2")).execute(&mut b).expect("charge");
    assert_eq!(wallet(&b).balance(), Amount::new(40));
}

#[test]
fn a_replayed_charge_with_any_different_field_is_a_conflict_naming_it() {
    let mut b = fresh();
    grant("g", 100).execute(&mut b).expect("grant");
    let hold = Command::Chain(vec![TransferRequest {
        id: TransferId("h".into()),
        op: Operation::Hold { debit: AccountId::user_wallet(1, P), credit: AccountId::revenue(P), amount: Amount::new(10), timeout_secs: 60 },
        reason: Reason::Reservation,
        links: Links::default(),
    }]);
    hold.execute(&mut b).expect("hold");
    charge("c", 150, Some("h")).execute(&mut b).expect("charge: 10 posted, 90 taken, 50 owed");
    let before = (wallet(&b).clone(), owed(&b));
    charge("c", 150, Some("h")).execute(&mut b).expect("the same charge again is its original");
    let conflict = |cmd: Command, field: &'static str| {
        let mut b2 = b.clone();
        let e = cmd.execute(&mut b2).expect_err("a different charge under the same id");
        assert_eq!(e.error, TransferError::ExistsWithDifferentFields { field });
    };
    conflict(charge("c", 149, Some("h")), "amount");
    conflict(charge("c", 150, None), "reservation");
    let Command::Charge(mut other_user) = charge("c", 150, Some("h")) else { unreachable!() };
    other_user.links.user_id = Some(2);
    conflict(Command::Charge(other_user), "user_id");
    let Command::Charge(mut other_model) = charge("c", 150, Some("h")) else { unreachable!() };
    other_model.links.model = Some("gpt-4".into());
    conflict(Command::Charge(other_model), "model");
    assert_eq!((wallet(&b).clone(), owed(&b)), before, "nothing moved");
    let Command::Grant(mut adjust) = grant("g", 100) else { unreachable!() };
    adjust.reason = Reason::Adjust;
    conflict(Command::Grant(adjust), "reason");
}

#[test]
fn a_guarded_chain_is_refused_while_arrears_are_owed() {
    let mut b = fresh();
    grant("g", 10).execute(&mut b).expect("grant");
    let guarded = |id: &str| Command::Guarded {
        unowed: AccountId::user_arrears(1, P),
        chain: vec![TransferRequest {
            id: TransferId(id.into()),
            op: Operation::Hold { debit: AccountId::user_wallet(1, P), credit: AccountId::revenue(P), amount: Amount::new(5), timeout_secs: 60 },
            reason: Reason::Reservation,
            links: Links::default(),
        }],
    };
    guarded("h1").execute(&mut b).expect("nothing owed: held");
    charge("c", 20, None).execute(&mut b).expect("charge books arrears");
    assert!(!owed(&b).is_zero());
    let e = guarded("h2").execute(&mut b).expect_err("arrears owed");
    assert_eq!(e.error, TransferError::ArrearsOutstanding);
    assert!(b.transfer(&TransferId("h2".into())).is_none());
}
