//! One conformance suite, run against SQLite and PostgreSQL.

use futures::future::join_all;
use tollway_core::ledger::*;
use tollway_core::pricing::{rule_at, Price};
use tollway_core::{Amount, Asset};
use tollway_store::history::HistoryFilter;
use tollway_store::prices::NewRule;
use tollway_store::requests::{RequestFilter, RequestRecord, StoredRequest};
use tollway_store::testing::{fresh_database_url, fresh_store, Backend};
use tollway_store::usage::UsageDraft;
use tollway_store::{LedgerWriter, Record, Store, StoreError, Submission, WriterConfig};

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
    w.submit(hold("r3", u, 1, 1)).await.expect("io").result.expect("hold");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let expired = store.expired_holds(tollway_store::now_ms(), None, 10).await.expect("list");
    let ids: Vec<(&str, Option<i64>)> = expired.iter().map(|h| (h.id.as_str(), h.user_id)).collect();
    assert_eq!(ids, vec![("r2", Some(u)), ("r3", Some(u))]);
    // Pages continue after the last hold of the previous one.
    let next = store.expired_holds(tollway_store::now_ms(), Some(&expired[0]), 10).await.expect("list");
    assert_eq!(next, expired[1..].to_vec());
    for id in ["r2", "r3"] {
        let links = Links { user_id: Some(u), ..Links::default() };
        let expire = Command::Chain(vec![TransferRequest::expiry(TransferId(id.into()), links)]);
        w.submit(Submission { command: expire, record: None }).await.expect("io").result.expect("expire");
    }
    assert_eq!(balance(&store, u).await, (Amount::new(80), Amount::new(80)));
    assert!(store.expired_holds(tollway_store::now_ms(), None, 10).await.expect("list").is_empty());
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
        user_id: Some(u),
        user_ref: Some("erin".into()),
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
        sub.record = Some(Record::Usage(draft.clone()));
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
    let found = store.key_by_secret("tw_secret_key").await.expect("lookup").expect("key");
    assert_eq!((found.0.id, found.1.user_id, found.1.label.as_str()), (u.id, u.id, "test"));
    assert_eq!(store.key_by_secret("tw_wrong").await.expect("lookup"), None);
    let disabled = store.set_user_enabled(u.id, false).await.expect("disable");
    assert!(!disabled.enabled);
    assert!(store.create_app("dify", "k", "s").await.is_ok());
    assert!(store.create_app("dify", "k2", "s").await.is_err(), "duplicate app accepted");
    assert_eq!(store.app_by_key("k").await.expect("lookup").map(|a| a.name), Some("dify".to_owned()));
}

/// A gateway request record of `user`, recorded at `created_at`.
fn request(id: &str, user: i64, key: Option<i64>, created_at: i64) -> RequestRecord {
    RequestRecord {
        id: id.into(),
        user_id: user,
        key_id: key,
        model: "smollm2".into(),
        upstream: "local".into(),
        stream: true,
        input_tokens: 12,
        output_tokens: 20,
        usage_source: "tokenizer".into(),
        status: "stop".into(),
        cost: Amount::new(30),
        price_version: Some(3),
        started_at: created_at - 250,
        duration_ms: 250,
        created_at,
    }
}

fn with_request(mut sub: Submission, record: &RequestRecord) -> Submission {
    sub.record = Some(Record::Request(record.clone()));
    sub
}

async fn request_ids(store: &Store, filter: RequestFilter, before: Option<i64>, limit: i64) -> Vec<String> {
    let page = store.requests(&filter, before, limit).await.expect("list");
    page.into_iter().map(|r| r.record.id).collect()
}

async fn request_record_committed_with_its_command(store: Store) {
    let w = LedgerWriter::spawn(store.clone(), WriterConfig::default());
    let u = store.create_user("hank", false).await.expect("user").id;
    let key = store.add_api_key(u, "tw_hank_key", "cli").await.expect("key");
    w.submit(grant("g", u, 100)).await.expect("io").result.expect("grant");
    let first = request("chatcmpl-1", u, Some(key), 1_000);
    w.submit(with_request(charge("gw:1", u, 30, None), &first)).await.expect("io").result.expect("charge");
    // A replay of the command and a new command with the same request id
    // both succeed and store nothing new.
    w.submit(with_request(charge("gw:1", u, 30, None), &first)).await.expect("io").result.expect("replay");
    let other = RequestRecord { output_tokens: 99, status: "length".into(), ..first.clone() };
    w.submit(with_request(charge("gw:1b", u, 5, None), &other)).await.expect("io").result.expect("charge");
    assert_eq!(balance(&store, u).await.0, Amount::new(65));
    let stored = store.requests(&RequestFilter::default(), None, 10).await.expect("list");
    assert_eq!(stored.len(), 1);
    assert!(stored[0].seq > 0);
    assert_eq!(stored[0].record, first);
    // A refused command stores no record.
    let refused = w.submit(with_request(hold("h", u, 1_000, 60), &request("chatcmpl-2", u, None, 2_000))).await;
    assert_eq!(refused.expect("io").result.map_err(|e| e.error), Err(TransferError::ExceedsCredits));
    assert_eq!(request_ids(&store, RequestFilter::default(), None, 10).await, ["chatcmpl-1"]);
    assert_eq!(balance(&store, u).await, (Amount::new(65), Amount::new(65)));
    assert_audit_clean(&store).await;
}

async fn concurrent_request_records_stored_once(store: Store) {
    let w = LedgerWriter::spawn(store.clone(), WriterConfig::default());
    let u = store.create_user("ivy", false).await.expect("user").id;
    w.submit(grant("g", u, 1_000)).await.expect("io").result.expect("grant");
    // 40 charges at once, two per request id, group-committed as they come.
    let results = join_all((0..40).map(|i| {
        let (w, record) = (w.clone(), request(&format!("chatcmpl-{}", i % 20), u, None, 1_000 + i));
        async move { w.submit(with_request(charge(&format!("c{i}"), u, 1, None), &record)).await.expect("io").result }
    }))
    .await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(balance(&store, u).await.0, Amount::new(960));
    let mut ids = request_ids(&store, RequestFilter::default(), None, 100).await;
    ids.sort();
    let mut expected: Vec<String> = (0..20).map(|i| format!("chatcmpl-{i}")).collect();
    expected.sort();
    assert_eq!(ids, expected);
}

async fn requests_filter_by_user_and_key(store: Store) {
    let w = LedgerWriter::spawn(store.clone(), WriterConfig::default());
    let a = store.create_user("jack", false).await.expect("user").id;
    let b = store.create_user("kim", false).await.expect("user").id;
    let k1 = store.add_api_key(a, "tw_jack_one", "one").await.expect("key");
    let k2 = store.add_api_key(a, "tw_jack_two", "two").await.expect("key");
    let plan = [Some(k1), Some(k2), Some(k1), None, None, Some(k1), None, Some(k1), Some(k1)];
    let users = [a, a, a, b, a, a, b, a, a];
    for (i, (user, key)) in users.into_iter().zip(plan).enumerate() {
        let record = RequestRecord { stream: i % 2 == 0, ..request(&format!("r{i}"), user, key, 1_000) };
        w.submit(with_request(grant(&format!("g{i}"), user, 1), &record)).await.expect("io").result.expect("grant");
    }
    let by_user = |user_id| RequestFilter { user_id: Some(user_id), key_id: None };
    let by_key = |key_id| RequestFilter { user_id: None, key_id: Some(key_id) };
    assert_eq!(request_ids(&store, by_user(a), None, 100).await, ["r8", "r7", "r5", "r4", "r2", "r1", "r0"]);
    assert_eq!(request_ids(&store, by_user(b), None, 100).await, ["r6", "r3"]);
    assert_eq!(request_ids(&store, by_key(k2), None, 100).await, ["r1"]);
    let both = RequestFilter { user_id: Some(b), key_id: Some(k1) };
    assert_eq!(request_ids(&store, both, None, 100).await, Vec::<String>::new());
    assert_eq!(request_ids(&store, RequestFilter::default(), None, 100).await.len(), 9);
    // Pages of two through key 1's five requests.
    let page1 = store.requests(&by_key(k1), None, 2).await.expect("page");
    let page2 = store.requests(&by_key(k1), page1.last().map(|r| r.seq), 2).await.expect("page");
    let page3 = store.requests(&by_key(k1), page2.last().map(|r| r.seq), 2).await.expect("page");
    let ids = |page: &[StoredRequest]| page.iter().map(|r| r.record.id.clone()).collect::<Vec<String>>();
    assert_eq!([ids(&page1), ids(&page2), ids(&page3)], [vec!["r8", "r7"], vec!["r5", "r2"], vec!["r0"]]);
    assert!(page1[0].seq > page1[1].seq && page1[1].seq > page2[0].seq);
    assert_eq!(page3[0].record, RequestRecord { stream: true, ..request("r0", a, Some(k1), 1_000) });
    let odd = store.requests(&by_key(k2), None, 10).await.expect("list");
    assert_eq!(odd[0].record, RequestRecord { stream: false, ..request("r1", a, Some(k2), 1_000) });
}

async fn requests_between_respects_the_window(store: Store) {
    let w = LedgerWriter::spawn(store.clone(), WriterConfig::default());
    let u = store.create_user("lena", false).await.expect("user").id;
    for (i, at) in [1_000, 1_999, 2_000, 3_000, 3_999, 4_000].into_iter().enumerate() {
        let record = request(&format!("t{at}"), u, None, at);
        w.submit(with_request(grant(&format!("g{i}"), u, 1), &record)).await.expect("io").result.expect("grant");
    }
    let window = store.requests_between(2_000, 4_000, 0, 100).await.expect("window");
    let ids: Vec<_> = window.iter().map(|r| r.record.id.as_str()).collect();
    assert_eq!(ids, ["t2000", "t3000", "t3999"]);
    assert_eq!(window[2].record, request("t3999", u, None, 3_999));
    assert!(store.requests_between(4_001, 10_000, 0, 100).await.expect("window").is_empty());
    // Paged: two rows, then the rest after the last one's position, then nothing.
    let first = store.requests_between(2_000, 4_000, 0, 2).await.expect("page");
    let rest = store.requests_between(2_000, 4_000, first[1].seq, 2).await.expect("page");
    assert_eq!([first.len(), rest.len()], [2, 1]);
    assert_eq!(rest[0].record.id, "t3999");
    assert!(store.requests_between(2_000, 4_000, rest[0].seq, 2).await.expect("page").is_empty());
}

async fn key_limits_round_trip(store: Store) {
    let u = store.create_user("mona", false).await.expect("user");
    let id = store.add_api_key(u.id, "tw_mona_limits", "ci").await.expect("key");
    let fresh = store.api_key(id).await.expect("read").expect("key");
    assert_eq!(
        (fresh.user_id, fresh.prefix.as_str(), fresh.label.as_str(), fresh.revoked_at),
        (u.id, "tw_mona_li", "ci", None)
    );
    assert_eq!((fresh.rpm_limit, fresh.tpm_limit, fresh.spend_cap), (None, None, None));
    let set = store.set_key_limits(id, Some(60), Some(100_000), Some(Amount::new(5_000))).await.expect("set");
    let limits = (set.id, set.rpm_limit, set.tpm_limit, set.spend_cap);
    assert_eq!(limits, (id, Some(60), Some(100_000), Some(Amount::new(5_000))));
    assert_eq!(store.api_key(id).await.expect("read"), Some(set.clone()));
    assert_eq!(store.key_by_secret("tw_mona_limits").await.expect("lookup"), Some((u.clone(), set.clone())));
    // The widest values fit; a tpm beyond BIGINT and a zero limit are refused.
    let wide = store.set_key_limits(id, Some(u32::MAX), Some(i64::MAX as u64), Some(Amount::MAX)).await.expect("set");
    assert_eq!((wide.rpm_limit, wide.tpm_limit, wide.spend_cap), (Some(u32::MAX), Some(i64::MAX as u64), Some(Amount::MAX)));
    let too_wide = store.set_key_limits(id, None, Some(u64::MAX), None).await;
    assert!(matches!(too_wide, Err(StoreError::OutOfRange(_))), "{too_wide:?}");
    assert!(store.set_key_limits(id, Some(0), None, None).await.is_err(), "zero rpm accepted");
    assert!(store.set_key_limits(id, None, Some(0), None).await.is_err(), "zero tpm accepted");
    assert_eq!(store.api_key(id).await.expect("read"), Some(wide));
    // Clearing writes NULLs back.
    let cleared = store.set_key_limits(id, None, None, None).await.expect("clear");
    assert_eq!((cleared.rpm_limit, cleared.tpm_limit, cleared.spend_cap), (None, None, None));
    assert_eq!(store.key_by_secret("tw_mona_limits").await.expect("lookup").map(|(_, k)| k), Some(cleared));
    let nulls: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM api_keys WHERE id = $1 AND rpm_limit IS NULL AND tpm_limit IS NULL AND spend_cap IS NULL",
    )
    .bind(id)
    .fetch_one(store.pool())
    .await
    .expect("count");
    assert_eq!(nulls, 1);
    let missing = store.set_key_limits(id + 1_000, Some(1), None, None).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
    let second = store.add_api_key(u.id, "tw_mona_other", "other").await.expect("key");
    let keys: Vec<_> = store.api_keys_of(u.id).await.expect("list").into_iter().map(|k| (k.id, k.label)).collect();
    assert_eq!(keys, [(id, "ci".to_owned()), (second, "other".to_owned())]);
}

async fn revoked_key_is_not_found(store: Store) {
    let u = store.create_user("nina", false).await.expect("user");
    let revoked = store.add_api_key(u.id, "tw_nina_old", "old").await.expect("key");
    let kept = store.add_api_key(u.id, "tw_nina_new", "new").await.expect("key");
    assert!(store.key_by_secret("tw_nina_old").await.expect("lookup").is_some());
    sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2")
        .bind(5_000_i64)
        .bind(revoked)
        .execute(store.pool())
        .await
        .expect("revoke");
    assert_eq!(store.key_by_secret("tw_nina_old").await.expect("lookup"), None);
    assert_eq!(store.api_key(revoked).await.expect("read").and_then(|k| k.revoked_at), Some(5_000));
    let found = store.key_by_secret("tw_nina_new").await.expect("lookup");
    assert_eq!(found.map(|(user, k)| (user.id, k.id)), Some((u.id, kept)));
}

async fn checks_refuse_bad_amounts_and_limits(store: Store) {
    let u = store.create_user("omar", false).await.expect("user");
    let id = store.add_api_key(u.id, "tw_omar_key", "k").await.expect("key");
    let write = |sql: &'static str, value: &'static str| {
        let store = store.clone();
        async move { sqlx::query(sql).bind(value).bind(id).execute(store.pool()).await.map(|r| r.rows_affected()) }
    };
    for bad in ["-5", "1.5", "", "12a", " 7"] {
        assert!(write("UPDATE api_keys SET spend_cap = $1 WHERE id = $2", bad).await.is_err(), "spend_cap {bad:?} accepted");
    }
    assert_eq!(write("UPDATE api_keys SET spend_cap = $1 WHERE id = $2", "42").await.expect("digits"), 1);
    assert_eq!(store.api_key(id).await.expect("read").and_then(|k| k.spend_cap), Some(Amount::new(42)));
    let zero_rpm = sqlx::query("UPDATE api_keys SET rpm_limit = 0 WHERE id = $1").bind(id).execute(store.pool()).await;
    assert!(zero_rpm.is_err(), "zero rpm_limit accepted");
    let negative_cost = sqlx::query(
        "INSERT INTO requests (id, user_id, model, upstream, stream, input_tokens, output_tokens, usage_source, status, \
         cost, started_at, duration_ms, created_at) \
         VALUES ('x', $1, 'm', 'local', 0, 1, 1, 'counted', 'stop', '-1', 0, 0, 0)",
    )
    .bind(u.id)
    .execute(store.pool())
    .await;
    assert!(negative_cost.is_err(), "negative request cost accepted");
    assert!(store.requests(&RequestFilter::default(), None, 10).await.expect("list").is_empty());
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
    request_record_committed_with_its_command,
    concurrent_request_records_stored_once,
    requests_filter_by_user_and_key,
    requests_between_respects_the_window,
    key_limits_round_trip,
    revoked_key_is_not_found,
    checks_refuse_bad_amounts_and_limits,
);
