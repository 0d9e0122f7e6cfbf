//! What the CKB end-to-end tests share: a devnet node with the test
//! accounts, a Tollway server selling on it (the shop), payers and their
//! requests, receipts built from the saved terms.

use ckb_types::prelude::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tollway_chain::ckb::{Devnet, DevnetConfig, LockScripts, Rpc, TestAccount};
use tollway_core::channel::{SignedSubRav, SubRav, SUBRAV_VERSION};
use tollway_core::Amount;
use tollway_payer::{commitment_for, ChannelRecord, CkbOpenRequest, Payer, StateFile};
use tollway_server::ops;
use tollway_store::testing::{fresh_database_url, Backend};
use tollway_store::Store;
use super::common::Server;

pub const MODEL: &str = "smollm2-135m-instruct";
pub const STORY: &str = "Write a very long story about a dragon who loves tea, with many chapters.";
/// Prices: 1 point per input token, 2 per output token; 100,000 shannons a point.
pub const SHANNONS_PER_POINT: u64 = 100_000;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

pub fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tollway-ckb-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A devnet, and a miner that mines a block every 100 ms while `on`.
pub struct Chain {
    pub devnet: Option<Devnet>,
    pub config: DevnetConfig,
    pub rpc: Rpc,
    pub scripts: LockScripts,
    pub mining: Arc<AtomicBool>,
}

impl Chain {
    pub async fn start(name: &str) -> Chain {
        let binary = PathBuf::from(std::env::var("TOLLWAY_CKB_BIN").expect("TOLLWAY_CKB_BIN (run scripts/test.sh)"));
        let config = DevnetConfig { binary, dir: temp(name), rpc_port: free_port(), p2p_port: free_port() };
        let devnet = Devnet::start(config.clone()).await.expect("devnet");
        let rpc = devnet.rpc().clone();
        let scripts = rpc.lock_scripts().await.expect("locks");
        let mining = Arc::new(AtomicBool::new(true));
        let (flag, miner) = (mining.clone(), rpc.clone());
        tokio::spawn(async move {
            loop {
                if flag.load(Ordering::Relaxed) {
                    let _ = miner.generate_blocks(1).await;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Chain { devnet: Some(devnet), config, rpc, scripts, mining }
    }

    pub fn mine(&self, on: bool) {
        self.mining.store(on, Ordering::Relaxed);
    }

    pub async fn stop_node(&mut self) {
        self.mine(false);
        if let Some(d) = self.devnet.take() {
            d.stop().await.expect("stop the node");
        }
    }

    pub async fn restart_node(&mut self) {
        self.stop_node().await;
        self.devnet = Some(Devnet::start(self.config.clone()).await.expect("the node restarts"));
        self.mine(true);
    }

    /// The transaction `hash` (`0x` hex) as the node has it.
    pub async fn transaction(&self, hash: &str) -> ckb_types::core::TransactionView {
        let bytes: [u8; 32] = tollway_core::channel::wire::parse_hex(hash).expect("a hash");
        self.rpc.transaction(&bytes.pack()).await.expect("get_transaction").expect("known to the node")
    }

    pub async fn balance(&self, account: u32) -> u64 {
        self.rpc.indexer_synced().await.expect("indexer");
        let key = TestAccount::nth(account).key;
        self.rpc.capacity_of(&self.scripts.sighash.script(&key.id().0)).await.expect("capacity")
    }
}

/// The node stops and its folder (about 160 MB) goes with the chain, unless a
/// test failed: then the folder stays for its node.log.
impl Drop for Chain {
    fn drop(&mut self) {
        self.mine(false);
        drop(self.devnet.take());
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.config.dir);
        }
    }
}

/// A database with an admin, a user and the model's price.
pub struct Shop {
    pub url: String,
    pub admin: String,
    pub user: String,
    pub env: Vec<(String, String)>,
}

impl Shop {
    /// `extra`: more `ckb` settings, `", key = value"` each.
    pub async fn new(backend: Backend, chain: &Chain, settle_margin_secs: u64, extra: &str) -> Shop {
        let url = fresh_database_url(backend).await.expect("database");
        let store = Store::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        let (_, admin) = ops::create_user(&store, "admin", true).await.expect("admin");
        let (_, user) = ops::create_user(&store, "ann", false).await.expect("user");
        ops::set_price(&store, MODEL, "1000", "2000", None, true, "test", None).await.expect("price");
        let ckb = format!(
            "{{rpc_url = \"{}\", seller_secret = \"{}\", block_interval_secs = 1, min_duration_secs = 1, settle_margin_secs = {settle_margin_secs}, job_interval_secs = 1, shannons_per_point = {SHANNONS_PER_POINT}{extra}}}",
            chain.rpc.url(),
            TestAccount::nth(2).secret_hex()
        );
        let model = std::env::var("TOLLWAY_TEST_MODEL").expect("TOLLWAY_TEST_MODEL (run scripts/test.sh)");
        // One port for every server of the shop: the payer keeps its URL across a restart.
        let listen = format!("127.0.0.1:{}", free_port());
        Shop { url, admin, user, env: vec![("TOLLWAY_MODEL_PATH".into(), model), ("TOLLWAY_CKB".into(), ckb), ("TOLLWAY_LISTEN".into(), listen)] }
    }

    pub async fn serve(&self) -> Server {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Server::start_with(&self.url, &env).await
    }
}

pub fn payer(name: &str) -> Payer {
    Payer::new(StateFile::in_home(temp(&format!("payer-{name}")))).expect("payer")
}

pub fn open_request(server: &Server, shop: &Shop, chain: &Chain, deposit: u64, duration_secs: u64) -> CkbOpenRequest {
    CkbOpenRequest {
        server: server.base.clone(),
        api_key: shop.user.clone(),
        rpc_url: chain.rpc.url().to_owned(),
        wallet_secret: TestAccount::nth(1).secret_hex(),
        deposit,
        duration_secs,
        budget: None,
        max_amount: None,
        max_fee: 100_000,
        max_fee_rate: tollway_core::ckb::DEFAULT_MAX_FEE_RATE,
        block_interval_secs: 1,
    }
}

pub fn story(max_tokens: u64) -> Value {
    json!({"model": MODEL, "messages": [{"role": "user", "content": STORY}], "max_tokens": max_tokens})
}

pub async fn wait_for_state(payer: &Payer, id: &str, state: &str) -> tollway_payer::RemoteCkbChannel {
    let record = payer.local(Some(id)).await.expect("local");
    for _ in 0..600 {
        match payer.ckb_remote(&record).await {
            Ok(remote) if remote.state == state => return remote,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("channel {id} never reached {state}: {:?}", payer.ckb_remote(&record).await);
}

/// The payee's view of a CKB channel, as its owner.
pub async fn channel_json(http: &reqwest::Client, server: &Server, shop: &Shop, id: &str) -> Value {
    http.get(server.url(&format!("/api/ckb/channels/{id}"))).bearer_auth(&shop.user).send().await.expect("show").json().await.expect("json")
}

/// The buyer's next receipt on `record`'s channel, `more` shannons above
/// `after` (nonce one above), with its commitment: what a payer signs.
pub fn next_receipt(record: &ChannelRecord, after: Option<&SignedSubRav>, more: u64) -> Value {
    let (nonce, total) = after.map_or((0, 0), |r| (r.rav.nonce, r.rav.accumulated.units()));
    let rav = SubRav {
        version: SUBRAV_VERSION,
        chain_id: record.chain_id,
        channel_id: record.channel,
        epoch: record.epoch,
        sub_channel: record.sub_channel,
        nonce: nonce + 1,
        accumulated: Amount::new(total + u128::from(more)),
    };
    let signed = rav.sign(&record.key().expect("key"));
    let commitment = commitment_for(record, &signed).expect("commitment").expect("a CKB channel");
    json!({"receipt": signed, "commitment": commitment})
}

pub async fn post_receipt(http: &reqwest::Client, server: &Server, id: &str, body: Value) -> (u16, Value) {
    let r = http.post(server.url(&format!("/api/channels/{id}/receipts"))).json(&body).send().await.expect("send");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}
