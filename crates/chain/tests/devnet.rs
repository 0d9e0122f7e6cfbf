//! The devnet against the real `ckb` node (`TOLLWAY_CKB_BIN`, set by
//! scripts/test.sh from scripts/ckb.sh): it starts, mines on demand, funds
//! the test accounts, keeps its chain across a restart, and says clearly
//! when the binary is missing or a port is taken.

use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;
use tollway_chain::ckb::{ChainError, Devnet, DevnetConfig, SIGHASH_TYPE_HASH, TEST_ACCOUNT_CKB};
use tollway_core::ckb::CKB;

fn binary() -> PathBuf {
    PathBuf::from(std::env::var("TOLLWAY_CKB_BIN").expect("TOLLWAY_CKB_BIN (run scripts/test.sh)"))
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn config_in(dir: PathBuf) -> DevnetConfig {
    DevnetConfig { binary: binary(), dir, rpc_port: free_port(), p2p_port: free_port() }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tollway-devnet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test]
async fn the_devnet_mines_on_demand_funds_its_accounts_and_survives_a_restart() {
    let dir = temp_dir("life");
    let config = config_in(dir.clone());
    let devnet = Devnet::start(config.clone()).await.expect("devnet starts");
    let rpc = devnet.rpc().clone();
    let tip = rpc.tip_block_number().await.expect("tip");
    assert_eq!(rpc.generate_blocks(3).await.expect("mine"), tip + 3, "three blocks on demand");
    assert_eq!(rpc.tip_block_number().await.expect("tip"), tip + 3);
    // The indexer catches up, and every test account holds its genesis cell.
    for _ in 0..100 {
        if rpc.indexer_tip().await.expect("indexer tip") == Some(tip + 3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rpc.indexer_tip().await.expect("indexer tip"), Some(tip + 3));
    for account in config.accounts().iter().skip(1) {
        let lock = json!({"code_hash": SIGHASH_TYPE_HASH, "hash_type": "type", "args": format!("0x{}", hex::encode(account.lock_args().0))});
        assert_eq!(rpc.capacity_of_lock(lock).await.expect("capacity"), TEST_ACCOUNT_CKB * CKB, "account {}", account.index);
    }
    devnet.stop().await.expect("stop");

    // Started again on the same folder: the same chain, and it goes on.
    let devnet = Devnet::start(config.clone()).await.expect("restart");
    assert_eq!(devnet.rpc().tip_block_number().await.expect("tip"), tip + 3, "no block lost");
    assert_eq!(devnet.rpc().generate_blocks(1).await.expect("mine"), tip + 4);

    // A second node on a port in use is refused with a clear error.
    let taken = DevnetConfig { dir: temp_dir("taken"), ..config.clone() };
    match Devnet::start(taken).await {
        Err(e @ ChainError::PortTaken(port)) => {
            assert_eq!(port, config.rpc_port);
            assert_eq!(e.code(), "port_taken");
        }
        Err(e) => panic!("expected port_taken, got {e}"),
        Ok(_) => panic!("a second node started on a taken port"),
    }
    let genesis = devnet.rpc().block_hash(0).await.expect("genesis").expect("block 0");
    devnet.stop().await.expect("stop");
    let _ = std::fs::remove_dir_all(&dir);

    // Another devnet, from scratch: the very same genesis (reproducible).
    let other_dir = temp_dir("other");
    let other = Devnet::start(config_in(other_dir.clone())).await.expect("another devnet");
    assert_eq!(other.rpc().block_hash(0).await.expect("genesis"), Some(genesis));
    other.stop().await.expect("stop");
    let _ = std::fs::remove_dir_all(&other_dir);
}

#[tokio::test]
async fn a_missing_binary_is_named() {
    let config = DevnetConfig { binary: PathBuf::from("/nonexistent/ckb"), dir: temp_dir("missing"), rpc_port: free_port(), p2p_port: free_port() };
    match Devnet::start(config).await {
        Err(e @ ChainError::BinaryMissing(_)) => {
            assert_eq!(e.code(), "ckb_binary_missing");
            assert!(e.to_string().contains("/nonexistent/ckb") && e.to_string().contains("scripts/ckb.sh"), "{e}");
        }
        Err(e) => panic!("expected ckb_binary_missing, got {e}"),
        Ok(_) => panic!("started without a binary"),
    }
}
