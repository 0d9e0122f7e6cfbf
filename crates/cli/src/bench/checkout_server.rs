//! What the parts of `tollway bench checkout` share: an in-process server
//! in a runtime of its own (so it can be stopped like a process), HTTP
//! clients on distinct loopback addresses, batches of session creations,
//! and a JSON-RPC proxy that delays every request (a remote node's round
//! trip, for `--rpc-delay-ms`).

use futures::StreamExt;
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tollway_server::Config;

/// Open sessions one client may hold (the server's default).
const OPEN_PER_CLIENT: usize = 20;

/// A server in a runtime of its own (two worker threads), so that stopping
/// it ends its watcher and jobs too.
pub struct Server {
    runtime: Option<tokio::runtime::Runtime>,
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// How long `tollway_server::start` took (connect, migrate, networks).
    pub started_in: Duration,
}

impl Server {
    /// Starts the server with `config`.
    pub async fn start(config: Config) -> anyhow::Result<Server> {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("bench-server").enable_all().build()?;
        let t = Instant::now();
        let addr = runtime
            .spawn(async move { tollway_server::start(config).await.map(|r| r.addr).map_err(|e| e.to_string()) })
            .await?
            .map_err(|e| anyhow::anyhow!("server start: {e}"))?;
        Ok(Server { runtime: Some(runtime), base: format!("http://{addr}"), started_in: t.elapsed() })
    }

    /// Stops it: every task of its runtime is dropped (waits up to 5 s).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(runtime) = self.runtime.take() {
            tokio::task::spawn_blocking(move || runtime.shutdown_timeout(Duration::from_secs(5))).await?;
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// HTTP clients bound to distinct loopback addresses (127.0.0.2, …), one
/// per `OPEN_PER_CLIENT` sessions, so no client passes the server's limit
/// of open sessions.
pub fn clients(sessions: usize) -> anyhow::Result<Vec<reqwest::Client>> {
    let n = sessions.div_ceil(OPEN_PER_CLIENT).max(1);
    anyhow::ensure!(n <= 250 * 256, "too many sessions for distinct loopback addresses");
    (0..n)
        .map(|k| {
            let ip = Ipv4Addr::new(127, 0, u8::try_from(k / 250)?, u8::try_from(k % 250 + 2)?);
            Ok(reqwest::Client::builder().local_address(IpAddr::V4(ip)).timeout(Duration::from_secs(60)).build()?)
        })
        .collect()
}

/// What a batch of `POST /api/v1/payments` did.
#[derive(Debug, Default)]
pub struct Created {
    /// Wall time of the batch.
    pub elapsed: Duration,
    /// Latency of each 201.
    pub latencies: Vec<Duration>,
    /// `(request index, payment id, amount_units)` of each 201.
    pub sessions: Vec<(usize, String, u128)>,
    /// Other answers: `(status code_or_error, count)`.
    pub refused: Vec<(String, usize)>,
}

/// Sends `count` creations, `concurrency` in flight, request `i` with
/// body `body(i)` from client `i % clients.len()`.
pub async fn create_sessions(
    base: &str,
    clients: &[reqwest::Client],
    count: usize,
    concurrency: usize,
    body: impl Fn(usize) -> Value,
) -> Created {
    let url = format!("{base}/api/v1/payments");
    let bodies: Vec<String> = (0..count).map(|i| body(i).to_string()).collect();
    let next = AtomicUsize::new(0);
    let refused: Mutex<std::collections::BTreeMap<String, usize>> = Mutex::default();
    let start = Instant::now();
    let workers = futures::stream::iter(0..concurrency.max(1))
        .map(|_| async {
            let mut lat = Vec::new();
            let mut sessions = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let t = Instant::now();
                let client = &clients[i % clients.len()];
                let sent = client.post(&url).header("content-type", "application/json").body(bodies[i].clone()).send().await;
                let outcome = match sent {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        match r.json::<Value>().await {
                            Ok(v) if status == 201 => {
                                let units = v["amount_units"].as_str().and_then(|u| u.parse::<u128>().ok());
                                match (v["id"].as_str(), units) {
                                    (Some(id), Some(units)) => Ok((id.to_owned(), units)),
                                    _ => Err("201 without id or amount_units".to_owned()),
                                }
                            }
                            Ok(v) => Err(format!("{status} {}", v["error"]["code"].as_str().unwrap_or("?"))),
                            Err(e) => Err(format!("{status} unreadable: {e}")),
                        }
                    }
                    Err(e) => Err(format!("transport: {e}")),
                };
                match outcome {
                    Ok((id, units)) => {
                        lat.push(t.elapsed());
                        sessions.push((i, id, units));
                    }
                    Err(code) => *refused.lock().unwrap_or_else(|e| e.into_inner()).entry(code).or_default() += 1,
                }
            }
            (lat, sessions)
        })
        .buffer_unordered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    let elapsed = start.elapsed();
    let mut created = Created { elapsed, ..Created::default() };
    for (lat, sessions) in workers {
        created.latencies.extend(lat);
        created.sessions.extend(sessions);
    }
    created.sessions.sort_by_key(|s| s.0);
    created.refused = refused.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().collect();
    created
}

/// Serves JSON-RPC on a new local port, forwarding every request to
/// `upstream` after `delay`; returns its URL. Runs until the process ends.
pub async fn delay_proxy(upstream: String, delay: Duration) -> anyhow::Result<String> {
    use axum::body::Bytes;
    use axum::http::{header, StatusCode};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let http = reqwest::Client::new();
    let forward = move |body: Bytes| {
        let (http, upstream) = (http.clone(), upstream.clone());
        async move {
            tokio::time::sleep(delay).await;
            let answer = async {
                let r = http.post(&upstream).header(header::CONTENT_TYPE, "application/json").body(body).send().await?;
                let status = r.status();
                Ok::<_, reqwest::Error>((status, r.bytes().await?))
            };
            match answer.await {
                Ok((status, bytes)) => (status, [(header::CONTENT_TYPE, "application/json")], bytes),
                Err(e) => (StatusCode::BAD_GATEWAY, [(header::CONTENT_TYPE, "application/json")], Bytes::from(e.to_string())),
            }
        }
    };
    let app = axum::Router::new().route("/", axum::routing::post(forward));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}"))
}
