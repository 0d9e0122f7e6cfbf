//! The CKB hub's books on SQLite and PostgreSQL: a payment prepared,
//! signed and completed is split into share rows and ledger transfers
//! exactly once; failed and expired payments release their cells; hostile
//! prepares (a sender cell twice, a taken pool cell, the per-sender limit)
//! keep nothing; payouts pay each share once and a failed one gives them
//! back; rebalances spend and make pool cells; and 100 prepares racing for
//! 10 pool cells from two stores on one database never lease a cell twice.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Barrier;
use tollway_core::ckb::hub::{split_payment, HubPaymentState, PayoutState, Share, ShareRole, SplitParty, SplitRule};
use tollway_core::ckb::{SighashArgs, CKB};
use tollway_core::ledger::AccountId;
use tollway_core::Asset;
use tollway_store::hub::{
    inflow_account, outflow_account, party_account, CellOrder, CellState, CompletedPayment, HubPaymentRow, HubStoreError, NewHubPayment, NewPayout,
    NewRebalance, PartyBalance, PaymentsOf, PayoutKind, PoolStats,
};
use tollway_store::testing::{fresh_database_url, fresh_store, Backend};
use tollway_store::{Store, StoreError};

/// The platform (takes the fee).
const PLATFORM: u8 = 9;

fn who(n: u8) -> SighashArgs {
    SighashArgs([n; 20])
}

/// A distinct out point for each `n`.
fn cell(n: u32, index: u32) -> String {
    format!("0x{n:064x}:{index}")
}

fn tx_hash(tag: u32) -> [u8; 32] {
    let mut hash = [0xee; 32];
    hash[..4].copy_from_slice(&tag.to_be_bytes());
    hash
}

fn out_point(hash: &[u8; 32], index: u32) -> String {
    format!("0x{}:{index}", hash.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// 1 % to the platform, 25 % to party 3, the rest to the receiver.
fn rule() -> SplitRule {
    SplitRule { fee_bps: 100, parties: vec![SplitParty { party: who(3), bps: 2_500 }] }
}

fn new_payment(tag: u32, sender: SighashArgs, amount: u64, pool_cell: &str, sender_cells: &[String], now: i64) -> NewHubPayment {
    NewHubPayment {
        sender,
        receiver: who(2),
        amount,
        fee: 601,
        change: 100 * CKB,
        tx_hash: tx_hash(tag),
        prepared_tx: vec![tag as u8; 40],
        pool_cell: pool_cell.to_owned(),
        sender_cells: sender_cells.to_vec(),
        user_id: None,
        points: None,
        creator: "ip:127.0.0.1".into(),
        max_open_per_sender: 4,
        now,
        expires_at: now + 60_000,
    }
}

fn hub_error<T: std::fmt::Debug>(result: Result<T, StoreError>) -> HubStoreError {
    match result {
        Err(StoreError::Hub(e)) => e,
        other => panic!("expected a hub refusal, got {other:?}"),
    }
}

async fn pool(store: &Store, cells: &[u32], capacity: u64) {
    let cells: Vec<(String, u64)> = cells.iter().map(|n| (cell(*n, 0), capacity)).collect();
    store.add_hub_cells(&cells, 0).await.expect("pool");
}

async fn balance(store: &Store, id: &AccountId) -> u128 {
    store.account(id).await.expect("read").map_or(0, |a| a.balance().units())
}

async fn audit_passes(store: &Store) {
    let audit = store.audit().await.expect("audit");
    assert_eq!(audit.violation, None, "ledger invariant broken");
}

/// Prepares, signs and completes a payment of `amount` from `sender` to
/// party 2 through `pool_cell`; returns it and its shares.
async fn pay(store: &Store, tag: u32, sender: SighashArgs, amount: u64, pool_cell: &str) -> (HubPaymentRow, Vec<Share>) {
    let p = store.prepare_hub_payment(&new_payment(tag, sender, amount, pool_cell, &[cell(10_000 + tag, 0)], 1_000)).await.expect("prepare");
    assert!(store.sign_hub_payment(p.id, b"signed", 2_000).await.expect("sign"));
    let shares = split_payment(amount, who(2), who(PLATFORM), &rule());
    let capacity = store.hub_cell(pool_cell).await.expect("cell").expect("known").capacity + amount;
    let done =
        CompletedPayment { id: p.id, block_number: 7, shares: shares.clone(), new_pool_cell: (out_point(&p.tx_hash, 1), capacity), now: 3_000 };
    assert!(store.complete_hub_payment(&done).await.expect("complete"));
    (p, shares)
}

async fn a_payment_is_counted_once_with_its_splits(store: Store) {
    let user = store.create_user("payer", false).await.expect("user");
    assert_eq!(store.add_hub_cells(&[(cell(1, 0), 100 * CKB), (cell(2, 0), 100 * CKB)], 0).await.expect("pool"), 2);
    assert_eq!(store.add_hub_cells(&[(cell(1, 0), 100 * CKB)], 5).await.expect("again"), 0, "adding twice is harmless");
    let amount = 5 * CKB + 7;
    let mut new = new_payment(1, who(1), amount, &cell(1, 0), &[cell(100, 1), cell(100, 0)], 1_000);
    new.user_id = Some(user.id);
    new.points = Some(500);
    let p = store.prepare_hub_payment(&new).await.expect("prepare");
    assert_eq!(p.state, HubPaymentState::Prepared);
    assert_eq!(store.hub_payment(p.id).await.expect("read"), Some(p.clone()), "stored as returned");
    let leased = store.hub_cell(&cell(1, 0)).await.expect("cell").expect("known");
    assert_eq!((leased.state, leased.lease), (CellState::Leased, Some(format!("payment:{}", p.id))));
    let stats = store.hub_pool_stats().await.expect("stats");
    assert_eq!(stats, PoolStats { free_cells: 1, free_capacity: 100 * CKB, leased_cells: 1, leased_capacity: 100 * CKB });
    assert_eq!(store.hub_sender_held_cells(&who(1), 1_000, None).await.expect("held"), vec![cell(100, 0), cell(100, 1)]);
    assert!(store.hub_sender_held_cells(&who(1), p.expires_at, None).await.expect("held").is_empty(), "an expired prepare holds nothing");

    assert!(!store.sign_hub_payment(p.id, b"late", p.expires_at).await.expect("sign"), "not at its expiry");
    assert!(store.sign_hub_payment(p.id, b"signed", 2_000).await.expect("sign"));
    assert!(!store.sign_hub_payment(p.id, b"again", 2_001).await.expect("sign"), "signed once");
    assert_eq!(store.hub_sender_pending_change(&who(1), None).await.expect("change"), vec![(p.change_out_point(), 100 * CKB)]);
    assert_eq!(store.sent_hub_payments(10).await.expect("sent").len(), 1);

    let shares = split_payment(amount, who(2), who(PLATFORM), &rule());
    assert_eq!(shares.len(), 3);
    let new_cell = (out_point(&p.tx_hash, 1), 100 * CKB + amount);
    let done = CompletedPayment { id: p.id, block_number: 7, shares: shares.clone(), new_pool_cell: new_cell.clone(), now: 3_000 };
    assert!(store.complete_hub_payment(&done).await.expect("complete"));
    let audit = store.audit().await.expect("audit");
    assert!(!store.complete_hub_payment(&done).await.expect("again"), "counted once");
    assert_eq!(store.audit().await.expect("audit").transfers, audit.transfers, "a repeat writes no transfer");

    let row = store.hub_payment(p.id).await.expect("read").expect("payment");
    assert_eq!((row.state, row.block_number, row.new_pool_cell.as_deref()), (HubPaymentState::Complete, Some(7), Some(new_cell.0.as_str())));
    assert_eq!(row.signed_tx.as_deref(), Some(&b"signed"[..]));
    let rows = store.hub_payment_shares(p.id).await.expect("shares");
    assert_eq!(
        rows.iter().map(|r| (r.index, r.party, r.role, r.amount)).collect::<Vec<_>>(),
        shares.iter().enumerate().map(|(n, s)| (n as u32, s.party, s.role, s.amount)).collect::<Vec<_>>()
    );
    assert!(rows.iter().all(|r| !r.is_payed && r.payout_id.is_none() && r.tx_hash.is_none()));
    for s in &shares {
        assert_eq!(balance(&store, &party_account(&s.party)).await, u128::from(s.amount), "{:?}", s.role);
    }
    let inflow = store.account(&inflow_account()).await.expect("read").expect("inflow");
    assert_eq!(inflow.debits_posted.units(), u128::from(amount));
    assert_eq!(balance(&store, &AccountId::user_wallet(user.id, Asset::POINTS)).await, 500, "points granted once");

    let spent = store.hub_cell(&cell(1, 0)).await.expect("cell").expect("known");
    assert_eq!((spent.state, spent.lease), (CellState::Spent, Some(format!("payment:{}", p.id))));
    let fresh = store.hub_cell(&new_cell.0).await.expect("cell").expect("added");
    assert_eq!((fresh.state, fresh.capacity), (CellState::Free, new_cell.1));
    assert_eq!(store.hub_pool_stats().await.expect("stats").free_cells, 2);
    // Committed in block 7: an indexer through block 7 lists the change and
    // not the spent cells; one still at block 6 lists the spent cells as
    // live and not the change, so the books hold the one and add the other.
    assert!(store.hub_sender_held_cells(&who(1), 3_000, Some(7)).await.expect("held").is_empty());
    assert!(store.hub_sender_pending_change(&who(1), Some(7)).await.expect("change").is_empty(), "committed change is indexed");
    assert_eq!(store.hub_sender_held_cells(&who(1), 3_000, Some(6)).await.expect("held"), vec![cell(100, 0), cell(100, 1)]);
    assert_eq!(store.hub_sender_pending_change(&who(1), Some(6)).await.expect("change"), vec![(p.change_out_point(), 100 * CKB)]);
    assert_eq!(store.hub_sender_held_cells(&who(1), 3_000, None).await.expect("held"), vec![cell(100, 0), cell(100, 1)], "nothing indexed yet");
    // A caller whose view of the sender's cells is older than the commit
    // offers a spent one again: refused, nothing kept.
    let stale = new_payment(9, who(1), CKB, &new_cell.0, &[cell(101, 0), cell(100, 1)], 3_000);
    assert_eq!(hub_error(store.prepare_hub_payment(&stale).await), HubStoreError::SenderCellTaken);
    assert_eq!(store.hub_cell(&new_cell.0).await.expect("cell").map(|c| c.state), Some(CellState::Free), "the lease rolled back");
    assert_eq!(store.hub_payments(PaymentsOf::All, 10, None).await.expect("list").len(), 1, "the payment rolled back");

    // A second payment through the new cell adds to the same parties.
    let (_, more) = pay(&store, 2, who(1), 3 * CKB, &new_cell.0).await;
    let unpaid: BTreeMap<SighashArgs, u64> = store.unpaid_hub_balances().await.expect("unpaid").into_iter().collect();
    let mut expected = BTreeMap::new();
    for s in shares.iter().chain(&more) {
        *expected.entry(s.party).or_insert(0) += s.amount;
    }
    assert_eq!(unpaid, expected);
    for (party, amount) in &expected {
        assert_eq!(balance(&store, &party_account(party)).await, u128::from(*amount));
    }
    assert_eq!(store.hub_payments(PaymentsOf::Sender(who(1)), 10, None).await.expect("list").len(), 2);
    audit_passes(&store).await;
}

async fn failed_and_expired_payments_release_their_cells(store: Store) {
    pool(&store, &[1, 2], 100 * CKB).await;
    let a = store.prepare_hub_payment(&new_payment(1, who(1), CKB, &cell(1, 0), &[cell(200, 0)], 1_000)).await.expect("a");
    assert!(store.fail_hub_payment(a.id, "refused by the node", 1_500).await.expect("fail"));
    assert!(!store.fail_hub_payment(a.id, "again", 1_600).await.expect("again"));
    let failed = store.hub_payment(a.id).await.expect("read").expect("a");
    assert_eq!((failed.state, failed.failure.as_deref()), (HubPaymentState::Failed, Some("refused by the node")));
    let free = store.hub_cell(&cell(1, 0)).await.expect("cell").expect("known");
    assert_eq!((free.state, free.lease), (CellState::Free, None));
    assert!(store.hub_sender_held_cells(&who(1), 1_600, None).await.expect("held").is_empty());
    // The tracker looks a chained payment's parent up by its transaction.
    assert_eq!(store.hub_payment_states_by_tx(&a.tx_hash).await.expect("by tx"), vec![HubPaymentState::Failed]);
    assert!(store.hub_payment_states_by_tx(&[0xee; 32]).await.expect("by tx").is_empty(), "not the hub's");

    // The same pool cell and sender cell again.
    let b = store.prepare_hub_payment(&new_payment(2, who(1), CKB, &cell(1, 0), &[cell(200, 0)], 2_000)).await.expect("b");
    assert!(store.expire_due_hub_payments(b.expires_at - 1).await.expect("sweep").is_empty());
    let expired = store.expire_due_hub_payments(b.expires_at).await.expect("sweep");
    assert_eq!(expired.iter().map(|p| (p.id, p.state)).collect::<Vec<_>>(), vec![(b.id, HubPaymentState::Expired)]);
    assert_eq!(store.hub_payment(b.id).await.expect("read").map(|p| p.state), Some(HubPaymentState::Expired));
    assert!(!store.sign_hub_payment(b.id, b"signed", 2_500).await.expect("sign"), "an expired payment is never signed");
    assert!(!store.fail_hub_payment(b.id, "late", 2_600).await.expect("fail"));
    assert_eq!(store.hub_cell(&cell(1, 0)).await.expect("cell").map(|c| c.state), Some(CellState::Free));

    // A sent payment that fails releases its cells too.
    let c = store.prepare_hub_payment(&new_payment(3, who(1), CKB, &cell(2, 0), &[cell(200, 0)], 3_000)).await.expect("c");
    assert!(store.sign_hub_payment(c.id, b"signed", 3_100).await.expect("sign"));
    assert!(store.fail_hub_payment(c.id, "input spent elsewhere", 3_200).await.expect("fail"));
    let done = CompletedPayment {
        id: c.id,
        block_number: 9,
        shares: split_payment(CKB, who(2), who(PLATFORM), &rule()),
        new_pool_cell: (cell(201, 1), 101 * CKB),
        now: 3_300,
    };
    assert!(!store.complete_hub_payment(&done).await.expect("complete"), "a failed payment never counts");
    assert_eq!(store.hub_pool_stats().await.expect("stats").free_cells, 2);
    assert!(store.hub_payment_shares(c.id).await.expect("shares").is_empty());

    // A prepared payment cannot complete; unknown ids are refused.
    let d = store.prepare_hub_payment(&new_payment(4, who(1), CKB, &cell(2, 0), &[cell(200, 0)], 4_000)).await.expect("d");
    assert!(!store.complete_hub_payment(&CompletedPayment { id: d.id, ..done.clone() }).await.expect("complete"));
    assert_eq!(store.hub_payment(d.id).await.expect("read").map(|p| p.state), Some(HubPaymentState::Prepared));
    assert_eq!(hub_error(store.sign_hub_payment(9_999, b"x", 0).await).code(), "unknown_payment");
    assert_eq!(hub_error(store.fail_hub_payment(9_999, "x", 0).await).code(), "unknown_payment");
    assert_eq!(hub_error(store.complete_hub_payment(&CompletedPayment { id: 9_999, ..done }).await).code(), "unknown_payment");
    assert_eq!(store.account(&inflow_account()).await.expect("read"), None, "nothing was counted");
    audit_passes(&store).await;
}

async fn hostile_prepares_are_refused_and_keep_nothing(store: Store) {
    pool(&store, &[1, 2, 3], 100 * CKB).await;
    let a = store.prepare_hub_payment(&new_payment(1, who(1), CKB, &cell(1, 0), &[cell(300, 0), cell(301, 0)], 1_000)).await.expect("a");
    let count = |store: Store| async move { store.hub_payments(PaymentsOf::All, 100, None).await.expect("list").len() };

    // A sender cell an open payment spends, even from another sender.
    let twice = new_payment(2, who(4), CKB, &cell(2, 0), &[cell(302, 0), cell(301, 0)], 1_000);
    assert_eq!(hub_error(store.prepare_hub_payment(&twice).await), HubStoreError::SenderCellTaken);
    assert_eq!(store.hub_cell(&cell(2, 0)).await.expect("cell").map(|c| c.state), Some(CellState::Free), "the lease rolled back");
    assert_eq!(count(store.clone()).await, 1, "the payment rolled back");
    // A taken pool cell, an unknown one, malformed ones.
    let taken = new_payment(3, who(4), CKB, &cell(1, 0), &[cell(303, 0)], 1_000);
    assert_eq!(hub_error(store.prepare_hub_payment(&taken).await).code(), "pool_cell_taken");
    let unknown = new_payment(4, who(4), CKB, &cell(99, 0), &[cell(303, 0)], 1_000);
    assert_eq!(hub_error(store.prepare_hub_payment(&unknown).await).code(), "unknown_cell");
    let malformed = new_payment(5, who(4), CKB, "0x12:0", &[cell(303, 0)], 1_000);
    assert_eq!(hub_error(store.prepare_hub_payment(&malformed).await).code(), "invalid_request");
    let repeated = new_payment(6, who(4), CKB, &cell(2, 0), &[cell(303, 0), cell(303, 0)], 1_000);
    assert_eq!(hub_error(store.prepare_hub_payment(&repeated).await).code(), "invalid_request");
    assert_eq!(count(store.clone()).await, 1);
    assert!(store.hub_sender_held_cells(&who(4), 1_000, None).await.expect("held").is_empty());

    // The per-sender limit counts prepared and sent payments.
    let mut second = new_payment(7, who(1), CKB, &cell(2, 0), &[cell(310, 0)], 1_000);
    second.max_open_per_sender = 2;
    let g = store.prepare_hub_payment(&second).await.expect("second");
    assert!(store.sign_hub_payment(g.id, b"signed", 1_100).await.expect("sign"));
    let mut third = new_payment(8, who(1), CKB, &cell(3, 0), &[cell(311, 0)], 1_100);
    third.max_open_per_sender = 2;
    assert_eq!(hub_error(store.prepare_hub_payment(&third).await).code(), "too_many_open_payments");
    assert_eq!(store.hub_cell(&cell(3, 0)).await.expect("cell").map(|c| c.state), Some(CellState::Free));
    // Once `a` is past its expiry, the sender's next prepare expires it
    // (releasing its cells) before counting.
    third.now = a.expires_at;
    third.sender_cells = vec![cell(301, 0)];
    let h = store.prepare_hub_payment(&third).await.expect("after the expiry");
    assert_eq!(store.hub_payment(a.id).await.expect("read").map(|p| p.state), Some(HubPaymentState::Expired));
    assert_eq!(store.hub_cell(&cell(1, 0)).await.expect("cell").map(|c| c.state), Some(CellState::Free));
    assert_eq!(store.hub_sender_held_cells(&who(1), a.expires_at, None).await.expect("held"), vec![cell(301, 0), cell(310, 0)]);

    // Shares that do not add up to the amount count nothing.
    let wrong = CompletedPayment {
        id: g.id,
        block_number: 3,
        shares: vec![Share { party: who(2), role: ShareRole::Receiver, amount: CKB - 1 }],
        new_pool_cell: (out_point(&g.tx_hash, 1), 101 * CKB),
        now: 2_000,
    };
    assert_eq!(hub_error(store.complete_hub_payment(&wrong).await), HubStoreError::SharesMismatch { amount: CKB, shares: CKB - 1 });
    let zero = CompletedPayment {
        shares: vec![Share { party: who(2), role: ShareRole::Receiver, amount: CKB }, Share { party: who(3), role: ShareRole::Party, amount: 0 }],
        ..wrong
    };
    assert_eq!(hub_error(store.complete_hub_payment(&zero).await).code(), "shares_mismatch");
    assert_eq!(store.hub_payment(g.id).await.expect("read").map(|p| p.state), Some(HubPaymentState::Sent));
    assert_eq!(store.hub_payment(h.id).await.expect("read").map(|p| p.state), Some(HubPaymentState::Prepared));
    audit_passes(&store).await;
}

async fn payouts_pay_each_share_once(store: Store) {
    pool(&store, &[1, 2, 3, 4], 100 * CKB).await;
    let (p1, _) = pay(&store, 1, who(1), 70 * CKB, &cell(1, 0)).await;
    let (p2, _) = pay(&store, 2, who(1), 10 * CKB + 3, &cell(2, 0)).await;
    let unpaid: BTreeMap<SighashArgs, u64> = store.unpaid_hub_balances().await.expect("unpaid").into_iter().collect();
    assert_eq!(unpaid.keys().copied().collect::<Vec<_>>(), vec![who(2), who(3), who(PLATFORM)]);
    let owed = unpaid[&who(2)];

    let payout = |tag: u32, outputs: Vec<(SighashArgs, u64)>, cells: Vec<String>| NewPayout {
        tx: vec![tag as u8; 60],
        tx_hash: tx_hash(tag),
        fee: 464,
        outputs,
        cells,
        change: (out_point(&tx_hash(tag), 1), 50 * CKB),
        now: 5_000,
    };
    let first = payout(100, vec![(who(2), owed)], vec![out_point(&p1.tx_hash, 1)]);
    let id = store.store_hub_payout(&first).await.expect("store");
    assert_eq!(store.hub_cell(&first.cells[0]).await.expect("cell").and_then(|c| c.lease), Some(format!("payout:{id}")));
    assert!(!store.unpaid_hub_balances().await.expect("unpaid").iter().any(|(p, _)| *p == who(2)));
    assert_eq!(store.hub_party_balance(&who(2)).await.expect("balance"), PartyBalance { unpaid: 0, in_payout: owed, paid: 0 });

    // A second payout of the same party while the first is open attaches
    // nothing and leases nothing; so does one for the wrong amount.
    let again = payout(101, vec![(who(2), owed)], vec![cell(3, 0)]);
    assert_eq!(hub_error(store.store_hub_payout(&again).await), HubStoreError::PayoutConflict(who(2)));
    let short = payout(102, vec![(who(3), unpaid[&who(3)] - 1)], vec![cell(3, 0)]);
    assert_eq!(hub_error(store.store_hub_payout(&short).await).code(), "payout_conflict");
    let on_leased = payout(103, vec![(who(3), unpaid[&who(3)])], vec![cell(3, 0), out_point(&p1.tx_hash, 1)]);
    assert_eq!(hub_error(store.store_hub_payout(&on_leased).await).code(), "pool_cell_taken");
    assert_eq!(store.hub_cell(&cell(3, 0)).await.expect("cell").map(|c| c.state), Some(CellState::Free));
    assert_eq!(store.hub_party_balance(&who(3)).await.expect("balance").unpaid, unpaid[&who(3)], "nothing attached");
    assert_eq!(store.hub_payouts(10, None).await.expect("payouts").len(), 1);
    assert_eq!(store.sent_hub_transactions(PayoutKind::Payout).await.expect("sent").iter().map(|p| p.id).collect::<Vec<_>>(), vec![id]);

    assert!(store.complete_hub_payout(id, 50, 6_000).await.expect("complete"));
    assert!(!store.complete_hub_payout(id, 50, 6_001).await.expect("again"), "paid once");
    assert!(!store.fail_hub_payout(id, 6_002).await.expect("fail"), "a paid payout never fails");
    let row = store.hub_payout(id).await.expect("read").expect("payout");
    assert_eq!((row.state, row.block_number, row.total, row.outputs.clone()), (PayoutState::Paid, Some(50), owed, vec![(who(2), owed)]));
    for p in [&p1, &p2] {
        let share = store.hub_payment_shares(p.id).await.expect("shares").into_iter().find(|s| s.role == ShareRole::Receiver).expect("receiver");
        assert!(share.is_payed);
        assert_eq!((share.payout_id, share.tx_hash), (Some(id), Some(tx_hash(100))));
    }
    assert_eq!(store.hub_party_balance(&who(2)).await.expect("balance"), PartyBalance { unpaid: 0, in_payout: 0, paid: owed });
    assert_eq!(balance(&store, &party_account(&who(2))).await, 0);
    assert_eq!(balance(&store, &outflow_account()).await, u128::from(owed));
    assert_eq!(store.hub_cell(&first.cells[0]).await.expect("cell").map(|c| c.state), Some(CellState::Spent));
    assert_eq!(store.hub_cell(&first.change.0).await.expect("cell").map(|c| (c.state, c.capacity)), Some((CellState::Free, 50 * CKB)));

    // A failed payout gives its rows back; the next one pays them.
    let both = vec![(who(3), unpaid[&who(3)]), (who(PLATFORM), unpaid[&who(PLATFORM)])];
    let second = payout(104, both.clone(), vec![cell(3, 0), out_point(&p2.tx_hash, 1)]);
    let failing = store.store_hub_payout(&second).await.expect("store");
    assert!(store.fail_hub_payout(failing, 7_000).await.expect("fail"));
    assert!(!store.fail_hub_payout(failing, 7_001).await.expect("again"));
    assert!(!store.complete_hub_payout(failing, 51, 7_002).await.expect("complete"), "a failed payout never pays");
    assert_eq!(store.hub_party_balance(&who(3)).await.expect("balance"), PartyBalance { unpaid: unpaid[&who(3)], in_payout: 0, paid: 0 });
    for c in &second.cells {
        assert_eq!(store.hub_cell(c).await.expect("cell").map(|c| (c.state, c.lease)), Some((CellState::Free, None)));
    }
    assert_eq!(store.hub_cell(&second.change.0).await.expect("cell"), None, "a failed payout makes no cell");
    let third = payout(105, both, vec![cell(3, 0)]);
    let paying = store.store_hub_payout(&third).await.expect("store again");
    assert!(store.complete_hub_payout(paying, 52, 8_000).await.expect("complete"));
    assert!(store.unpaid_hub_balances().await.expect("unpaid").is_empty());
    assert_eq!(balance(&store, &outflow_account()).await, unpaid.values().map(|v| u128::from(*v)).sum::<u128>());

    assert_eq!(hub_error(store.complete_hub_payout(9_999, 1, 0).await).code(), "unknown_payout");
    assert_eq!(hub_error(store.complete_hub_rebalance(id, 1, 0).await).code(), "unknown_payout", "a payout is not a rebalance");
    let nobody = payout(106, vec![], vec![cell(4, 0)]);
    assert_eq!(hub_error(store.store_hub_payout(&nobody).await).code(), "invalid_request");
    audit_passes(&store).await;
}

async fn rebalances_split_and_merge_the_pool(store: Store) {
    pool(&store, &[1], 500 * CKB).await;
    let split = NewRebalance {
        tx: vec![1; 80],
        tx_hash: tx_hash(600),
        fee: 500,
        cells: vec![cell(1, 0)],
        outputs: vec![(cell(600, 0), 100 * CKB), (cell(600, 1), 100 * CKB), (cell(600, 2), 300 * CKB - 500)],
        now: 1_000,
    };
    let id = store.store_hub_rebalance(&split).await.expect("store");
    assert_eq!(store.hub_cell(&cell(1, 0)).await.expect("cell").and_then(|c| c.lease), Some(format!("rebalance:{id}")));
    let busy = new_payment(1, who(1), CKB, &cell(1, 0), &[cell(700, 0)], 1_000);
    assert_eq!(hub_error(store.prepare_hub_payment(&busy).await).code(), "pool_cell_taken");
    assert_eq!(store.sent_hub_transactions(PayoutKind::Rebalance).await.expect("sent").len(), 1);
    assert!(store.complete_hub_rebalance(id, 10, 2_000).await.expect("complete"));
    assert!(!store.complete_hub_rebalance(id, 10, 2_001).await.expect("again"));
    assert_eq!(store.hub_cell(&cell(1, 0)).await.expect("cell").map(|c| c.state), Some(CellState::Spent));
    let stats = store.hub_pool_stats().await.expect("stats");
    assert_eq!((stats.free_cells, stats.free_capacity, stats.leased_cells), (3, 500 * CKB - 500, 0));
    let smallest = store.free_hub_cells(CellOrder::SmallestFirst, 2).await.expect("free");
    assert_eq!(smallest.iter().map(|c| c.out_point.clone()).collect::<Vec<_>>(), vec![cell(600, 0), cell(600, 1)]);
    assert_eq!(store.free_hub_cells(CellOrder::LargestFirst, 1).await.expect("free")[0].out_point, cell(600, 2));

    let merge = NewRebalance {
        tx: vec![2; 80],
        tx_hash: tx_hash(601),
        fee: 400,
        cells: vec![cell(600, 0), cell(600, 1)],
        outputs: vec![(cell(601, 0), 200 * CKB - 400)],
        now: 3_000,
    };
    let merging = store.store_hub_rebalance(&merge).await.expect("store");
    assert!(store.fail_hub_rebalance(merging, 4_000).await.expect("fail"));
    assert_eq!(store.hub_pool_stats().await.expect("stats").free_cells, 3, "a failed merge frees its cells");
    assert_eq!(store.hub_cell(&cell(601, 0)).await.expect("cell"), None);
    // A rebalance naming a leased cell keeps nothing.
    let p = store.prepare_hub_payment(&new_payment(2, who(1), CKB, &cell(600, 2), &[cell(700, 0)], 5_000)).await.expect("prepare");
    let clash = NewRebalance { cells: vec![cell(600, 0), cell(600, 2)], tx_hash: tx_hash(602), ..merge };
    assert_eq!(hub_error(store.store_hub_rebalance(&clash).await).code(), "pool_cell_taken");
    assert_eq!(store.hub_cell(&cell(600, 0)).await.expect("cell").map(|c| c.state), Some(CellState::Free));
    assert_eq!(store.hub_payouts(10, None).await.expect("list").len(), 2);
    assert_eq!(store.hub_cell(&cell(600, 2)).await.expect("cell").and_then(|c| c.lease), Some(format!("payment:{}", p.id)));
}

/// What one racing prepare ended with.
#[derive(Debug)]
enum Raced {
    /// Prepared payment `.0` on pool cell `.1`, after `.2` lost tries.
    Won(i64, String, u32),
    /// Every cell was leased when it looked, after `.0` lost tries.
    NoFreeCell(u32),
    /// Lost every try.
    GaveUp,
}

/// Tries per racing prepare.
const TRIES: u32 = 20;

/// The race: 100 prepares, each from its own sender with its own
/// cell, against a pool of 10 cells, half through each of two stores on
/// one database, all released at once. Each picks a random free cell and
/// tries another on `pool_cell_taken`. Exactly 10 win, no cell is ever
/// held by two open payments (a watcher checks while they run), every
/// loser got a clean `pool_cell_taken` or found no free cell, and failing
/// the 10 frees all 10 cells. Then 10 prepares racing for one sender
/// cell: one wins, the others are `sender_cell_taken` and keep nothing.
async fn racing_prepares_never_lease_a_cell_twice(backend: Backend) {
    let url = fresh_database_url(backend).await.expect("url");
    let a = Store::connect(&url).await.expect("a");
    a.migrate().await.expect("migrate");
    let b = Store::connect(&url).await.expect("b");
    let cells: Vec<u32> = (1..=10).collect();
    pool(&a, &cells, 100 * CKB).await;

    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (store, done) = (a.clone(), done.clone());
        tokio::spawn(async move {
            let mut looks = 0u32;
            while !done.load(Ordering::Relaxed) || looks == 0 {
                let open: Vec<HubPaymentRow> =
                    store.hub_payments(PaymentsOf::All, 500, None).await.expect("list").into_iter().filter(|p| p.state.is_open()).collect();
                let distinct: BTreeSet<&str> = open.iter().map(|p| p.pool_cell.as_str()).collect();
                assert_eq!(distinct.len(), open.len(), "a pool cell held by two open payments");
                looks += 1;
            }
            looks
        })
    };
    let start = Arc::new(Barrier::new(100));
    let mut tasks = Vec::new();
    for i in 0..100u32 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let mut lost = 0;
            for _ in 0..TRIES {
                let Some(free) = store.free_hub_cells(CellOrder::Random, 1).await.expect("free").pop() else {
                    return Raced::NoFreeCell(lost);
                };
                let new = new_payment(i + 1, who(i as u8), CKB, &free.out_point, &[cell(1_000 + i, 0)], 1_000);
                match store.prepare_hub_payment(&new).await {
                    Ok(p) => return Raced::Won(p.id, free.out_point, lost),
                    Err(StoreError::Hub(HubStoreError::PoolCellTaken)) => lost += 1,
                    Err(e) => panic!("an unclean error: {e:?}"),
                }
            }
            Raced::GaveUp
        }));
    }
    let mut won = BTreeMap::new();
    let (mut no_free, mut gave_up, mut lost_tries) = (0, 0, 0);
    for t in tasks {
        match t.await.expect("join") {
            Raced::Won(id, cell, lost) => {
                lost_tries += lost;
                assert!(won.insert(cell, id).is_none(), "a cell won twice");
            }
            Raced::NoFreeCell(lost) => {
                lost_tries += lost;
                no_free += 1;
            }
            Raced::GaveUp => gave_up += 1,
        }
    }
    done.store(true, Ordering::Relaxed);
    assert!(watcher.await.expect("watcher") > 0);
    assert_eq!(won.len(), 10, "exactly one payment per cell");
    assert_eq!(no_free + gave_up, 90);
    eprintln!("{backend:?}: 10 won, {no_free} found no free cell, {gave_up} gave up, {lost_tries} tries lost to pool_cell_taken");
    let open: Vec<HubPaymentRow> = a.hub_payments(PaymentsOf::All, 500, None).await.expect("list");
    assert_eq!(open.len(), 10, "losers keep nothing");
    for p in &open {
        assert_eq!(won.get(&p.pool_cell), Some(&p.id));
        let c = a.hub_cell(&p.pool_cell).await.expect("cell").expect("known");
        assert_eq!((c.state, c.lease), (CellState::Leased, Some(format!("payment:{}", p.id))));
    }
    assert_eq!(a.hub_pool_stats().await.expect("stats").leased_cells, 10);
    for (n, id) in won.values().enumerate() {
        let store = if n % 2 == 0 { &a } else { &b };
        assert!(store.fail_hub_payment(*id, "test over", 2_000).await.expect("fail"));
    }
    let stats = b.hub_pool_stats().await.expect("stats");
    assert_eq!((stats.free_cells, stats.leased_cells), (10, 0), "nothing stuck");

    // Ten prepares, each on its own pool cell, all spending one sender cell.
    let start = Arc::new(Barrier::new(10));
    let mut tasks = Vec::new();
    for (i, n) in cells.iter().enumerate() {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (start, pool_cell) = (start.clone(), cell(*n, 0));
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            store.prepare_hub_payment(&new_payment(200 + i as u32, who(200 + i as u8), CKB, &pool_cell, &[cell(5_000, 0)], 3_000)).await
        }));
    }
    let mut winners = 0;
    for t in tasks {
        match t.await.expect("join") {
            Ok(_) => winners += 1,
            Err(e) => assert_eq!(hub_error::<()>(Err(e)), HubStoreError::SenderCellTaken),
        }
    }
    assert_eq!(winners, 1);
    let stats = a.hub_pool_stats().await.expect("stats");
    assert_eq!((stats.free_cells, stats.leased_cells), (9, 1), "the losers' leases rolled back");
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::fresh_store(super::Backend::Sqlite).await.expect("store")).await })*
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn racing_prepares_never_lease_a_cell_twice() { super::racing_prepares_never_lease_a_cell_twice(super::Backend::Sqlite).await }
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::fresh_store(super::Backend::Postgres).await.expect("store")).await })*
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn racing_prepares_never_lease_a_cell_twice() { super::racing_prepares_never_lease_a_cell_twice(super::Backend::Postgres).await }
        }
    };
}

on_both_backends!(
    a_payment_is_counted_once_with_its_splits,
    failed_and_expired_payments_release_their_cells,
    hostile_prepares_are_refused_and_keep_nothing,
    payouts_pay_each_share_once,
    rebalances_split_and_merge_the_pool,
);
