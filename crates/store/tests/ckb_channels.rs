//! CKB-backed channel storage and the task log, run against SQLite and
//! PostgreSQL: the chain side of a channel (terms, funding, commitments,
//! state moves as compare-and-set), the channel row that follows it, claims
//! and the ledger close leaving it alone, and the task log.

use std::sync::atomic::{AtomicU64, Ordering};
use tollway_core::channel::{ChannelId, PayerKey, SignedSubRav, SubRav, SUBRAV_VERSION};
use tollway_core::ckb::SpilmanState;
use tollway_core::ledger::*;
use tollway_core::{Amount, Asset};
use tollway_store::channels::{ClaimRequest, NewChannel};
use tollway_store::testing::{fresh_database_url, fresh_store, Backend};
use tollway_store::{KeptCommitment, LedgerWriter, NewCkbChannel, ReceiptWriter, Store, StoreError, Submission, TaskRun, WriterConfig};

const CHAIN: u64 = 0x0074_6f6c_6c77_6179;
const SHANNONS: u64 = 100_000_000;

static NEXT_CHANNEL: AtomicU64 = AtomicU64::new(1);

fn new_channel_id() -> ChannelId {
    let mut id = [0xcb; 32];
    id[24..].copy_from_slice(&NEXT_CHANNEL.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    ChannelId(id)
}

fn key(seed: u8) -> PayerKey {
    PayerKey::from_bytes([seed; 32]).expect("valid key")
}

/// An out point `0x<tx hash>:<index>`.
fn out_point(seed: u8, index: u32) -> String {
    format!("0x{}:{index}", hex::encode([seed; 32]))
}

fn new_ckb_channel(user_id: i64, buyer: &PayerKey, cells: &[String]) -> NewCkbChannel {
    NewCkbChannel {
        channel: NewChannel {
            id: new_channel_id(),
            user_id,
            asset: Asset::CKB,
            chain_id: CHAIN,
            epoch: 1,
            collateral: Amount::new(u128::from(939 * SHANNONS - 1_000)),
            key: buyer.public(),
        },
        seller_key: key(0xee).public(),
        buyer_deposit: 1_000 * SHANNONS,
        seller_cofund: 61 * SHANNONS,
        fee: 1_000,
        expiry_block: 12_345,
        seller_cells: cells.to_vec(),
        pay_until: 1_700_000_000_000,
    }
}

fn code<T: std::fmt::Debug>(result: Result<T, StoreError>) -> &'static str {
    match result {
        Err(StoreError::Channel(e)) => e.code(),
        other => panic!("expected a channel error, got {other:?}"),
    }
}

fn receipt(id: ChannelId, payer: &PayerKey, nonce: u64, accumulated: u128) -> SignedSubRav {
    SubRav {
        version: SUBRAV_VERSION,
        chain_id: CHAIN,
        channel_id: id,
        epoch: 1,
        sub_channel: payer.id(),
        nonce,
        accumulated: Amount::new(accumulated),
    }
    .sign(payer)
}

async fn user(store: &Store, handle: &str) -> i64 {
    store.create_user(handle, false).await.expect("user").id
}

/// A user holding `points`.
async fn funded_user(store: &Store, handle: &str, points: u128) -> i64 {
    let user = user(store, handle).await;
    let grant = Command::Grant(Grant {
        id: TransferId(format!("grant:{handle}")),
        user_id: user,
        asset: Asset::POINTS,
        amount: Amount::new(points),
        reason: Reason::Grant,
        links: Links { user_id: Some(user), ..Links::default() },
    });
    let writer = LedgerWriter::spawn(store.clone(), WriterConfig::default());
    writer.submit(Submission { command: grant, record: None }).await.expect("io").result.expect("grant");
    user
}

/// Takes a proposed channel to `active` the way the server does.
async fn activate(store: &Store, id: &ChannelId) {
    assert!(store.set_ckb_funding(id, &[1, 2, 3], [7; 32], &out_point(0xaa, 0), [9; 65]).await.expect("funding"));
    assert!(store.set_ckb_state(id, SpilmanState::RefundSigned, SpilmanState::Funding, None).await.expect("sent"));
    assert!(store.set_ckb_state(id, SpilmanState::Funding, SpilmanState::Active, None).await.expect("committed"));
}

async fn open_reads_back_every_field(store: Store) {
    let user = user(&store, "ada").await;
    let buyer = key(1);
    let cells = [out_point(1, 0), out_point(2, 7)];
    let new = new_ckb_channel(user, &buyer, &cells);
    let opened = store.open_ckb_channel(&new).await.expect("open");
    assert_eq!((opened.id, opened.user_id, opened.state), (new.channel.id, user, SpilmanState::Proposed));
    assert_eq!((opened.buyer_key, opened.seller_key), (buyer.public(), key(0xee).public()));
    assert_eq!((opened.buyer_deposit, opened.seller_cofund, opened.fee), (1_000 * SHANNONS, 61 * SHANNONS, 1_000));
    assert_eq!((opened.expiry_block, opened.seller_cells.as_slice()), (12_345, cells.as_slice()));
    assert_eq!(opened.pay_until, Some(1_700_000_000_000));
    assert_eq!((&opened.funding_tx, opened.funding_tx_hash, &opened.cell, opened.refund_seller_signature), (&None, None, &None, None));
    assert_eq!((opened.latest_cumulative, &opened.latest_commitment), (0, &None));
    assert_eq!((&opened.closing_tx, opened.closing_tx_hash), (&None, None));
    assert!(opened.created_at > 0);
    assert_eq!(opened.updated_at, opened.created_at);
    assert_eq!(store.ckb_channel(&new.channel.id).await.expect("read"), Some(opened.clone()));
    assert_eq!(store.ckb_channels_of(user).await.expect("list"), vec![opened.clone()]);
    // Its channel row: closed until active, in shannons, the buyer's key as
    // its one sub-channel, and no escrow.
    let channel = store.channel(&new.channel.id).await.expect("read").expect("channel");
    assert_eq!((channel.asset, channel.chain_id, channel.epoch), (Asset::CKB, CHAIN, 1));
    assert_eq!((channel.collateral, channel.open, channel.closed_at), (new.channel.collateral, false, None));
    assert_eq!(channel.created_at, opened.created_at);
    assert_eq!(channel.subs.len(), 1);
    let sub = &channel.subs[0];
    assert_eq!((sub.id, sub.key, sub.nonce, sub.accumulated), (buyer.id(), buyer.public(), 0, Amount::ZERO));
    assert_eq!(store.account(&AccountId::channel_escrow(&new.channel.id, Asset::CKB)).await.expect("read"), None);
    assert_eq!(store.audit().await.expect("audit").transfers, 0, "no ledger transfer");
    // Every field after every write, and the largest numbers.
    let hash = [0x5a; 32];
    let signature: [u8; 65] = std::array::from_fn(|i| i as u8);
    assert!(store.set_ckb_funding(&new.channel.id, &[0xde, 0xad], hash, &out_point(3, 1), signature).await.expect("funding"));
    assert!(store.set_ckb_state(&new.channel.id, SpilmanState::RefundSigned, SpilmanState::Active, None).await.expect("active"));
    assert!(store.record_ckb_commitment(&new.channel.id, u64::MAX, &[0xc0, 0x01]).await.expect("commitment"));
    let closing = (&[0xfe_u8, 0xed][..], [0x77; 32]);
    let moved = SpilmanState::Settling { after_expiry: true };
    assert!(store.set_ckb_state(&new.channel.id, SpilmanState::Active, moved, Some(closing)).await.expect("state"));
    let read = store.ckb_channel(&new.channel.id).await.expect("read").expect("channel");
    assert_eq!(read.state, moved);
    assert_eq!((read.funding_tx, read.funding_tx_hash, read.cell), (Some(vec![0xde, 0xad]), Some(hash), Some(out_point(3, 1))));
    assert_eq!(read.refund_seller_signature, Some(signature));
    assert_eq!((read.latest_cumulative, read.latest_commitment), (u64::MAX, Some(vec![0xc0, 0x01])));
    assert_eq!((read.closing_tx, read.closing_tx_hash), (Some(vec![0xfe, 0xed]), Some([0x77; 32])));
    assert_eq!((read.created_at, read.buyer_key, &read.seller_cells), (opened.created_at, opened.buyer_key, &opened.seller_cells));
    assert!(read.updated_at >= opened.updated_at);
    // Oldest first; an unknown id and a ledger-rail channel are not CKB channels.
    let second = store.open_ckb_channel(&new_ckb_channel(user, &key(2), &[])).await.expect("open");
    assert!(second.seller_cells.is_empty());
    let ids: Vec<ChannelId> = store.ckb_channels_of(user).await.expect("list").iter().map(|c| c.id).collect();
    assert_eq!(ids, [new.channel.id, second.id]);
    assert!(store.ckb_channels_of(user + 1).await.expect("list").is_empty());
    assert_eq!(store.ckb_channel(&new_channel_id()).await.expect("read"), None);
    let payer = funded_user(&store, "bob", 100).await;
    let ledger = NewChannel { id: new_channel_id(), user_id: payer, asset: Asset::POINTS, chain_id: CHAIN, epoch: 1, collateral: Amount::new(10), key: key(3).public() };
    store.open_channel(&ledger).await.expect("ledger open");
    assert_eq!(store.ckb_channel(&ledger.id).await.expect("read"), None);
}

async fn open_refuses_a_taken_id_and_bad_cells(store: Store) {
    let user = user(&store, "cyd").await;
    let new = new_ckb_channel(user, &key(1), &[out_point(1, 0)]);
    let opened = store.open_ckb_channel(&new).await.expect("open");
    let mut again = new_ckb_channel(user, &key(2), &[out_point(9, 9)]);
    again.channel.id = new.channel.id;
    again.buyer_deposit = 5;
    assert_eq!(code(store.open_ckb_channel(&again).await), "channel_exists");
    assert_eq!(store.ckb_channel(&new.channel.id).await.expect("read"), Some(opened));
    assert_eq!(store.channel(&new.channel.id).await.expect("read").expect("channel").subs.len(), 1);
    assert_eq!(store.reserved_seller_cells().await.expect("cells"), [out_point(1, 0)]);
    // The id of a ledger-rail channel is taken too.
    let payer = funded_user(&store, "dan", 100).await;
    let ledger = NewChannel { id: new_channel_id(), user_id: payer, asset: Asset::POINTS, chain_id: CHAIN, epoch: 1, collateral: Amount::new(10), key: key(3).public() };
    store.open_channel(&ledger).await.expect("ledger open");
    let mut clash = new_ckb_channel(payer, &key(4), &[]);
    clash.channel.id = ledger.id;
    assert_eq!(code(store.open_ckb_channel(&clash).await), "channel_exists");
    assert_eq!(store.ckb_channel(&ledger.id).await.expect("read"), None);
    // A cell that is not an out point writes nothing.
    let bad = new_ckb_channel(user, &key(5), &[out_point(2, 0), "0x12:0".into()]);
    assert!(matches!(store.open_ckb_channel(&bad).await, Err(StoreError::OutOfRange(_))));
    assert_eq!(store.channel(&bad.channel.id).await.expect("read"), None);
    assert_eq!(store.ckb_channels_of(user).await.expect("list").len(), 1);
}

async fn reserved_cells_are_those_of_unfunded_channels(store: Store) {
    let user = user(&store, "eve").await;
    let mut ids = Vec::new();
    for seed in 1..=4u8 {
        let cells = [out_point(seed, 0), out_point(seed, 1)];
        ids.push(store.open_ckb_channel(&new_ckb_channel(user, &key(seed), &cells)).await.expect("open").id);
    }
    let all: Vec<String> = (1..=4u8).flat_map(|s| [out_point(s, 0), out_point(s, 1)]).collect();
    assert_eq!(store.reserved_seller_cells().await.expect("cells"), all);
    // refund_signed and funding still reserve; active, abandoned and the
    // rest do not.
    assert!(store.set_ckb_funding(&ids[0], &[1], [1; 32], &out_point(0xa0, 0), [1; 65]).await.expect("funding"));
    assert!(store.set_ckb_funding(&ids[1], &[1], [2; 32], &out_point(0xa1, 0), [1; 65]).await.expect("funding"));
    assert!(store.set_ckb_state(&ids[1], SpilmanState::RefundSigned, SpilmanState::Funding, None).await.expect("sent"));
    assert_eq!(store.reserved_seller_cells().await.expect("cells"), all);
    activate(&store, &ids[2]).await;
    assert!(store.set_ckb_state(&ids[1], SpilmanState::Funding, SpilmanState::Abandoned, None).await.expect("dropped"));
    let left: Vec<String> = [1u8, 4].iter().flat_map(|&s| [out_point(s, 0), out_point(s, 1)]).collect();
    assert_eq!(store.reserved_seller_cells().await.expect("cells"), left);
    for state in [SpilmanState::Expired, SpilmanState::Settling { after_expiry: false }, SpilmanState::Refunding, SpilmanState::Settled] {
        assert!(store.set_ckb_state(&ids[3], current(&store, &ids[3]).await, state, None).await.expect("move"));
        assert_eq!(store.reserved_seller_cells().await.expect("cells"), [out_point(1, 0), out_point(1, 1)], "{state:?}");
    }
    // A cell offered to two channels is listed once.
    store.open_ckb_channel(&new_ckb_channel(user, &key(9), &[out_point(1, 1)])).await.expect("open");
    assert_eq!(store.reserved_seller_cells().await.expect("cells"), [out_point(1, 0), out_point(1, 1)]);
}

async fn current(store: &Store, id: &ChannelId) -> SpilmanState {
    store.ckb_channel(id).await.expect("read").expect("channel").state
}

async fn funding_is_compare_and_set(store: Store) {
    let user = user(&store, "fay").await;
    let id = store.open_ckb_channel(&new_ckb_channel(user, &key(1), &[out_point(1, 0)])).await.expect("open").id;
    assert!(store.set_ckb_funding(&id, &[1, 2], [3; 32], &out_point(4, 5), [6; 65]).await.expect("funding"));
    let first = store.ckb_channel(&id).await.expect("read").expect("channel");
    assert_eq!(first.state, SpilmanState::RefundSigned);
    assert_eq!((first.funding_tx.as_deref(), first.funding_tx_hash, first.cell.as_deref()), (Some(&[1u8, 2][..]), Some([3; 32]), Some(out_point(4, 5).as_str())));
    assert_eq!(first.refund_seller_signature, Some([6; 65]));
    // Again (another funding), or from any other state: refused, unchanged.
    assert!(!store.set_ckb_funding(&id, &[9], [9; 32], &out_point(9, 9), [9; 65]).await.expect("again"));
    assert_eq!(store.ckb_channel(&id).await.expect("read"), Some(first.clone()));
    assert!(store.set_ckb_state(&id, SpilmanState::RefundSigned, SpilmanState::Funding, None).await.expect("sent"));
    assert!(!store.set_ckb_funding(&id, &[9], [9; 32], &out_point(9, 9), [9; 65]).await.expect("later"));
    assert_eq!(store.ckb_channel(&id).await.expect("read").expect("channel").funding_tx_hash, Some([3; 32]));
    assert!(!store.channel(&id).await.expect("read").expect("channel").open);
    assert_eq!(code(store.set_ckb_funding(&new_channel_id(), &[1], [1; 32], &out_point(1, 1), [1; 65]).await), "unknown_channel");
    assert!(matches!(store.set_ckb_funding(&id, &[1], [1; 32], "0xnot:1", [1; 65]).await, Err(StoreError::OutOfRange(_))));
}

async fn state_moves_are_compare_and_set_and_drive_the_channel_row(store: Store) {
    let user = user(&store, "gus").await;
    let buyer = key(1);
    let id = store.open_ckb_channel(&new_ckb_channel(user, &buyer, &[])).await.expect("open").id;
    let row = async |id: &ChannelId| store.channel(id).await.expect("read").expect("channel");
    // Not from the stored state: refused, nothing written.
    assert!(!store.set_ckb_state(&id, SpilmanState::Funding, SpilmanState::Active, None).await.expect("stale"));
    assert_eq!(current(&store, &id).await, SpilmanState::Proposed);
    assert!(!row(&id).await.open);
    activate(&store, &id).await;
    let active = row(&id).await;
    assert!(active.open && active.closed_at.is_none());
    assert_eq!(store.ckb_channels_in(&[SpilmanState::Active]).await.expect("list").iter().map(|c| c.id).collect::<Vec<_>>(), [id]);
    // Receipts are accepted only while active.
    let writer = ReceiptWriter::spawn(store.clone(), WriterConfig::default());
    assert!(writer.accept(id, receipt(id, &buyer, 1, 500), 0).await.expect("accept"));
    assert!(!store.set_ckb_state(&id, SpilmanState::Funding, SpilmanState::Active, None).await.expect("again"));
    // Settlement sent: the closing transaction is stored, the channel closes
    // to receipts but is not closed yet.
    let settling = SpilmanState::Settling { after_expiry: false };
    assert!(store.set_ckb_state(&id, SpilmanState::Active, settling, Some((&[0xab, 0xcd], [0x11; 32]))).await.expect("settle"));
    let stored = store.ckb_channel(&id).await.expect("read").expect("channel");
    assert_eq!((stored.state, stored.closing_tx, stored.closing_tx_hash), (settling, Some(vec![0xab, 0xcd]), Some([0x11; 32])));
    assert!(!row(&id).await.open);
    assert_eq!(row(&id).await.closed_at, None);
    assert!(!writer.accept(id, receipt(id, &buyer, 2, 600), 1).await.expect("accept"));
    // Dropped by the node: back to active, open again, closing kept.
    assert!(store.set_ckb_state(&id, settling, SpilmanState::Active, None).await.expect("dropped"));
    assert!(row(&id).await.open);
    assert!(writer.accept(id, receipt(id, &buyer, 2, 600), 1).await.expect("accept"));
    assert!(store.set_ckb_state(&id, SpilmanState::Active, settling, Some((&[0xab, 0xce], [0x12; 32]))).await.expect("settle"));
    // Committed: final, closed_at set once; the closing transaction kept.
    assert!(store.set_ckb_state(&id, settling, SpilmanState::Settled, None).await.expect("settled"));
    let settled = row(&id).await;
    assert!(!settled.open);
    let closed_at = settled.closed_at.expect("closed_at");
    let stored = store.ckb_channel(&id).await.expect("read").expect("channel");
    assert_eq!((stored.state, stored.closing_tx, stored.closing_tx_hash), (SpilmanState::Settled, Some(vec![0xab, 0xce]), Some([0x12; 32])));
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert!(store.set_ckb_state(&id, SpilmanState::Settled, SpilmanState::Settled, None).await.expect("same"));
    assert_eq!(row(&id).await.closed_at, Some(closed_at), "set once");
    assert!(!writer.accept(id, receipt(id, &buyer, 3, 700), 2).await.expect("accept"));
    // A funding that never commits ends as abandoned, closed.
    let dropped = store.open_ckb_channel(&new_ckb_channel(user, &key(2), &[])).await.expect("open").id;
    assert!(store.set_ckb_funding(&dropped, &[1], [1; 32], &out_point(1, 1), [1; 65]).await.expect("funding"));
    assert!(store.set_ckb_state(&dropped, SpilmanState::RefundSigned, SpilmanState::Funding, None).await.expect("sent"));
    assert!(store.set_ckb_state(&dropped, SpilmanState::Funding, SpilmanState::Abandoned, None).await.expect("abandoned"));
    let abandoned = row(&dropped).await;
    assert!(!abandoned.open && abandoned.closed_at.is_some());
    // The jobs' views.
    let of = async |states: &[SpilmanState]| -> Vec<ChannelId> { store.ckb_channels_in(states).await.expect("list").iter().map(|c| c.id).collect() };
    assert_eq!(of(&[SpilmanState::Settled, SpilmanState::Abandoned]).await, [id, dropped]);
    assert_eq!(of(&[SpilmanState::Abandoned]).await, [dropped]);
    assert!(of(&[]).await.is_empty());
    assert!(of(&[SpilmanState::Active, SpilmanState::Proposed]).await.is_empty());
    assert_eq!(code(store.set_ckb_state(&new_channel_id(), SpilmanState::Proposed, SpilmanState::Abandoned, None).await), "unknown_channel");
}

async fn one_concurrent_state_move_wins(backend: Backend) {
    let url = fresh_database_url(backend).await.expect("db");
    let a = Store::connect(&url).await.expect("connect");
    a.migrate().await.expect("migrate");
    let b = Store::connect(&url).await.expect("connect");
    let user = user(&a, "hal").await;
    let id = a.open_ckb_channel(&new_ckb_channel(user, &key(1), &[])).await.expect("open").id;
    assert!(a.set_ckb_funding(&id, &[1], [1; 32], &out_point(1, 1), [1; 65]).await.expect("funding"));
    assert!(a.set_ckb_state(&id, SpilmanState::RefundSigned, SpilmanState::Funding, None).await.expect("sent"));
    let moves = (0..16).map(|i| {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let to = if i % 4 < 2 { SpilmanState::Active } else { SpilmanState::Abandoned };
        tokio::spawn(async move { (to, store.set_ckb_state(&id, SpilmanState::Funding, to, None).await.expect("move")) })
    });
    let results: Vec<(SpilmanState, bool)> = futures::future::join_all(moves).await.into_iter().map(|r| r.expect("task")).collect();
    let winners: Vec<SpilmanState> = results.iter().filter(|(_, won)| *won).map(|(to, _)| *to).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert_eq!(current(&b, &id).await, winners[0]);
    assert_eq!(b.channel(&id).await.expect("read").expect("channel").open, winners[0] == SpilmanState::Active);
}

async fn commitments_only_go_up(store: Store) {
    let user = user(&store, "ivo").await;
    let id = store.open_ckb_channel(&new_ckb_channel(user, &key(1), &[])).await.expect("open").id;
    activate(&store, &id).await;
    let latest = async || {
        let c = store.ckb_channel(&id).await.expect("read").expect("channel");
        (c.latest_cumulative, c.latest_commitment)
    };
    // Nothing above zero is not a payment.
    assert!(!store.record_ckb_commitment(&id, 0, &[0]).await.expect("zero"));
    assert_eq!(latest().await, (0, None));
    assert!(store.record_ckb_commitment(&id, 9, &[9]).await.expect("9"));
    // 10 after 9: compared as numbers, not as text.
    assert!(store.record_ckb_commitment(&id, 10, &[10]).await.expect("10"));
    assert_eq!(latest().await, (10, Some(vec![10])));
    // The same amount again, or less: refused, unchanged.
    assert!(!store.record_ckb_commitment(&id, 10, &[0xff]).await.expect("same"));
    assert!(!store.record_ckb_commitment(&id, 2, &[2]).await.expect("lower"));
    assert_eq!(latest().await, (10, Some(vec![10])));
    assert!(store.record_ckb_commitment(&id, 1_000 * SHANNONS, &[1, 0]).await.expect("higher"));
    assert!(store.record_ckb_commitment(&id, u64::MAX, &[0xee; 300]).await.expect("max"));
    assert!(!store.record_ckb_commitment(&id, u64::MAX - 1, &[1]).await.expect("below max"));
    assert_eq!(latest().await, (u64::MAX, Some(vec![0xee; 300])));
    assert_eq!(code(store.record_ckb_commitment(&new_channel_id(), 1, &[1]).await), "unknown_channel");
}

async fn claims_skip_ckb_channels(store: Store) {
    // A ledger channel and an active CKB channel, both with accepted receipts.
    let payer = funded_user(&store, "jan", 1_000).await;
    let ledger_key = key(1);
    let ledger = NewChannel { id: new_channel_id(), user_id: payer, asset: Asset::POINTS, chain_id: CHAIN, epoch: 1, collateral: Amount::new(1_000), key: ledger_key.public() };
    store.open_channel(&ledger).await.expect("ledger open");
    let buyer = key(2);
    let ckb = store.open_ckb_channel(&new_ckb_channel(payer, &buyer, &[])).await.expect("ckb open").id;
    activate(&store, &ckb).await;
    // Even with an escrow account that would let a claim through (no
    // limits), nothing is taken from it.
    let stray = AccountId::channel_escrow(&ckb, Asset::CKB);
    store.ensure_accounts(&[Account::new(stray.clone(), Asset::CKB, AccountFlags::NONE)]).await.expect("escrow");
    let writer = ReceiptWriter::spawn(store.clone(), WriterConfig::default());
    assert!(writer.accept(ledger.id, receipt(ledger.id, &ledger_key, 1, 100), 0).await.expect("accept"));
    assert!(writer.accept(ckb, receipt(ckb, &buyer, 1, 5 * SHANNONS as u128), 0).await.expect("accept"));
    assert!(store.record_ckb_commitment(&ckb, 5 * SHANNONS, &[5]).await.expect("commitment"));
    let all = ClaimRequest { channels: None, min_unclaimed: Amount::ZERO };
    let report = store.claim(&all).await.expect("claim");
    assert_eq!((report.sub_channels, report.amount), (1, Amount::new(100)), "only the ledger channel");
    let revenue = async |asset| store.account(&AccountId::revenue(asset)).await.expect("read").map(|a| a.balance()).unwrap_or_default();
    assert_eq!((revenue(Asset::POINTS).await, revenue(Asset::CKB).await), (Amount::new(100), Amount::ZERO));
    let sub = store.channel(&ckb).await.expect("read").expect("channel").subs[0].clone();
    assert_eq!((sub.accumulated, sub.claimed), (Amount::new(u128::from(5 * SHANNONS)), Amount::ZERO));
    // Named explicitly, or with more accepted: still never claimed.
    assert!(writer.accept(ckb, receipt(ckb, &buyer, 2, 6 * SHANNONS as u128), 1).await.expect("accept"));
    assert!(writer.accept(ledger.id, receipt(ledger.id, &ledger_key, 2, 130), 1).await.expect("accept"));
    let both = ClaimRequest { channels: Some(vec![ckb, ledger.id]), min_unclaimed: Amount::ZERO };
    let report = store.claim(&both).await.expect("claim");
    assert_eq!((report.sub_channels, report.amount), (1, Amount::new(30)));
    let only = ClaimRequest { channels: Some(vec![ckb]), min_unclaimed: Amount::ZERO };
    assert_eq!(store.claim(&only).await.expect("claim").sub_channels, 0);
    assert_eq!(store.channel(&ckb).await.expect("read").expect("channel").subs[0].claimed, Amount::ZERO);
    let escrow = store.account(&stray).await.expect("read").expect("escrow");
    assert_eq!(escrow, Account::new(stray, Asset::CKB, AccountFlags::NONE), "untouched");
    let audit = store.audit().await.expect("audit");
    assert_eq!(audit.violation, None, "ledger invariant broken");
}

async fn ledger_close_refuses_ckb_channels(store: Store) {
    let payer = funded_user(&store, "kai", 500).await;
    let buyer = key(1);
    let ckb = store.open_ckb_channel(&new_ckb_channel(payer, &buyer, &[])).await.expect("open").id;
    let before = store.channel(&ckb).await.expect("read");
    assert_eq!(code(store.close_channel(&ckb).await), "ckb_channel");
    assert_eq!(store.channel(&ckb).await.expect("read"), before);
    activate(&store, &ckb).await;
    let writer = ReceiptWriter::spawn(store.clone(), WriterConfig::default());
    assert!(writer.accept(ckb, receipt(ckb, &buyer, 1, 42), 0).await.expect("accept"));
    let before = (store.channel(&ckb).await.expect("read"), store.ckb_channel(&ckb).await.expect("read"));
    match store.close_channel(&ckb).await {
        Err(StoreError::Channel(e)) => assert!(e.to_string().contains("CKB settle endpoint"), "{e}"),
        other => panic!("expected ckb_channel, got {other:?}"),
    }
    assert_eq!((store.channel(&ckb).await.expect("read"), store.ckb_channel(&ckb).await.expect("read")), before);
    assert!(before.0.expect("channel").open, "still open");
    // A ledger channel still closes, and an unknown one is still unknown.
    let ledger = NewChannel { id: new_channel_id(), user_id: payer, asset: Asset::POINTS, chain_id: CHAIN, epoch: 1, collateral: Amount::new(500), key: key(2).public() };
    store.open_channel(&ledger).await.expect("ledger open");
    let closed = store.close_channel(&ledger.id).await.expect("close");
    assert_eq!((closed.open, closed.refunded), (false, Amount::new(500)));
    assert_eq!(code(store.close_channel(&new_channel_id()).await), "unknown_channel");
}

async fn task_runs_newest_first(store: Store) {
    let run = |task: &str, started_at: i64, ok: bool, detail: &str| TaskRun {
        task: task.into(),
        started_at,
        finished_at: started_at + 7,
        ok,
        detail: detail.into(),
    };
    assert!(store.task_runs(None, 10).await.expect("empty").is_empty());
    let runs = [
        run("ckb_track", 1_000, true, "2 channels active"),
        run("ckb_auto_settle", 1_500, false, "node unreachable: connection refused"),
        run("ckb_track", 3_000, true, ""),
        run("ckb_track", 2_000, false, "funding dropped"),
        run("ckb_mark_expired", 3_000, true, "1 expired"),
    ];
    for r in &runs {
        store.record_task_run(r).await.expect("record");
    }
    // Newest start first; the same start, last recorded first.
    let all = store.task_runs(None, 100).await.expect("all");
    assert_eq!(all, [runs[4].clone(), runs[2].clone(), runs[3].clone(), runs[1].clone(), runs[0].clone()]);
    assert_eq!(store.task_runs(None, 2).await.expect("limit"), [runs[4].clone(), runs[2].clone()]);
    assert_eq!(store.task_runs(Some("ckb_track"), 100).await.expect("track"), [runs[2].clone(), runs[3].clone(), runs[0].clone()]);
    assert_eq!(store.task_runs(Some("ckb_track"), 1).await.expect("track"), [runs[2].clone()]);
    assert_eq!(store.task_runs(Some("ckb_auto_settle"), 5).await.expect("settle"), [runs[1].clone()]);
    assert!(store.task_runs(Some("nothing"), 5).await.expect("none").is_empty());
    assert!(store.task_runs(None, 0).await.expect("zero").is_empty());
}

/// A receipt and its commitment are durable together: the commitment is
/// kept only when its receipt is written, and only if it pays more.
async fn a_receipt_and_its_commitment_commit_together(store: Store) {
    let user = user(&store, "kim").await;
    let buyer = key(7);
    let id = store.open_ckb_channel(&new_ckb_channel(user, &buyer, &[])).await.expect("open").id;
    activate(&store, &id).await;
    let writer = ReceiptWriter::spawn(store.clone(), WriterConfig::default());
    let kept = |cumulative: u64, byte: u8| Some(KeptCommitment { cumulative, tx: vec![byte; 3] });
    let latest = async || {
        let c = store.ckb_channel(&id).await.expect("read").expect("channel");
        (c.latest_cumulative, c.latest_commitment)
    };
    assert!(writer.accept_with_commitment(id, receipt(id, &buyer, 1, 500), 0, kept(500, 1)).await.expect("accept"));
    assert_eq!(latest().await, (500, Some(vec![1; 3])));
    // A stale receipt is not written, and neither is its commitment.
    assert!(!writer.accept_with_commitment(id, receipt(id, &buyer, 3, 900), 0, kept(900, 2)).await.expect("stale"));
    assert_eq!(latest().await, (500, Some(vec![1; 3])));
    assert!(writer.accept_with_commitment(id, receipt(id, &buyer, 2, 700), 1, kept(700, 3)).await.expect("accept"));
    assert_eq!(latest().await, (700, Some(vec![3; 3])));
}

/// The attacker's timing: a receipt (with its commitment) accepted after
/// the settler read the latest commitment and before it stored the
/// settlement. The settlement is a compare-and-set on the latest total:
/// the stale one is refused and nothing is written; the settlement with
/// the new latest is stored, and no receipt is accepted after it.
async fn settling_is_compare_and_set_on_the_latest_commitment(store: Store) {
    let user = user(&store, "liv").await;
    let buyer = key(8);
    let id = store.open_ckb_channel(&new_ckb_channel(user, &buyer, &[])).await.expect("open").id;
    activate(&store, &id).await;
    let writer = ReceiptWriter::spawn(store.clone(), WriterConfig::default());
    let kept = |cumulative: u64| Some(KeptCommitment { cumulative, tx: vec![cumulative as u8; 3] });
    assert!(writer.accept_with_commitment(id, receipt(id, &buyer, 1, 500), 0, kept(500)).await.expect("accept"));
    let read = store.ckb_channel(&id).await.expect("read").expect("channel");
    assert_eq!(read.latest_cumulative, 500);
    // The receipt in between.
    assert!(writer.accept_with_commitment(id, receipt(id, &buyer, 2, 700), 1, kept(700)).await.expect("accept"));
    let settling = SpilmanState::Settling { after_expiry: false };
    let stale = store.set_ckb_settling(&id, SpilmanState::Active, settling, (&[5], [5; 32]), read.latest_cumulative).await.expect("settle");
    assert!(!stale, "a settlement with the commitment for 500 after a receipt for 700 is refused");
    let now = store.ckb_channel(&id).await.expect("read").expect("channel");
    assert_eq!((now.state, &now.closing_tx, now.latest_cumulative), (SpilmanState::Active, &None, 700), "nothing written");
    assert!(store.set_ckb_settling(&id, SpilmanState::Active, settling, (&[7], [7; 32]), 700).await.expect("settle"));
    // From then on the channel takes no receipt (and keeps no commitment).
    assert!(!writer.accept_with_commitment(id, receipt(id, &buyer, 3, 900), 2, kept(900)).await.expect("after"));
    let settled = store.ckb_channel(&id).await.expect("read").expect("channel");
    assert_eq!((settled.state, settled.closing_tx, settled.latest_cumulative), (settling, Some(vec![7]), 700));
    assert_eq!(code(store.set_ckb_settling(&new_channel_id(), SpilmanState::Active, settling, (&[1], [1; 32]), 1).await), "unknown_channel");
}

/// Receipts written by one process as fast as they are taken while
/// another settles: in every round the settlement pays exactly the last
/// acknowledged receipt. (On PostgreSQL a receipt whose statement read the
/// channel open just before the settlement closed it is stopped by the
/// trigger of migration 0007, retried, and then refused.)
async fn receipts_racing_a_settlement_from_another_process_are_all_settled(backend: Backend) {
    let url = fresh_database_url(backend).await.expect("db");
    let a = Store::connect(&url).await.expect("connect");
    a.migrate().await.expect("migrate");
    let b = Store::connect(&url).await.expect("connect");
    let user = user(&a, "max").await;
    let buyer = key(9);
    let settling = SpilmanState::Settling { after_expiry: false };
    for round in 0..20u64 {
        let id = a.open_ckb_channel(&new_ckb_channel(user, &buyer, &[])).await.expect("open").id;
        activate(&a, &id).await;
        let writer = ReceiptWriter::spawn(a.clone(), WriterConfig::default());
        let poster = async {
            let mut acked = 0;
            for n in 1..10_000u64 {
                let kept = Some(KeptCommitment { cumulative: n * 10, tx: (n * 10).to_be_bytes().to_vec() });
                if !writer.accept_with_commitment(id, receipt(id, &buyer, n, u128::from(n * 10)), n - 1, kept).await.expect("accept") {
                    break;
                }
                acked = n * 10;
            }
            acked
        };
        let settler = async {
            tokio::time::sleep(std::time::Duration::from_millis(5 + round % 7)).await;
            loop {
                let read = b.ckb_channel(&id).await.expect("read").expect("channel");
                let settlement = read.latest_cumulative.to_be_bytes();
                if b.set_ckb_settling(&id, SpilmanState::Active, settling, (&settlement, [1; 32]), read.latest_cumulative).await.expect("settle") {
                    return read.latest_cumulative;
                }
            }
        };
        let (acked, settled) = tokio::join!(poster, settler);
        assert_eq!(acked, settled, "round {round}: a receipt acknowledged and not settled");
        let stored = b.ckb_channel(&id).await.expect("read").expect("channel");
        assert_eq!((stored.latest_cumulative, stored.closing_tx), (settled, Some(settled.to_be_bytes().to_vec())));
    }
}

/// The invariant itself: a closed CKB channel's latest commitment does
/// not change, whoever writes it.
async fn a_closed_channel_keeps_its_latest_commitment(store: Store) {
    let user = user(&store, "ned").await;
    let id = store.open_ckb_channel(&new_ckb_channel(user, &key(1), &[])).await.expect("open").id;
    activate(&store, &id).await;
    assert!(store.record_ckb_commitment(&id, 10, &[10]).await.expect("active"));
    let settling = SpilmanState::Settling { after_expiry: false };
    assert!(store.set_ckb_settling(&id, SpilmanState::Active, settling, (&[10], [10; 32]), 10).await.expect("settle"));
    assert!(store.record_ckb_commitment(&id, 20, &[20]).await.is_err(), "no commitment kept after the settlement");
    assert_eq!(store.ckb_channel(&id).await.expect("read").expect("channel").latest_cumulative, 10);
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::fresh_store(super::Backend::Sqlite).await.expect("store")).await })*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn one_concurrent_state_move_wins() { super::one_concurrent_state_move_wins(super::Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn receipts_racing_a_settlement_from_another_process_are_all_settled() {
                super::receipts_racing_a_settlement_from_another_process_are_all_settled(super::Backend::Sqlite).await
            }
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::fresh_store(super::Backend::Postgres).await.expect("store")).await })*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn one_concurrent_state_move_wins() { super::one_concurrent_state_move_wins(super::Backend::Postgres).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn receipts_racing_a_settlement_from_another_process_are_all_settled() {
                super::receipts_racing_a_settlement_from_another_process_are_all_settled(super::Backend::Postgres).await
            }
        }
    };
}

on_both_backends!(
    open_reads_back_every_field,
    open_refuses_a_taken_id_and_bad_cells,
    reserved_cells_are_those_of_unfunded_channels,
    funding_is_compare_and_set,
    state_moves_are_compare_and_set_and_drive_the_channel_row,
    commitments_only_go_up,
    claims_skip_ckb_channels,
    ledger_close_refuses_ckb_channels,
    task_runs_newest_first,
    a_receipt_and_its_commitment_commit_together,
    settling_is_compare_and_set_on_the_latest_commitment,
    a_closed_channel_keeps_its_latest_commitment,
);

