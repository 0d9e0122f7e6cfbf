//! Payment channel storage, run against SQLite and PostgreSQL: the ledger
//! side of the collateral (open, claim, close) and the receipt writer.

use futures::future::{join_all, maybe_done};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use tollway_core::channel::{ChannelId, PayerKey, SignedSubRav, SubRav, SUBRAV_VERSION};
use tollway_core::ledger::*;
use tollway_core::{Amount, Asset};
use tollway_store::channels::{ClaimRequest, NewChannel, StoredChannel};
use tollway_store::testing::{fresh_database_url, fresh_store, Backend};
use tollway_store::{LedgerWriter, ReceiptWriter, Store, StoreError, Submission, WriterConfig};

const P: Asset = Asset::POINTS;
const CHAIN: u64 = 0x0074_6f6c_6c77_6179;

static NEXT_CHANNEL: AtomicU64 = AtomicU64::new(1);

fn new_channel_id() -> ChannelId {
    let mut id = [0xc4; 32];
    id[24..].copy_from_slice(&NEXT_CHANNEL.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    ChannelId(id)
}

fn key(seed: u8) -> PayerKey {
    PayerKey::from_bytes([seed; 32]).expect("valid key")
}

/// A user holding `points`.
async fn funded_user(store: &Store, handle: &str, points: u128) -> i64 {
    let user = store.create_user(handle, false).await.expect("user").id;
    let grant = Command::Grant(Grant {
        id: TransferId(format!("grant:{handle}")),
        user_id: user,
        asset: P,
        amount: Amount::new(points),
        reason: Reason::Grant,
        links: Links { user_id: Some(user), ..Links::default() },
    });
    let writer = LedgerWriter::spawn(store.clone(), WriterConfig::default());
    writer.submit(Submission { command: grant, record: None }).await.expect("io").result.expect("grant");
    user
}

fn new_channel(user_id: i64, deposit: u128, payer: &PayerKey) -> NewChannel {
    NewChannel {
        id: new_channel_id(),
        user_id,
        asset: P,
        chain_id: CHAIN,
        epoch: 1,
        collateral: Amount::new(deposit),
        key: payer.public(),
    }
}

fn receipt(channel: &StoredChannel, payer: &PayerKey, nonce: u64, accumulated: u128) -> SignedSubRav {
    proposal(channel, payer, nonce, accumulated).sign(payer)
}

fn proposal(channel: &StoredChannel, payer: &PayerKey, nonce: u64, accumulated: u128) -> SubRav {
    SubRav {
        version: SUBRAV_VERSION,
        chain_id: channel.chain_id,
        channel_id: channel.id,
        epoch: channel.epoch,
        sub_channel: payer.id(),
        nonce,
        accumulated: Amount::new(accumulated),
    }
}

async fn balance(store: &Store, account: &AccountId) -> Amount {
    store.account(account).await.expect("read").map(|a| a.balance()).unwrap_or_default()
}

async fn wallet(store: &Store, user: i64) -> Amount {
    balance(store, &AccountId::user_wallet(user, P)).await
}

async fn escrow(store: &Store, id: &ChannelId) -> Amount {
    balance(store, &AccountId::channel_escrow(id, P)).await
}

/// What revenue has received (its credits; it is credit-normal).
async fn revenue(store: &Store) -> Amount {
    balance(store, &AccountId::revenue(P)).await
}

async fn assert_audit_clean(store: &Store) {
    let audit = store.audit().await.expect("audit");
    assert_eq!(audit.violation, None, "ledger invariant broken");
}

fn code<T: std::fmt::Debug>(result: Result<T, StoreError>) -> &'static str {
    match result {
        Err(StoreError::Channel(e)) => e.code(),
        other => panic!("expected a channel error, got {other:?}"),
    }
}

async fn reload(store: &Store, id: &ChannelId) -> StoredChannel {
    store.channel(id).await.expect("read").expect("channel")
}

async fn open_moves_exactly_the_deposit(store: Store) {
    let user = funded_user(&store, "ada", 1_000).await;
    let payer = key(1);
    let new = new_channel(user, 300, &payer);
    let opened = store.open_channel(&new).await.expect("open");
    assert_eq!((opened.id, opened.user_id, opened.asset, opened.chain_id, opened.epoch), (new.id, user, P, CHAIN, 1));
    assert_eq!((opened.collateral, opened.open, opened.closed_at, opened.refunded), (Amount::new(300), true, None, Amount::ZERO));
    assert_eq!(opened.subs.len(), 1);
    let sub = &opened.subs[0];
    assert_eq!((sub.id, sub.key, sub.nonce, sub.accumulated, sub.claimed), (payer.id(), payer.public(), 0, Amount::ZERO, Amount::ZERO));
    assert_eq!((sub.latest, sub.pending), (None, None));
    assert_eq!((wallet(&store, user).await, escrow(&store, &new.id).await), (Amount::new(700), Amount::new(300)));
    let escrow_account = store.account(&AccountId::channel_escrow(&new.id, P)).await.expect("read").expect("escrow");
    assert_eq!(escrow_account.flags, AccountFlags::WALLET);
    assert_eq!(store.channel(&new.id).await.expect("read"), Some(opened.clone()));
    assert_eq!(store.channels_of(user).await.expect("list"), vec![opened.clone()]);
    let core = opened.to_core();
    assert_eq!((core.id, core.collateral, core.open, core.subs.len()), (new.id, Amount::new(300), true, 1));
    // The same id again, or no deposit, is refused and moves nothing.
    assert_eq!(code(store.open_channel(&new).await), "channel_exists");
    assert_eq!(code(store.open_channel(&NewChannel { collateral: Amount::ZERO, ..new_channel(user, 0, &payer) }).await), "invalid_amount");
    let second = store.open_channel(&new_channel(user, 200, &key(2))).await.expect("open");
    assert_eq!(wallet(&store, user).await, Amount::new(500));
    let ids: Vec<ChannelId> = store.channels_of(user).await.expect("list").iter().map(|c| c.id).collect();
    assert_eq!(ids, [new.id, second.id]);
    assert_eq!(store.channel(&new_channel_id()).await.expect("read"), None);
    assert_audit_clean(&store).await;
}

async fn open_without_enough_points_writes_nothing(store: Store) {
    let user = funded_user(&store, "bea", 100).await;
    let new = new_channel(user, 101, &key(1));
    assert_eq!(code(store.open_channel(&new).await), "insufficient_points");
    assert_eq!(wallet(&store, user).await, Amount::new(100));
    assert_eq!(store.channel(&new.id).await.expect("read"), None);
    assert!(store.channels_of(user).await.expect("list").is_empty());
    assert_eq!(store.account(&AccountId::channel_escrow(&new.id, P)).await.expect("read"), None);
    let audit = store.audit().await.expect("audit");
    assert_eq!((audit.transfers, audit.violation), (1, None), "only the grant is recorded");
    // The whole balance is enough.
    store.open_channel(&new_channel(user, 100, &key(1))).await.expect("open");
    assert_eq!(wallet(&store, user).await, Amount::ZERO);
}

async fn receipts_are_compare_and_set(store: Store) {
    let user = funded_user(&store, "cyd", 1_000).await;
    let payer = key(3);
    let channel = store.open_channel(&new_channel(user, 1_000, &payer)).await.expect("open");
    let writer = ReceiptWriter::spawn(store.clone(), WriterConfig::default());
    let first = receipt(&channel, &payer, 1, 10);
    assert!(writer.accept(channel.id, first, 0).await.expect("accept"));
    let second = receipt(&channel, &payer, 2, 25);
    assert!(writer.accept(channel.id, second, 1).await.expect("accept"));
    // Checked against a state that moved on: refused, nothing changes.
    assert!(!writer.accept(channel.id, receipt(&channel, &payer, 3, 30), 1).await.expect("accept"));
    assert!(!writer.accept(channel.id, first, 0).await.expect("accept"));
    let sub = reload(&store, &channel.id).await.subs[0].clone();
    assert_eq!((sub.nonce, sub.accumulated, sub.latest), (2, Amount::new(25), Some(second)));
    // The nonce must go up, even with the right previous nonce.
    assert!(!writer.accept(channel.id, receipt(&channel, &payer, 2, 40), 2).await.expect("accept"));
    assert_eq!(code(writer.accept(new_channel_id(), second, 2).await), "channel_mismatch");
    // Nonces beyond i64 work.
    let huge = receipt(&channel, &payer, u64::MAX - 1, 50);
    assert!(writer.accept(channel.id, huge, 2).await.expect("accept"));
    let last = receipt(&channel, &payer, u64::MAX, 60);
    assert!(writer.accept(channel.id, last, u64::MAX - 1).await.expect("accept"));
    let sub = reload(&store, &channel.id).await.subs[0].clone();
    assert_eq!((sub.nonce, sub.accumulated, sub.latest), (u64::MAX, Amount::new(60), Some(last)));
    // An unknown sub-channel is never written.
    let stranger = key(4);
    assert!(!writer.accept(channel.id, receipt(&channel, &stranger, 1, 1), 0).await.expect("accept"));
}

async fn accepted_receipt_drops_the_pending_proposal_it_covers(store: Store) {
    let user = funded_user(&store, "dot", 1_000).await;
    let payer = key(5);
    let channel = store.open_channel(&new_channel(user, 1_000, &payer)).await.expect("open");
    let writer = ReceiptWriter::spawn(store.clone(), WriterConfig::default());
    let pending = |c: &StoredChannel| c.subs[0].pending;
    let p1 = proposal(&channel, &payer, 1, 10);
    store.set_pending(&channel.id, &payer.id(), Some(&p1)).await.expect("pending");
    assert_eq!(pending(&reload(&store, &channel.id).await), Some(p1));
    assert_eq!(reload(&store, &channel.id).await.to_core().subs[&payer.id()].pending, Some(p1));
    assert!(writer.accept(channel.id, p1.sign(&payer), 0).await.expect("accept"));
    assert_eq!(pending(&reload(&store, &channel.id).await), None, "covered by the receipt");
    let p3 = proposal(&channel, &payer, 3, 30);
    store.set_pending(&channel.id, &payer.id(), Some(&p3)).await.expect("pending");
    assert!(writer.accept(channel.id, receipt(&channel, &payer, 2, 20), 1).await.expect("accept"));
    assert_eq!(pending(&reload(&store, &channel.id).await), Some(p3), "newer than the receipt");
}

async fn set_pending_ignored_when_not_newer(store: Store) {
    let user = funded_user(&store, "eve", 1_000).await;
    let payer = key(6);
    let channel = store.open_channel(&new_channel(user, 1_000, &payer)).await.expect("open");
    let writer = ReceiptWriter::spawn(store.clone(), WriterConfig::default());
    assert!(writer.accept(channel.id, receipt(&channel, &payer, 2, 20), 0).await.expect("accept"));
    let sub = payer.id();
    let pending = async || reload(&store, &channel.id).await.subs[0].pending;
    store.set_pending(&channel.id, &sub, Some(&proposal(&channel, &payer, 2, 25))).await.expect("pending");
    assert_eq!(pending().await, None, "not above the accepted nonce");
    let p4 = proposal(&channel, &payer, 4, 40);
    store.set_pending(&channel.id, &sub, Some(&p4)).await.expect("pending");
    assert_eq!(pending().await, Some(p4));
    store.set_pending(&channel.id, &sub, Some(&proposal(&channel, &payer, 3, 30))).await.expect("pending");
    assert_eq!(pending().await, Some(p4), "older than the stored proposal");
    let p5 = proposal(&channel, &payer, 5, 50);
    store.set_pending(&channel.id, &sub, Some(&p5)).await.expect("pending");
    assert_eq!(pending().await, Some(p5));
    store.set_pending(&channel.id, &sub, None).await.expect("clear");
    assert_eq!(pending().await, None);
    assert_eq!(code(store.set_pending(&channel.id, &key(7).id(), Some(&p5)).await), "channel_mismatch");
}

/// Runs `accepts` concurrently, started in the order given: each is polled
/// once in turn (outside tokio's cooperative budget, so none is put off),
/// which queues its receipt for the writer; then all are awaited.
async fn started_in_order<F: Future<Output = bool>>(accepts: Vec<F>) -> Vec<bool> {
    let mut started: Vec<_> = accepts.into_iter().map(|f| Box::pin(maybe_done(f))).collect();
    tokio::task::unconstrained(async {
        for accept in &mut started {
            let _ = futures::poll!(accept.as_mut());
        }
    })
    .await;
    join_all(started.iter_mut().map(|f| f.as_mut())).await;
    started.iter_mut().map(|f| f.as_mut().take_output().expect("done")).collect()
}

async fn concurrent_accepts_all_land(store: Store) {
    const CHANNELS: usize = 50;
    const PER_CHANNEL: u64 = 40;
    let user = funded_user(&store, "fay", 1_000_000).await;
    let mut channels = Vec::new();
    for i in 0..CHANNELS {
        let payer = key(10 + i as u8);
        let channel = store.open_channel(&new_channel(user, 10_000, &payer)).await.expect("open");
        channels.push((channel, payer));
    }
    let writer = ReceiptWriter::spawn(store.clone(), WriterConfig::default());
    // All at once, round-robin over the channels: each channel's receipts
    // reach the writer in nonce order, interleaved with the others', and
    // many share a batch with their predecessor, whose compare-and-set
    // they must see.
    let mut accepts = Vec::new();
    for nonce in 1..=PER_CHANNEL {
        for (channel, payer) in &channels {
            let signed = receipt(channel, payer, nonce, u128::from(nonce) * 7);
            let writer = writer.clone();
            accepts.push(async move { writer.accept(signed.rav.channel_id, signed, nonce - 1).await.expect("accept") });
        }
    }
    let results = started_in_order(accepts).await;
    assert_eq!(results.len(), 2_000);
    assert!(results.iter().all(|applied| *applied), "{} refused", results.iter().filter(|a| !**a).count());
    let stats = writer.stats();
    assert_eq!(stats.commands, 2_000);
    assert!(stats.batches < 2_000, "no group commit: {stats:?}");
    for (channel, payer) in &channels {
        let sub = reload(&store, &channel.id).await.subs[0].clone();
        let last = receipt(channel, payer, PER_CHANNEL, u128::from(PER_CHANNEL) * 7);
        assert_eq!((sub.nonce, sub.accumulated, sub.latest), (PER_CHANNEL, Amount::new(280), Some(last)));
    }
}

async fn two_writers_race_for_one_sub_channel(backend: Backend) {
    let url = fresh_database_url(backend).await.expect("db");
    let a = Store::connect(&url).await.expect("connect");
    a.migrate().await.expect("migrate");
    let b = Store::connect(&url).await.expect("connect");
    let user = funded_user(&a, "gus", 1_000).await;
    let payer = key(8);
    let channel = a.open_channel(&new_channel(user, 1_000, &payer)).await.expect("open");
    let (wa, wb) = (ReceiptWriter::spawn(a.clone(), WriterConfig::default()), ReceiptWriter::spawn(b.clone(), WriterConfig::default()));
    // Each round, both processes persist a different receipt checked
    // against the same state: exactly one wins.
    for nonce in 1..=20u64 {
        let (ra, rb) = (receipt(&channel, &payer, nonce, u128::from(nonce) * 2), receipt(&channel, &payer, nonce, u128::from(nonce) * 3));
        let (x, y) = tokio::join!(wa.accept(channel.id, ra, nonce - 1), wb.accept(channel.id, rb, nonce - 1));
        let (x, y) = (x.expect("accept"), y.expect("accept"));
        assert!(x ^ y, "round {nonce}: {x} {y}");
        let sub = reload(&b, &channel.id).await.subs[0].clone();
        let winner = if x { ra } else { rb };
        assert_eq!((sub.nonce, sub.latest), (nonce, Some(winner)));
    }
}

async fn claim_moves_exactly_the_unclaimed(store: Store) {
    let user = funded_user(&store, "hal", 1_000).await;
    let (a, b) = (key(20), key(21));
    let channel = store.open_channel(&new_channel(user, 1_000, &a)).await.expect("open");
    let with_b = store.add_sub_channel(&channel.id, b.public()).await.expect("add key");
    assert_eq!(with_b.subs.len(), 2);
    assert_eq!(store.add_sub_channel(&channel.id, b.public()).await.expect("again"), with_b, "idempotent");
    let writer = ReceiptWriter::spawn(store.clone(), WriterConfig::default());
    assert!(writer.accept(channel.id, receipt(&channel, &a, 1, 100), 0).await.expect("accept"));
    assert!(writer.accept(channel.id, receipt(&channel, &b, 1, 50), 0).await.expect("accept"));
    let all = ClaimRequest { channels: None, min_unclaimed: Amount::ZERO };
    let report = store.claim(&all).await.expect("claim");
    assert_eq!((report.sub_channels, report.amount), (2, Amount::new(150)));
    assert_eq!((escrow(&store, &channel.id).await, revenue(&store).await), (Amount::new(850), Amount::new(150)));
    let claimed = reload(&store, &channel.id).await;
    assert_eq!((claimed.owed(), claimed.claimed()), (Amount::new(150), Amount::new(150)));
    let again = store.claim(&all).await.expect("claim");
    assert_eq!((again.sub_channels, again.amount), (0, Amount::ZERO));
    assert_eq!(revenue(&store).await, Amount::new(150));
    // 60 more: below a threshold of 100, and not in another channel's run.
    assert!(writer.accept(channel.id, receipt(&channel, &a, 2, 160), 1).await.expect("accept"));
    let threshold = ClaimRequest { channels: None, min_unclaimed: Amount::new(100) };
    assert_eq!(store.claim(&threshold).await.expect("claim").sub_channels, 0);
    let other = ClaimRequest { channels: Some(vec![new_channel_id()]), min_unclaimed: Amount::ZERO };
    assert_eq!(store.claim(&other).await.expect("claim").sub_channels, 0);
    let this = ClaimRequest { channels: Some(vec![channel.id]), min_unclaimed: Amount::new(60) };
    let report = store.claim(&this).await.expect("claim");
    assert_eq!((report.sub_channels, report.amount), (1, Amount::new(60)));
    assert_eq!((escrow(&store, &channel.id).await, revenue(&store).await), (Amount::new(790), Amount::new(210)));
    let history = store.history(user, &Default::default(), None, 10).await.expect("history");
    let claims = history.iter().filter(|e| e.transfer.id.0.starts_with(&format!("chclaim:{}:", channel.id))).count();
    assert_eq!(claims, 3);
    assert_audit_clean(&store).await;
}

async fn claim_concurrent_with_accepts_stays_within_the_latest_receipt(store: Store) {
    let user = funded_user(&store, "ivo", 10_000).await;
    let payer = key(30);
    let channel = store.open_channel(&new_channel(user, 10_000, &payer)).await.expect("open");
    let writer = ReceiptWriter::spawn(store.clone(), WriterConfig::default());
    let signer = {
        let (channel, writer) = (channel.clone(), writer.clone());
        tokio::spawn(async move {
            let payer = key(30);
            for nonce in 1..=300u64 {
                let signed = receipt(&channel, &payer, nonce, u128::from(nonce) * 3);
                assert!(writer.accept(channel.id, signed, nonce - 1).await.expect("accept"));
            }
        })
    };
    let all = ClaimRequest { channels: None, min_unclaimed: Amount::ZERO };
    let mut claimed_total = Amount::ZERO;
    while !signer.is_finished() {
        let report = store.claim(&all).await.expect("claim");
        claimed_total = claimed_total.checked_add(report.amount).expect("sum");
        let sub = reload(&store, &channel.id).await.subs[0].clone();
        let latest = sub.latest.map_or(Amount::ZERO, |l| l.rav.accumulated);
        assert!(sub.claimed <= latest, "claimed {} above the latest receipt's {latest}", sub.claimed);
        assert_eq!(revenue(&store).await, claimed_total);
    }
    signer.await.expect("signer");
    claimed_total = claimed_total.checked_add(store.claim(&all).await.expect("claim").amount).expect("sum");
    assert_eq!(claimed_total, Amount::new(900));
    assert_eq!((escrow(&store, &channel.id).await, revenue(&store).await), (Amount::new(9_100), Amount::new(900)));
    assert_audit_clean(&store).await;
}

async fn close_claims_the_rest_and_refunds_exactly(store: Store) {
    let user = funded_user(&store, "jan", 1_500).await;
    let (a, b) = (key(40), key(41));
    let channel = store.open_channel(&new_channel(user, 1_000, &a)).await.expect("open");
    store.add_sub_channel(&channel.id, b.public()).await.expect("add key");
    let writer = ReceiptWriter::spawn(store.clone(), WriterConfig::default());
    assert!(writer.accept(channel.id, receipt(&channel, &a, 1, 120), 0).await.expect("accept"));
    assert!(writer.accept(channel.id, receipt(&channel, &b, 1, 30), 0).await.expect("accept"));
    store.claim(&ClaimRequest { channels: None, min_unclaimed: Amount::ZERO }).await.expect("claim");
    assert!(writer.accept(channel.id, receipt(&channel, &a, 2, 200), 1).await.expect("accept"));
    let closed = store.close_channel(&channel.id).await.expect("close");
    assert!(!closed.open);
    assert!(closed.closed_at.is_some());
    assert_eq!((closed.owed(), closed.claimed(), closed.refunded), (Amount::new(230), Amount::new(230), Amount::new(770)));
    let (w, r, e) = (wallet(&store, user).await, revenue(&store).await, escrow(&store, &channel.id).await);
    assert_eq!((w, r, e), (Amount::new(1_270), Amount::new(230), Amount::ZERO));
    assert_eq!(w.checked_add(r).and_then(|s| s.checked_add(e)).expect("sum"), Amount::new(1_500), "nothing created or lost");
    assert!(!closed.to_core().open);
    // Closing again changes nothing.
    assert_eq!(store.close_channel(&channel.id).await.expect("close"), closed);
    assert_eq!((wallet(&store, user).await, revenue(&store).await), (w, r));
    // A closed channel takes no receipt and no key, and claims find nothing.
    assert!(!writer.accept(channel.id, receipt(&channel, &a, 3, 250), 2).await.expect("accept"));
    assert_eq!(code(store.add_sub_channel(&channel.id, key(42).public()).await), "channel_closed");
    assert_eq!(store.claim(&ClaimRequest { channels: None, min_unclaimed: Amount::ZERO }).await.expect("claim").sub_channels, 0);
    assert_eq!(reload(&store, &channel.id).await, closed);
    assert_eq!(code(store.close_channel(&new_channel_id()).await), "unknown_channel");
    assert_eq!(code(store.add_sub_channel(&new_channel_id(), key(42).public()).await), "unknown_channel");
    assert_audit_clean(&store).await;
}

async fn close_without_receipts_refunds_everything(store: Store) {
    let user = funded_user(&store, "kai", 500).await;
    let channel = store.open_channel(&new_channel(user, 500, &key(50))).await.expect("open");
    let closed = store.close_channel(&channel.id).await.expect("close");
    assert_eq!((closed.claimed(), closed.refunded), (Amount::ZERO, Amount::new(500)));
    assert_eq!((wallet(&store, user).await, escrow(&store, &channel.id).await), (Amount::new(500), Amount::ZERO));
    assert_audit_clean(&store).await;
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::fresh_store(super::Backend::Sqlite).await.expect("store")).await })*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn two_writers_race_for_one_sub_channel() { super::two_writers_race_for_one_sub_channel(super::Backend::Sqlite).await }
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::fresh_store(super::Backend::Postgres).await.expect("store")).await })*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn two_writers_race_for_one_sub_channel() { super::two_writers_race_for_one_sub_channel(super::Backend::Postgres).await }
        }
    };
}

on_both_backends!(
    open_moves_exactly_the_deposit,
    open_without_enough_points_writes_nothing,
    receipts_are_compare_and_set,
    accepted_receipt_drops_the_pending_proposal_it_covers,
    set_pending_ignored_when_not_newer,
    concurrent_accepts_all_land,
    claim_moves_exactly_the_unclaimed,
    claim_concurrent_with_accepts_stays_within_the_latest_receipt,
    close_claims_the_rest_and_refunds_exactly,
    close_without_receipts_refunds_everything,
);
