//! Ledger engine: result codes, idempotency, two-phase holds, and property
//! tests over random operation sequences that check every invariant.

use proptest::prelude::*;
use std::collections::BTreeMap;
use tollway_core::ledger::*;
use tollway_core::{Amount, Asset};

fn wallet(n: i64) -> AccountId {
    AccountId::user_wallet(n, Asset::POINTS)
}

/// A ledger kept in memory, persisting each batch's changes like a store.
#[derive(Default)]
struct Mem {
    accounts: BTreeMap<AccountId, Account>,
    transfers: BTreeMap<TransferId, Transfer>,
    order: Vec<TransferId>,
    holds: BTreeMap<String, PendingStatus>,
}

impl Mem {
    fn new(users: i64) -> Self {
        let mut m = Mem::default();
        let mut add = |a: Account| {
            m.accounts.insert(a.id.clone(), a);
        };
        add(Account::new(AccountId::issuance(Asset::POINTS), Asset::POINTS, AccountFlags::NONE));
        add(Account::new(AccountId::revenue(Asset::POINTS), Asset::POINTS, AccountFlags::NONE));
        add(Account::new(AccountId::issuance(Asset::CKB), Asset::CKB, AccountFlags::NONE));
        for u in 0..users {
            add(Account::new(wallet(u), Asset::POINTS, AccountFlags::WALLET));
            add(Account::new(AccountId::user_arrears(u, Asset::POINTS), Asset::POINTS, AccountFlags::DEBT));
        }
        m
    }

    fn submit(&mut self, now: Timestamp, chain: &[TransferRequest]) -> Result<Vec<Applied>, ChainError> {
        let mut batch = Batch::new(now);
        for a in self.accounts.values() {
            batch.load_account(a.clone());
        }
        for t in self.transfers.values() {
            batch.load_transfer(t.clone(), self.holds.get(&t.id.0).copied());
        }
        let result = batch.apply_chain(chain);
        let changes = batch.into_changes();
        if result.is_err() {
            assert!(changes.is_empty(), "a failed chain left changes: {changes:?}");
        }
        for a in changes.accounts {
            self.accounts.insert(a.id.clone(), a);
        }
        for t in changes.transfers {
            self.order.push(t.id.clone());
            assert!(self.transfers.insert(t.id.clone(), t).is_none(), "transfer written twice");
        }
        for (id, s) in changes.pending {
            self.holds.insert(id.0, s);
        }
        result
    }

    fn check(&self) {
        let accounts: Vec<_> = self.accounts.values().cloned().collect();
        let transfers: Vec<_> = self.order.iter().map(|id| self.transfers[id].clone()).collect();
        check_invariants(&accounts, &transfers, &self.holds).expect("invariant");
    }

    fn account(&self, id: &AccountId) -> &Account {
        &self.accounts[id]
    }
}

fn req(id: &str, op: Operation) -> TransferRequest {
    TransferRequest { id: TransferId(id.into()), op, reason: Reason::Charge, links: Links::default() }
}

fn transfer(id: &str, debit: AccountId, credit: AccountId, amount: u128) -> TransferRequest {
    req(id, Operation::Transfer { debit, credit, amount: Amount::new(amount) })
}

fn hold(id: &str, debit: AccountId, amount: u128, timeout_secs: u32) -> TransferRequest {
    let credit = AccountId::revenue(Asset::POINTS);
    req(id, Operation::Hold { debit, credit, amount: Amount::new(amount), timeout_secs })
}

fn grant(m: &mut Mem, user: i64, amount: u128) {
    let id = format!("grant-{user}-{}", m.order.len());
    m.submit(0, &[transfer(&id, AccountId::issuance(Asset::POINTS), wallet(user), amount)]).expect("grant");
}

fn err(r: Result<Vec<Applied>, ChainError>) -> &'static str {
    r.expect_err("should fail").error.code()
}

#[test]
fn result_codes_in_documented_order() {
    let mut m = Mem::new(2);
    grant(&mut m, 0, 100);
    let rev = AccountId::revenue(Asset::POINTS);
    assert_eq!(err(m.submit(0, &[transfer("", wallet(0), rev.clone(), 1)])), "id_invalid");
    assert_eq!(err(m.submit(0, &[transfer("a b", wallet(0), rev.clone(), 1)])), "id_invalid");
    assert_eq!(err(m.submit(0, &[transfer("t", wallet(0), rev.clone(), 0)])), "amount_zero");
    assert_eq!(err(m.submit(0, &[transfer("t", wallet(0), wallet(0), 1)])), "accounts_must_be_different");
    assert_eq!(err(m.submit(0, &[hold("t", wallet(0), 1, 0)])), "timeout_invalid");
    assert_eq!(err(m.submit(0, &[transfer("t", AccountId("nope".into()), rev.clone(), 1)])), "debit_account_not_found");
    assert_eq!(err(m.submit(0, &[transfer("t", wallet(0), AccountId("nope".into()), 1)])), "credit_account_not_found");
    assert_eq!(err(m.submit(0, &[transfer("t", AccountId::issuance(Asset::CKB), rev.clone(), 1)])), "asset_mismatch");
    assert_eq!(err(m.submit(0, &[transfer("t", wallet(0), rev.clone(), 101)])), "exceeds_credits");
    let owed = AccountId::user_arrears(0, Asset::POINTS);
    assert_eq!(err(m.submit(0, &[transfer("t", wallet(0), owed, 1)])), "exceeds_debits");
    let post = |id: &str, p: &str, a: Option<u128>| {
        req(id, Operation::Post { pending_id: TransferId(p.into()), amount: a.map(Amount::new) })
    };
    assert_eq!(err(m.submit(0, &[post("p", "missing", None)])), "pending_transfer_not_found");
    assert_eq!(err(m.submit(0, &[post("p", "grant-0-0", None)])), "pending_transfer_not_pending");
    m.submit(0, &[hold("h", wallet(0), 40, 10)]).expect("hold");
    assert_eq!(err(m.submit(0, &[post("p", "h", Some(41))])), "exceeds_pending_transfer_amount");
    let expire = req("e", Operation::Expire { pending_id: TransferId("h".into()) });
    assert_eq!(err(m.submit(9_999, std::slice::from_ref(&expire))), "pending_transfer_not_expired");
    assert_eq!(err(m.submit(10_000, &[post("p", "h", None)])), "pending_transfer_expired");
    m.submit(10_000, &[expire]).expect("expire");
    let void = req("v", Operation::Void { pending_id: TransferId("h".into()) });
    assert_eq!(err(m.submit(0, &[void])), "pending_transfer_expired");
    // The id exists check comes before account checks.
    assert_eq!(err(m.submit(0, &[transfer("h", wallet(1), AccountId("x".into()), 5)])), "exists_with_different_fields");
    m.check();
}

#[test]
fn idempotent_retry_returns_original_and_moves_nothing() {
    let mut m = Mem::new(1);
    grant(&mut m, 0, 50);
    let t = transfer("charge-1", wallet(0), AccountId::revenue(Asset::POINTS), 30);
    let first = m.submit(1, std::slice::from_ref(&t)).expect("first");
    let again = m.submit(99, std::slice::from_ref(&t)).expect("again");
    assert!(matches!(first[0], Applied::Created(_)));
    assert_eq!(again[0], Applied::Exists(first[0].transfer().clone()));
    assert_eq!(m.account(&wallet(0)).balance(), Amount::new(20));
    let mut different = t;
    different.links.memo = Some("other".into());
    assert_eq!(err(m.submit(2, &[different])), "exists_with_different_fields");
    m.check();
}

#[test]
fn partial_post_releases_the_rest_and_resolves_once() {
    let mut m = Mem::new(1);
    grant(&mut m, 0, 100);
    m.submit(0, &[hold("h", wallet(0), 60, 60)]).expect("hold");
    assert_eq!(m.account(&wallet(0)).available(), Amount::new(40));
    let post = req("p", Operation::Post { pending_id: TransferId("h".into()), amount: Some(Amount::new(25)) });
    m.submit(1, std::slice::from_ref(&post)).expect("post");
    assert_eq!(m.account(&wallet(0)).balance(), Amount::new(75));
    assert_eq!(m.account(&wallet(0)).available(), Amount::new(75));
    assert_eq!(m.submit(2, &[post]).expect("retry")[0].transfer().amount, Amount::new(25));
    let void = req("v", Operation::Void { pending_id: TransferId("h".into()) });
    assert_eq!(err(m.submit(2, &[void])), "pending_transfer_already_posted");
    m.check();
}

#[test]
fn a_failing_chain_applies_nothing() {
    let mut m = Mem::new(1);
    grant(&mut m, 0, 10);
    let rev = AccountId::revenue(Asset::POINTS);
    let chain = [transfer("a", wallet(0), rev.clone(), 10), transfer("b", wallet(0), rev, 1)];
    let e = m.submit(0, &chain).expect_err("second overdraws");
    assert_eq!((e.index, e.error.code()), (1, "exceeds_credits"));
    assert_eq!(m.account(&wallet(0)).balance(), Amount::new(10));
    assert!(!m.transfers.contains_key(&TransferId("a".into())));
    m.check();
}

/// One step of a random workload.
#[derive(Debug, Clone)]
enum Step {
    Grant(i64, u128),
    Spend(i64, u128),
    Hold(i64, u128, u32),
    Post(usize, Option<u128>),
    Void(usize),
    Expire(usize),
    Tick(i64),
    Retry(usize),
    Arrears(i64, u128),
    Repay(i64, u128),
}

fn step() -> impl Strategy<Value = Step> {
    let user = 0i64..3;
    let amount = 1u128..200;
    prop_oneof![
        (user.clone(), amount.clone()).prop_map(|(u, a)| Step::Grant(u, a)),
        (user.clone(), amount.clone()).prop_map(|(u, a)| Step::Spend(u, a)),
        (user.clone(), amount.clone(), 1u32..20).prop_map(|(u, a, t)| Step::Hold(u, a, t)),
        (any::<usize>(), proptest::option::of(0u128..250)).prop_map(|(i, a)| Step::Post(i, a)),
        any::<usize>().prop_map(Step::Void),
        any::<usize>().prop_map(Step::Expire),
        (0i64..15_000).prop_map(Step::Tick),
        any::<usize>().prop_map(Step::Retry),
        (user.clone(), amount.clone()).prop_map(|(u, a)| Step::Arrears(u, a)),
        (user, amount).prop_map(|(u, a)| Step::Repay(u, a)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_sequences_keep_every_invariant(steps in proptest::collection::vec(step(), 1..80)) {
        let mut m = Mem::new(3);
        let mut now: Timestamp = 0;
        let mut holds: Vec<TransferId> = Vec::new();
        let mut sent: Vec<TransferRequest> = Vec::new();
        let rev = AccountId::revenue(Asset::POINTS);
        let iss = AccountId::issuance(Asset::POINTS);
        for (n, s) in steps.into_iter().enumerate() {
            let id = format!("s{n}");
            let pick = |i: usize| holds.get(i % holds.len().max(1)).cloned();
            let r = match s {
                Step::Grant(u, a) => Some(transfer(&id, iss.clone(), wallet(u), a)),
                Step::Spend(u, a) => Some(transfer(&id, wallet(u), rev.clone(), a)),
                Step::Hold(u, a, t) => { holds.push(TransferId(id.clone())); Some(hold(&id, wallet(u), a, t)) }
                Step::Post(i, a) => pick(i).map(|p| req(&id, Operation::Post { pending_id: p, amount: a.map(Amount::new) })),
                Step::Void(i) => pick(i).map(|p| req(&id, Operation::Void { pending_id: p })),
                Step::Expire(i) => pick(i).map(|p| req(&id, Operation::Expire { pending_id: p })),
                Step::Tick(dt) => { now += dt; None }
                Step::Retry(i) => sent.get(i % sent.len().max(1)).cloned(),
                Step::Arrears(u, a) => Some(transfer(&id, AccountId::user_arrears(u, Asset::POINTS), rev.clone(), a)),
                Step::Repay(u, a) => Some(transfer(&id, wallet(u), AccountId::user_arrears(u, Asset::POINTS), a)),
            };
            let Some(r) = r else { continue };
            let before: Vec<Account> = m.accounts.values().cloned().collect();
            match m.submit(now, std::slice::from_ref(&r)) {
                Ok(applied) => {
                    if matches!(applied[0], Applied::Exists(_)) {
                        let after: Vec<Account> = m.accounts.values().cloned().collect();
                        prop_assert_eq!(before, after, "a retry moved money");
                    }
                    sent.push(r);
                }
                Err(_) => {
                    let after: Vec<Account> = m.accounts.values().cloned().collect();
                    prop_assert_eq!(before, after, "a refused request moved money");
                }
            }
            m.check();
        }
    }
}
