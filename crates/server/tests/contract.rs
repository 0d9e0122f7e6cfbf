//! The published surface: the document and the router agree, the body
//! limit holds on every route, `/metrics` is not public, and a CSV export
//! longer than one page is complete and exact. Every test runs on SQLite
//! and PostgreSQL.

mod common;

use common::*;
use futures::future::join_all;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tollway_server::routes::points::CSV_PAGE;

/// Every operation of `/openapi.json` reaches its handler: none answers
/// `route_not_found` or 405, so the document names no route the router
/// lacks (the router has no route the document lacks: both come from
/// `routes::api`), and every operation has its own `operationId`.
async fn every_documented_route_is_served(s: Server) {
    let doc = s.get("/openapi.json", None).await.ok();
    let paths = doc["paths"].as_object().expect("paths");
    for must in ["/v1/chat/completions", "/v1/models", "/metrics", "/openapi.json", "/api/user/points/estimate"] {
        assert!(paths.contains_key(must), "{must} is not in the document");
    }
    let estimate = &doc["paths"]["/api/user/points/estimate"]["get"]["parameters"];
    assert!(estimate.as_array().is_some_and(|p| p.iter().all(|p| p["in"] == "query")), "{estimate}");
    let mut operations = 0;
    let mut ids = std::collections::BTreeMap::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId")).to_owned();
            if let Some(other) = ids.insert(id.clone(), format!("{method} {path}")) {
                panic!("operationId {id} names both {other} and {method} {path}");
            }
        }
        let concrete = path.replace("{id}", "1").replace("{sub}", "1").replace("{model}", "m");
        for method in item.as_object().expect("path item").keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let r = s.send(s.http.request(method.clone(), s.url(&concrete))).await;
            assert!(r.status != 405 && r.code() != "route_not_found", "{method} {path}: {} {}", r.status, r.text);
            operations += 1;
        }
    }
    assert!(operations >= 47, "only {operations} operations documented");
    // Unknown paths and methods answer the JSON error shape too.
    let r = s.get("/no/such/route", None).await;
    assert_eq!((r.status, r.code().as_str()), (404, "route_not_found"));
    let r = s.send(s.http.delete(s.url("/api/user/points/balance"))).await;
    assert_eq!((r.status, r.code().as_str()), (405, "method_not_allowed"));
}

/// A body over `max_body_bytes` (64 KiB by default): the bytes of a JSON
/// string that is otherwise a valid request.
fn big_json(field: &str) -> String {
    json!({ field: "x".repeat(70 * 1024) }).to_string()
}

/// Sends `body` as a chunked request (no Content-Length) over a raw
/// connection and returns the status line and the body.
/// Sends `body` over a raw connection, with a declared length or chunked,
/// and reads the answer. The server may answer and close before it has
/// read everything; a raw socket lets the test read that answer where an
/// HTTP client could fail on the half-written request instead.
async fn raw(s: &Server, method: &str, path: &str, key: &str, body: &str, chunked: bool) -> (u16, String) {
    let addr = s.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let framing = if chunked { "Transfer-Encoding: chunked".to_owned() } else { format!("Content-Length: {}", body.len()) };
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\n\
         {framing}\r\nConnection: close\r\n\r\n"
    );
    if chunked {
        for piece in body.as_bytes().chunks(8 * 1024) {
            request.push_str(&format!("{:x}\r\n{}\r\n", piece.len(), std::str::from_utf8(piece).expect("ascii")));
        }
        request.push_str("0\r\n\r\n");
    } else {
        request.push_str(body);
    }
    let _ = tcp.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, answer)
}

/// The attacker sends bodies far over the limit to routes other than the
/// webhook, declared and chunked: each is refused with 413
/// `body_too_large` in the JSON error shape, and nothing was written.
async fn big_bodies_are_refused_everywhere(s: Server) {
    let alice = s.create_user("alice").await;
    s.grant("alice", "1000", "g1").await;
    let cases: [(reqwest::Method, &str, &str, String); 5] = [
        (reqwest::Method::POST, "/api/admin/users", &s.admin, big_json("handle")),
        (reqwest::Method::POST, "/api/admin/points/grant", &s.admin, big_json("memo")),
        (reqwest::Method::PUT, "/api/admin/models/gpt-4", &s.admin, big_json("note")),
        (reqwest::Method::POST, "/api/user/points/check-balance", &alice.key, big_json("model")),
        (reqwest::Method::POST, "/v1/chat/completions", &alice.key, big_json("model")),
    ];
    for (method, path, key, body) in &cases {
        for chunked in [false, true] {
            let (status, answer) = raw(&s, method.as_str(), path, key, body, chunked).await;
            assert_eq!(status, 413, "{method} {path} (chunked: {chunked}): {answer}");
            assert!(answer.contains(r#""code":"body_too_large""#), "{path} (chunked: {chunked}): {answer}");
            assert!(answer.to_ascii_lowercase().contains("content-type: application/json"), "{path}: {answer}");
        }
    }
    // A body just under the limit still goes through.
    let handle = "b".repeat(10);
    let padded = json!({"handle": handle, "admin": false}).to_string();
    let r = s.send(s.http.post(s.url("/api/admin/users")).bearer_auth(&s.admin).header("content-type", "application/json").body(padded)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Nothing of the refused requests was written.
    let users = s.admin_get("/api/admin/users").await;
    assert_eq!(users.as_array().expect("users").len(), 3, "{users}");
    assert_eq!(s.balance(&alice).await["balance"], "1000");
    assert!(s.admin_get("/api/admin/models").await.as_array().expect("models").is_empty());
    assert_eq!(s.audit().await["ok"], true);
}

/// `/metrics` answers only an admin key or the configured metrics token.
async fn metrics_need_a_token(s: Server) {
    let alice = s.create_user("alice").await;
    let r = s.get("/metrics", None).await;
    assert_eq!((r.status, r.code().as_str()), (401, "api_key_missing"), "{}", r.text);
    let r = s.get("/metrics", Some("not-the-token")).await;
    assert_eq!((r.status, r.code().as_str()), (401, "api_key_invalid"), "{}", r.text);
    let r = s.get("/metrics", Some(&alice.key)).await;
    assert_eq!((r.status, r.code().as_str()), (403, "admin_required"), "{}", r.text);
    for key in [s.admin.as_str(), METRICS_TOKEN] {
        let r = s.get("/metrics", Some(key)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.content_type.starts_with("text/plain"), "{}", r.content_type);
        assert!(r.text.contains("tollway_http_requests_total"), "{}", r.text);
    }
    // A refused scrape reveals nothing.
    assert!(!s.get("/metrics", None).await.text.contains("tollway_points_charged_total"));
}

/// A CSV export of more rows than two pages has every row once, in the
/// JSON history's order, with the same fields, and its amounts add up to
/// the balance.
async fn csv_export_spans_pages_exactly(s: Server) {
    let alice = s.create_user("alice").await;
    let rows = 2 * CSV_PAGE as usize + 7;
    for batch in (0..rows).collect::<Vec<_>>().chunks(50) {
        join_all(batch.iter().map(|i| {
            let s = s.clone();
            async move { s.grant("alice", &(i + 1).to_string(), &format!("g{i}")).await }
        }))
        .await;
    }
    let r = s.get("/api/user/points/history?format=csv", Some(&alice.key)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.content_type.starts_with("text/csv"), "{}", r.content_type);
    let mut reader = csv::Reader::from_reader(r.text.as_bytes());
    let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
    assert_eq!(header[..3], ["seq", "id", "type"]);
    let records: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("well-formed CSV");
    assert_eq!(records.len(), rows, "every grant once");
    // The JSON pages, for comparison.
    let mut json_items: Vec<Value> = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = s.get(&format!("/api/user/points/history?limit=500{cursor}"), Some(&alice.key)).await.ok();
        json_items.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next_cursor"].as_i64() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(json_items.len(), rows);
    let mut total = 0u128;
    let mut ids = BTreeSet::new();
    for (record, item) in records.iter().zip(&json_items) {
        assert_eq!(record[0], item["seq"].to_string());
        assert_eq!(&record[1], item["id"].as_str().expect("id"));
        assert_eq!(&record[2], "grant");
        assert_eq!(&record[4], item["amount"].as_str().expect("amount"));
        assert_eq!(&record[5], format!("+{}", &record[4]));
        assert!(ids.insert(record[1].to_owned()), "row {} twice", &record[1]);
        total += record[4].parse::<u128>().expect("amount");
    }
    let seqs: Vec<i64> = records.iter().map(|r| r[0].parse().expect("seq")).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first, strictly");
    assert_eq!(total, (rows * (rows + 1) / 2) as u128);
    assert_eq!(s.balance(&alice).await["balance"], total.to_string());
    // From a cursor: only the older rows.
    let from = seqs[CSV_PAGE as usize];
    let r = s.get(&format!("/api/user/points/history?format=csv&cursor={from}"), Some(&alice.key)).await;
    let older = csv::Reader::from_reader(r.text.as_bytes()).records().count();
    assert_eq!(older, rows - CSV_PAGE as usize - 1);
    assert_eq!(s.audit().await["ok"], true);
}

on_both_backends!(
    every_documented_route_is_served,
    big_bodies_are_refused_everywhere,
    metrics_need_a_token,
    csv_export_spans_pages_exactly,
);
