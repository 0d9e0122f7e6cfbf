//! What the stablecoin checkout's process tests share: an anvil with the
//! three tokens, the `TOLLWAY_EVM` value that points `tollway serve` at
//! it, a TCP proxy that can be killed, payment sessions created, paid and
//! awaited over HTTP, and a fleet of server processes that prints every
//! server's output when a test fails.
#![allow(dead_code)]

use crate::common::Server;
use crate::ledger_env::Env;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tollway_chain::evm::{EvmDevnet, EvmDevnetConfig};
use tollway_core::evm::{Address, Hash32};

/// Anvil's account 1: the deposit address (account 0 holds the tokens and pays).
pub const DEPOSIT: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
/// The network's id.
pub const NETWORK: &str = "bsc-local";

// ---------------------------------------------------------------------------
// The chain
// ---------------------------------------------------------------------------

/// A fresh anvil (chain 56, a block a second) with USDT, USDC and BUSD.
pub struct Chain {
    pub devnet: EvmDevnet,
    payer: [u8; 32],
}

impl Chain {
    pub async fn start() -> Chain {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let devnet = EvmDevnet::start_or_reuse(EvmDevnetConfig { port, ..EvmDevnetConfig::default() })
            .await
            .expect("anvil starts (TOLLWAY_ANVIL_BIN or scripts/anvil.sh)");
        assert!(!devnet.is_reused(), "a fresh anvil, not someone else's node");
        Chain { devnet, payer: EvmDevnet::accounts()[0].secret_key }
    }

    pub fn rpc_url(&self) -> String {
        self.devnet.rpc_url()
    }

    pub fn token(&self, symbol: &str) -> Address {
        self.devnet.tokens().iter().find(|t| t.symbol == symbol).unwrap_or_else(|| panic!("no token {symbol}")).address
    }

    /// Pays a session exactly (its token, its unique amount, to its
    /// deposit address) from account 0; the hash once mined.
    pub async fn pay(&self, view: &Value) -> Hash32 {
        let token = self.token(view["token"].as_str().expect("token"));
        let to: Address = view["deposit_address"].as_str().expect("deposit_address").parse().expect("address");
        self.devnet.transfer(token, &self.payer, to, units(view)).await.expect("transfer mined")
    }

    /// The head block's number.
    pub async fn head(&self) -> u64 {
        self.devnet.client().head().await.expect("head").number
    }

    /// Mines `blocks` blocks now.
    pub async fn mine(&self, blocks: u64) {
        self.devnet.mine(blocks).await.expect("mine");
    }

    /// `TOLLWAY_EVM` for `tollway serve`: one network `bsc-local` on this
    /// chain behind `rpc_urls`, read from block 0, polled every 100 ms,
    /// at most `max_blocks_per_scan` blocks per `eth_getLogs`.
    pub fn evm_env(&self, rpc_urls: &[String], confirmations: u64, max_blocks_per_scan: u64) -> String {
        let urls: Vec<String> = rpc_urls.iter().map(|u| format!("\"{u}\"")).collect();
        let tokens: Vec<String> = self
            .devnet
            .tokens()
            .iter()
            .map(|t| format!("{{symbol = \"{}\", name = \"{}\", contract_address = \"{}\", decimals = {}}}", t.symbol, t.name, t.address, t.decimals))
            .collect();
        format!(
            "{{poll_interval_ms = 100, max_blocks_per_scan = {max_blocks_per_scan}, networks = [{{id = \"{NETWORK}\", name = \"local anvil\", \
             chain_id = 56, rpc_urls = [{}], deposit_address = \"{DEPOSIT}\", confirmations = {confirmations}, start_block = 0, tokens = [{}]}}]}}",
            urls.join(", "),
            tokens.join(", ")
        )
    }
}

/// A session's unique amount in token units.
pub fn units(view: &Value) -> u128 {
    view["amount_units"].as_str().expect("amount_units").parse().expect("units")
}

/// A session's id.
pub fn id_of(view: &Value) -> String {
    view["id"].as_str().expect("id").to_owned()
}

// ---------------------------------------------------------------------------
// Server processes
// ---------------------------------------------------------------------------

/// The environment of every checkout server: the chain, no model.
pub fn server_env(evm: &str) -> Vec<(&'static str, String)> {
    vec![("TOLLWAY_EVM", evm.to_owned()), ("TOLLWAY_MODEL_PATH", "/nonexistent/model.gguf".to_owned())]
}

/// Named `tollway serve` processes on one database. When the test
/// panics, every server's output (killed ones too) is printed before
/// they are reaped.
#[derive(Default)]
pub struct Fleet {
    servers: Vec<(String, Server)>,
}

impl Fleet {
    /// Starts `names` at once on `database_url` with `env`.
    pub async fn start(&mut self, names: &[&str], database_url: &str, env: &[(&'static str, String)]) {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let started = futures::future::join_all(names.iter().map(|_| Server::start_with(database_url, &env))).await;
        self.servers.extend(names.iter().map(|n| (*n).to_owned()).zip(started));
    }

    /// The server named `name`.
    pub fn get(&self, name: &str) -> &Server {
        self.servers.iter().find(|(n, _)| n == name).map(|(_, s)| s).unwrap_or_else(|| panic!("no server {name}"))
    }

    /// SIGKILLs the server named `name` (it stays listed for its logs).
    pub fn kill(&mut self, name: &str) {
        self.servers.iter_mut().find(|(n, _)| n == name).map(|(_, s)| s).unwrap_or_else(|| panic!("no server {name}")).kill();
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for (name, server) in &self.servers {
                eprintln!("===== server {name} ({}) =====\n{}", server.base, server.diagnostics());
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Payments over HTTP
// ---------------------------------------------------------------------------

/// `POST /api/v1/payments` with `key`; the 201 view.
pub async fn create(env: &Env, server: &Server, key: Option<&str>, body: &Value) -> Value {
    let mut request = env.http.post(server.url("/api/v1/payments")).json(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("POST /api/v1/payments");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    assert_eq!(status, 201, "create {body}: {text}");
    serde_json::from_str(&text).expect("a payment view")
}

/// `GET /api/v1/payments/{id}` (no key needed).
pub async fn payment(env: &Env, server: &Server, id: &str) -> Value {
    let response = env.http.get(server.url(&format!("/api/v1/payments/{id}"))).send().await.expect("GET payment");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    assert_eq!(status, 200, "GET payment {id}: {text}");
    serde_json::from_str(&text).expect("a payment view")
}

/// Polls session `id` on each of `servers` in turn until `done` holds for
/// one of them (at most `limit`); that view.
pub async fn wait_payment(env: &Env, servers: &[&Server], id: &str, limit: Duration, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    let mut turn = 0usize;
    loop {
        let view = payment(env, servers[turn % servers.len()], id).await;
        if done(&view) {
            return view;
        }
        assert!(started.elapsed() < limit, "payment {id} not {what} within {limit:?}: {view}");
        turn += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------
// A TCP proxy that can be killed
// ---------------------------------------------------------------------------

/// Forwards every connection to a node until killed (listener closed,
/// open connections cut, as a crash would).
pub struct Proxy {
    /// `http://127.0.0.1:port`.
    pub url: String,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    /// Listens on a free port and forwards to `target` (`http://host:port`).
    pub async fn start(target: &str) -> Proxy {
        let target: SocketAddr = target.trim_start_matches("http://").parse().expect("host:port");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let tasks: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let conns = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
                conns.lock().expect("lock").push(conn.abort_handle());
            }
        });
        tasks.lock().expect("lock").push(accept.abort_handle());
        Proxy { url, tasks }
    }

    /// Closes the listener and cuts every open connection.
    pub fn kill(&self) {
        for task in self.tasks.lock().expect("lock").drain(..) {
            task.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.kill();
    }
}
