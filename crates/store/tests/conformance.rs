//! One conformance suite, run against SQLite and PostgreSQL.

use futures::future::join_all;
use tollway_core::ledger::*;
use tollway_core::pricing::{rule_at, Price};
use tollway_core::{Amount, Asset};
use tollway_store::history::HistoryFilter;
use tollway_store::prices::NewRule;
use tollway_store::testing::{fresh_database_url, fresh_store, Backend};
use tollway_store::usage::UsageDraft;
use tollway_store::{LedgerWriter, Store, Submission, WriterConfig};

const P: Asset = Asset::POINTS;

fn grant(id: &str, user: i64, amount: u128) -> Submission {
    Submission {
        command: Command::Grant(Grant {
            id: TransferId(id.into()),
            user_id: user,
            asset: P,
            amount: Amount::new(amount),
            reason: Reason::Grant,
            links: Links { user_id: Some(user), ..Links::default() },
        }),
        record: None,
    }
}

fn charge(id: &str, user: i64, amount: u128, reservation: Option<&str>) -> Submission {
    Submission {
        command: Command::Charge(Charge {
            id: TransferId(id.into()),
            user_id: user,
            asset: P,
            amount: Amount::new(amount),
            reservation: reservation.map(|r| TransferId(r.into())),
            links: Links { user_id: Some(user), model: Some("m".into()), ..Links::default() },
        }),
        record: None,
    }
}

fn hold(id: &str, user: i64, amount: u128, timeout_secs: u32) -> Submission {
    Submission {
        command: Command::Chain(vec![TransferRequest {
            id: TransferId(id.into()),
            op: Operation::Hold {
                debit: AccountId::user_wallet(user, P),
                credit: AccountId::revenue(P),
                amount: Amount::new(amount),
                timeout_secs,
            },
            reason: Reason::Reservation,
            links: Links { user_id: Some(user), ..Links::default() },
        }]),
        record: None,
    }
}

async fn balance(store: &Store, user: i64) -> (Amount, Amount) {
    let a = store.account(&AccountId::user_wallet(user, P)).await.expect("read").expect("wallet");
    (a.balance(), a.available())
}

async fn assert_audit_clean(store: &Store) {
    let audit = store.audit().await.expect("audit");
    assert_eq!(audit.violation, None, "ledger invariant broken");
}

async fn grant_charge_replay(store: Store) {
    let w = LedgerWriter::spawn(store.clone(), WriterConfig::default());
    let u = store.create_user("alice", false).await.expect("user").id;
    w.submit(grant("g1", u, 100)).await.expect("io").result.expect("grant");
    let first = w.submit(charge("c1", u, 30, None)).await.expect("io").result.expect("charge");
    assert!(matches!(first[0], Applied::Created(_)));
    let again = w.submit(charge("c1", u, 30, None)).await.expect("io").result.expect("replay");
    assert_eq!(again, vec![Applied::Exists(first[0].transfer().clone())]);
    assert_eq!(balance(&store, u).await, (Amount::new(70), Amount::new(70)));
    // Beyond the balance: take what is there, book the rest as arrears.
    let out = w.submit(charge("c2", u, 100, None)).await.expect("io");
    let reasons: Vec<_> = out.result.expect("charge").iter().map(|a| (a.transfer().reason, a.transfer().amount)).collect();
    assert_eq!(reasons, vec![(Reason::Charge, Amount::new(70)), (Reason::Arrears, Amount::new(30))]);
    let owed = store.account(&AccountId::user_arrears(u, P)).await.expect("read").expect("arrears").owed();
    assert_eq!(owed, Amount::new(30));
    assert_audit_clean(&store).await;
}

async fn concurrent_holds_exactly_ten(store: Store) {
    let w = LedgerWriter::spawn(store.clone(), WriterConfig::default());
    let u = store.create_user("bob", false).await.expect("user").id;
    w.submit(grant("g", u, 1000)).await.expect("io").result.expect("grant");
    let results = join_all((0..100).map(|i| {
        let w = w.clone();
        async move { w.submit(hold(&format!("h{i}"), u, 100, 60)).await.expect("io").result }
    }))
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 10);
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(r.error, TransferError::ExceedsCredits);
    }
    assert_eq!(balance(&store, u).await, (Amount::new(1000), Amount::ZERO));
    assert_audit_clean(&store).await;
}

/// Two pools and two writers on one database stand in for two processes
/// (the server tests run two real processes).
async fn two_writers_share_one_database(backend: Backend) {
    let url = fresh_database_url(backend).await.expect("db");
    let a = Store::connect(&url).await.expect("connect");
    a.migrate().await.expect("migrate");
    let b = Store::connect(&url).await.expect("connect");
    let (wa, wb) = (LedgerWriter::spawn(a.clone(), WriterConfig::default()), LedgerWriter::spawn(b.clone(), WriterConfig::default()));
    let u = a.create_user("carol", false).await.expect("user").id;
    wa.submit(grant("g", u, 1000)).await.expect("io").result.expect("grant");
    let results = join_all((0..100).map(|i| {
        let w = if i % 2 == 0 { wa.clone() } else { wb.clone() };
        async move { w.submit(hold(&format!("h{i}"), u, 100, 60)).await.expect("io").result }
    }))
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 10);
    // The same charge id from both writers at once is applied once.
    let dup = join_all((0..20).map(|i| {
        let w = if i % 2 == 0 { wa.clone() } else { wb.clone() };
        async move { w.submit(grant("same-grant", u, 7)).await.expect("io").result.expect("grant") }
    }))
    .await;
    assert_eq!(dup.iter().filter(|r| matches!(r[0], Applied::Created(_))).count(), 1);
    assert_eq!(balance(&a, u).await.0, Amount::new(1007));
    assert_audit_clean(&a).await;
}

async fn reservation_settles_and_expires(store: Store) {
    let w = LedgerWriter::spawn(store.clone(), WriterConfig::default());
    let u = store.create_user("dave", false).await.expect("user").id;
    w.submit(grant("g", u, 100)).await.expect("io").result.expect("grant");
    w.submit(hold("r1", u, 50, 60)).await.expect("io").result.expect("hold");
    assert_eq!(balance(&store, u).await, (Amount::new(100), Amount::new(50)));
    w.submit(charge("c1", u, 20, Some("r1"))).await.expect("io").result.expect("charge");
    assert_eq!(balance(&store, u).await, (Amount::new(80), Amount::new(80)));
    w.submit(hold("r2", u, 30, 1)).await.expect("io").result.expect("hold");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let expired = store.expired_holds(tollway_store::now_ms(), 10).await.expect("list");
    assert_eq!(expired, vec![("r2".to_owned(), Some(u))]);
    let expire = Command::Chain(vec![TransferRequest {
        id: TransferId("expire:r2".into()),
        op: Operation::Expire { pending_id: TransferId("r2".into()) },
        reason: Reason::Expiry,
        links: Links { user_id: Some(u), ..Links::default() },
    }]);
    w.submit(Submission { command: expire, record: None }).await.expect("io").result.expect("expire");
    assert_eq!(balance(&store, u).await, (Amount::new(80), Amount::new(80)));
    assert!(store.expired_holds(tollway_store::now_ms(), 10).await.expect("list").is_empty());
    assert_audit_clean(&store).await;
}

async fn usage_event_committed_once(store: Store) {
    let w = LedgerWriter::spawn(store.clone(), WriterConfig::default());
    let u = store.create_user("erin", false).await.expect("user").id;
    let app = store.create_app("dify", "key-1", "secret").await.expect("app");
    w.submit(grant("g", u, 10)).await.expect("io").result.expect("grant");
    let draft = UsageDraft {
        app_id: app,
        message_id: "msg-1".into(),
        fingerprint: "fp".into(),
        user_id: u,
        model: "m".into(),
        input_tokens: 5,
        output_tokens: 7,
        usage_source: "upstream".into(),
        unknown: false,
        cost: Amount::new(12),
        price_version: Some(1),
        input_per_1k: Some("30".into()),
        output_per_1k: Some("60".into()),
        transfer_id: Some("dify:1:msg-1".into()),
        reservation_id: None,
        reported_price: Some("0.0010330".into()),
        reported_currency: Some("USD".into()),
        conversation_id: None,
    };
    for _ in 0..3 {
        let mut sub = charge("dify:1:msg-1", u, 12, None);
        sub.record = Some(draft.clone());
        w.submit(sub).await.expect("io").result.expect("charge");
    }
    let e = store.usage_event(app, "msg-1").await.expect("read").expect("event");
    assert_eq!((e.status.as_str(), e.charged, e.shortfall, e.balance_after), ("arrears", Amount::new(10), Amount::new(2), Amount::ZERO));
    assert_eq!(e.draft.reported_price.as_deref(), Some("0.0010330"));
    assert_eq!((e.draft.input_per_1k.as_deref(), e.draft.output_per_1k.as_deref()), (Some("30"), Some("60")));
    assert_eq!(store.usage_events(Some("arrears"), None, 10).await.expect("list").len(), 1);
    assert_eq!(store.usage_events(Some("usage_unknown"), None, 10).await.expect("list").len(), 0);
}

async fn price_versions_and_history(store: Store) {
    let rule = |input: &str, from: Option<i64>, active: bool| NewRule {
        model: "gpt-4".into(),
        asset: "POINTS".into(),
        input_per_1k: Price::parse(input, P).expect("price"),
        output_per_1k: Price::parse("60", P).expect("price"),
        effective_from: from,
        active,
        note: format!("set {input}"),
        changed_by: None,
    };
    let v1 = store.add_price_version(&rule("30", Some(1_000), true)).await.expect("v1");
    let v2 = store.add_price_version(&rule("0.0015", Some(2_000), true)).await.expect("v2");
    assert_eq!((v1.rule.version, v2.rule.version), (1, 2));
    let history = store.price_history("gpt-4").await.expect("history");
    assert_eq!(history.iter().map(|r| r.note.as_str()).collect::<Vec<_>>(), ["set 30", "set 0.0015"]);
    let rules: Vec<_> = store.price_rules().await.expect("rules").into_iter().map(|r| r.rule).collect();
    assert_eq!(rule_at(&rules, "gpt-4", 1_500).map(|r| r.version), Ok(1));
    assert_eq!(rule_at(&rules, "gpt-4", 2_500).map(|r| r.input_per_1k), Ok(Price::parse("0.0015", P).expect("p")));
}

async fn history_pages_and_filters(store: Store) {
    let w = LedgerWriter::spawn(store.clone(), WriterConfig::default());
    let u = store.create_user("frank", false).await.expect("user").id;
    w.submit(grant("g", u, 1000)).await.expect("io").result.expect("grant");
    for i in 0..25 {
        w.submit(charge(&format!("c{i}"), u, 1, None)).await.expect("io").result.expect("charge");
    }
    let all = HistoryFilter::default();
    let page1 = store.history(u, &all, None, 10).await.expect("page");
    let page2 = store.history(u, &all, page1.last().map(|e| e.seq), 10).await.expect("page");
    let page3 = store.history(u, &all, page2.last().map(|e| e.seq), 10).await.expect("page");
    assert_eq!((page1.len(), page2.len(), page3.len()), (10, 10, 6));
    assert_eq!(page1[0].transfer.id.0, "c24");
    assert_eq!(page3.last().map(|e| e.transfer.id.0.as_str()), Some("g"));
    let charges = HistoryFilter { reasons: vec!["grant".into()], ..HistoryFilter::default() };
    assert_eq!(store.history(u, &charges, None, 100).await.expect("filter").len(), 1);
    let by_model = HistoryFilter { model: Some("m".into()), ..HistoryFilter::default() };
    assert_eq!(store.history(u, &by_model, None, 100).await.expect("filter").len(), 25);
    let future = HistoryFilter { from: Some(tollway_store::now_ms() + 60_000), ..HistoryFilter::default() };
    assert!(store.history(u, &future, None, 100).await.expect("filter").is_empty());
}

async fn directory_rules(store: Store) {
    let u = store.create_user("gina", false).await.expect("user");
    assert!(store.create_user("gina", true).await.is_err(), "duplicate handle accepted");
    store.add_api_key(u.id, "tw_secret_key", "test").await.expect("key");
    assert_eq!(store.user_by_api_key("tw_secret_key").await.expect("lookup").map(|u| u.id), Some(u.id));
    assert_eq!(store.user_by_api_key("tw_wrong").await.expect("lookup"), None);
    let disabled = store.set_user_enabled(u.id, false).await.expect("disable");
    assert!(!disabled.enabled);
    assert!(store.create_app("dify", "k", "s").await.is_ok());
    assert!(store.create_app("dify", "k2", "s").await.is_err(), "duplicate app accepted");
    assert_eq!(store.app_by_key("k").await.expect("lookup").map(|a| a.name), Some("dify".to_owned()));
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::fresh_store(super::Backend::Sqlite).await.expect("store")).await })*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn two_writers_share_one_database() { super::two_writers_share_one_database(super::Backend::Sqlite).await }
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::fresh_store(super::Backend::Postgres).await.expect("store")).await })*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn two_writers_share_one_database() { super::two_writers_share_one_database(super::Backend::Postgres).await }
        }
    };
}

conformance!(
    grant_charge_replay,
    concurrent_holds_exactly_ten,
    reservation_settles_and_expires,
    usage_event_committed_once,
    price_versions_and_history,
    history_pages_and_filters,
    directory_rules,
);
