//! The stablecoin checkout's books on SQLite and PostgreSQL: unique
//! amounts under the partial unique index (also with two stores on one
//! database racing), matching by exact amount, the cursor's
//! compare-and-set, reorg rewinds, and the points credit made exactly once
//! in the transaction that marks a session paid.

use tollway_core::evm::{Address, Hash32, Status, TokenAmount, TransferLog};
use tollway_core::ledger::AccountId;
use tollway_core::Asset;
use tollway_store::evm::{EvmStoreError, FoundTransfer, NetworkRow, NewSession, TokenRow, TransferState};
use tollway_store::testing::{fresh_database_url, fresh_store, Backend};
use tollway_store::{Store, StoreError};

const E18: u128 = 1_000_000_000_000_000_000;
const STEP: u128 = 1_000_000_000_000;

fn address(byte: u8) -> Address {
    Address([byte; 20])
}

fn network() -> NetworkRow {
    NetworkRow {
        id: "bsc-local".into(),
        name: "local".into(),
        chain_id: 56,
        rpc_urls: vec!["http://127.0.0.1:1".into()],
        websocket_url: None,
        deposit_address: address(0xd0),
        confirmations: 3,
        is_active: true,
    }
}

fn usdt() -> TokenRow {
    TokenRow { network_id: "bsc-local".into(), symbol: "USDT".into(), name: "Tether USD".into(), contract_address: address(0x11), decimals: 18, is_active: true }
}

async fn synced(store: &Store) {
    store.sync_networks(&[(network(), vec![usdt()])]).await.expect("sync");
}

fn new_session(id: &str, units: u128, creator: &str, now: i64) -> NewSession {
    NewSession {
        id: id.into(),
        network: network(),
        token: usdt(),
        product_id: None,
        description: "test".into(),
        requested: TokenAmount { units, decimals: 18 },
        candidates: tollway_core::evm::amount_candidates(units, STEP, 50).expect("candidates"),
        user_id: None,
        points: None,
        webhook_url: None,
        metadata: "{}".into(),
        creator: creator.into(),
        max_open_per_creator: 100,
        now,
        expires_at: now + 60_000,
        release_at: now + 120_000,
    }
}

fn found(value: u128, tx: u8, block: u64) -> FoundTransfer {
    FoundTransfer { log: log(value, tx, block), block_time_ms: 1_000 }
}

fn log(value: u128, tx: u8, block: u64) -> TransferLog {
    TransferLog {
        token: address(0x11),
        from: address(0xaa),
        to: address(0xd0),
        value: Some(value),
        value_text: value.to_string(),
        tx_hash: Hash32([tx; 32]),
        log_index: 0,
        block_number: block,
        block_hash: Hash32([block as u8; 32]),
    }
}

async fn unique_amounts_are_reserved_and_released(store: Store) {
    synced(&store).await;
    let mut amounts = Vec::new();
    for i in 0..3 {
        amounts.push(store.create_payment_session(&new_session(&format!("pay_{i}"), E18, "ip:1", 0)).await.expect("create").state.amount_due);
    }
    assert_eq!(amounts, vec![E18, E18 + STEP, E18 + 2 * STEP]);
    // Expired at 60 s, still held (a late payment must find it) until 120 s.
    let expired = store.expire_payment_sessions(60_000).await.expect("expire");
    assert_eq!(expired.len(), 3);
    assert!(expired.iter().all(|s| s.state.status == Status::Expired));
    let held = store.create_payment_session(&new_session("pay_3", E18, "ip:1", 60_000)).await.expect("create");
    assert_eq!(held.state.amount_due, E18 + 3 * STEP);
    store.expire_payment_sessions(120_000).await.expect("release");
    let reused = store.create_payment_session(&new_session("pay_4", E18, "ip:1", 120_001)).await.expect("create");
    assert_eq!(reused.state.amount_due, E18, "released amounts are reused");
}

async fn a_creator_has_a_limit_and_amounts_run_out(store: Store) {
    synced(&store).await;
    let mut limited = new_session("pay_a", E18, "ip:9", 0);
    limited.max_open_per_creator = 1;
    store.create_payment_session(&limited).await.expect("first");
    let second = NewSession { id: "pay_b".into(), ..limited.clone() };
    assert!(matches!(store.create_payment_session(&second).await, Err(StoreError::Evm(EvmStoreError::TooManyOpen))));
    let mut few = new_session("pay_c", 5 * E18, "ip:8", 0);
    few.candidates.truncate(1);
    store.create_payment_session(&few).await.expect("the only amount");
    let again = NewSession { id: "pay_d".into(), ..few };
    assert!(matches!(store.create_payment_session(&again).await, Err(StoreError::Evm(EvmStoreError::NoFreeAmount))));
}

async fn a_scan_matches_exact_amounts_and_credits_once(store: Store) {
    synced(&store).await;
    let user = store.create_user("buyer", false).await.expect("user");
    let mut new = new_session("pay_paid", E18, "ip:1", 0);
    new.user_id = Some(user.id);
    new.points = Some(10_000);
    let session = store.create_payment_session(&new).await.expect("create");
    let n = network();
    // One exact transfer, one that matches nothing (a different amount).
    let transfers = [found(session.state.amount_due, 1, 5), found(E18 - 1, 2, 5)];
    let outcome = store.record_evm_scan(&n, None, (5, Hash32([5; 32])), &transfers, 512, 10).await.expect("scan");
    assert_eq!(outcome.recorded.len(), 2);
    assert_eq!(outcome.recorded[0].transfer.session_id.as_deref(), Some("pay_paid"));
    assert_eq!(outcome.recorded[0].session.as_ref().map(|s| s.state.status), Some(Status::Confirming));
    assert_eq!(outcome.recorded[1].transfer.session_id, None, "a different amount is unmatched");
    assert_eq!(store.unmatched_evm_transfers(10).await.expect("unmatched").len(), 1);
    // A stale cursor (another process scanned first) writes nothing.
    let stale = store.record_evm_scan(&n, None, (6, Hash32([6; 32])), &[found(1, 3, 6)], 512, 11).await;
    assert!(matches!(stale, Err(StoreError::Evm(EvmStoreError::CursorMoved))));
    assert_eq!(store.evm_cursor("bsc-local").await.expect("cursor"), Some((5, Hash32([5; 32]))));
    // The same scan again records nothing new.
    let again = store.record_evm_scan(&n, Some((5, Hash32([5; 32]))), (5, Hash32([5; 32])), &transfers, 512, 12).await.expect("rescan");
    assert!(again.recorded.iter().all(|r| !r.is_new));
    let seen = store.evm_transfers_to_confirm("bsc-local", 5).await.expect("seen");
    assert_eq!(seen.len(), 2);
    let paid = store.confirm_evm_transfer(&seen[0], 20).await.expect("confirm").expect("session");
    assert_eq!(paid.state.status, Status::Paid);
    assert_eq!(paid.paid_at, Some(20));
    assert_eq!(store.confirm_evm_transfer(&seen[0], 21).await.expect("again"), None, "confirmed once");
    let wallet = store.account(&AccountId::user_wallet(user.id, Asset::POINTS)).await.expect("read").expect("wallet");
    assert_eq!(wallet.balance().units(), 10_000);
}

async fn a_reorg_rewinds_and_a_rescan_brings_the_payment_back(store: Store) {
    synced(&store).await;
    let session = store.create_payment_session(&new_session("pay_reorg", 2 * E18, "ip:1", 0)).await.expect("create");
    let n = network();
    store.record_evm_scan(&n, None, (5, Hash32([5; 32])), &[found(session.state.amount_due, 7, 5)], 512, 1).await.expect("scan");
    store.record_evm_scan(&n, Some((5, Hash32([5; 32]))), (8, Hash32([8; 32])), &[], 512, 2).await.expect("scan");
    assert_eq!(store.evm_checkpoints("bsc-local").await.expect("checkpoints").len(), 2);
    let changed = store.rewind_evm("bsc-local", (4, Hash32([4; 32])), 3).await.expect("rewind");
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].state.status, Status::Waiting);
    assert_eq!(changed[0].state.seen, 0);
    assert_eq!(store.evm_cursor("bsc-local").await.expect("cursor"), Some((4, Hash32([4; 32]))));
    let dropped = store.session_transfers("pay_reorg").await.expect("transfers");
    assert_eq!(dropped[0].state, TransferState::Dropped);
    // The same transaction, mined again in the new block 6.
    let mut moved = found(session.state.amount_due, 7, 6);
    moved.log.block_hash = Hash32([0x66; 32]);
    let back = store.record_evm_scan(&n, Some((4, Hash32([4; 32]))), (6, Hash32([0x66; 32])), &[moved], 512, 4).await.expect("rescan");
    assert!(back.recorded[0].is_new);
    assert_eq!(back.recorded[0].session.as_ref().map(|s| (s.state.status, s.state.seen)), Some((Status::Confirming, 2 * E18)));
    let row = &store.session_transfers("pay_reorg").await.expect("transfers")[0];
    assert_eq!((row.state, row.block_number, row.block_hash), (TransferState::Seen, 6, Hash32([0x66; 32])));
}

/// Two stores on one database (two processes) create sessions for one
/// amount at once, 16 at a time, 640 in all: every creation succeeds
/// (a loser takes the next free amount, past the first window of
/// candidates, instead of failing) and no two share an amount.
async fn racing_creations_never_share_an_amount(backend: Backend) {
    let url = fresh_database_url(backend).await.expect("url");
    let a = Store::connect(&url).await.expect("a");
    a.migrate().await.expect("migrate");
    let b = Store::connect(&url).await.expect("b");
    synced(&a).await;
    let mut tasks = Vec::new();
    for worker in 0..16 {
        let store = if worker % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let mut amounts = Vec::new();
            for k in 0..40 {
                let mut new = new_session(&format!("pay_r{worker}_{k}"), E18, &format!("ip:{worker}"), 0);
                new.candidates = tollway_core::evm::amount_candidates(E18, STEP, 1000).expect("candidates");
                amounts.push(store.create_payment_session(&new).await.map(|s| s.state.amount_due));
            }
            amounts
        }));
    }
    let mut amounts = Vec::new();
    for t in tasks {
        for created in t.await.expect("join") {
            amounts.push(created.expect("every racing creation succeeds"));
        }
    }
    amounts.sort_unstable();
    let expected: Vec<u128> = (0..640).map(|k| E18 + k * STEP).collect();
    assert_eq!(amounts, expected);
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::fresh_store(super::Backend::Sqlite).await.expect("store")).await })*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn racing_creations_never_share_an_amount() { super::racing_creations_never_share_an_amount(super::Backend::Sqlite).await }
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::fresh_store(super::Backend::Postgres).await.expect("store")).await })*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn racing_creations_never_share_an_amount() { super::racing_creations_never_share_an_amount(super::Backend::Postgres).await }
        }
    };
}

on_both_backends!(
    unique_amounts_are_reserved_and_released,
    a_creator_has_a_limit_and_amounts_run_out,
    a_scan_matches_exact_amounts_and_credits_once,
    a_reorg_rewinds_and_a_rescan_brings_the_payment_back,
);
