//! A Spilman channel's whole life on the real `ckb` node (devnet): funding,
//! 100 per-chunk commitments across a node restart, each completed by the
//! seller and taken by the node's pool check (`test_tx_pool_accept`), the
//! ones kept from before the restart still taken after it, settlement with exact
//! balances; forged commitments refused by the node too; the refund
//! refused before expiry and committed after.

use ckb_types::core::TransactionView;
use ckb_types::packed::{CellInput, CellOutput, Script};
use ckb_types::prelude::*;
use std::path::PathBuf;
use tollway_chain::ckb::spilman::{input_indices, sign_inputs, ChannelTerms, FundingPlan};
use tollway_chain::ckb::{Devnet, DevnetConfig, LockScripts, Rejection, Rpc, TestAccount};
use tollway_core::channel::PayerKey;
use tollway_core::ckb::{ChannelFunds, Since, CKB, MIN_FEE_RATE};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn config(name: &str) -> DevnetConfig {
    let dir = std::env::temp_dir().join(format!("tollway-devnet-channel-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let binary = PathBuf::from(std::env::var("TOLLWAY_CKB_BIN").expect("TOLLWAY_CKB_BIN (run scripts/test.sh)"));
    DevnetConfig { binary, dir, rpc_port: free_port(), p2p_port: free_port() }
}

struct Parties {
    buyer: PayerKey,
    seller: PayerKey,
}

fn parties() -> Parties {
    Parties { buyer: TestAccount::nth(1).key, seller: TestAccount::nth(2).key }
}

fn lock(scripts: &LockScripts, key: &PayerKey) -> Script {
    scripts.sighash.script(&key.id().0)
}

async fn balance(rpc: &Rpc, scripts: &LockScripts, key: &PayerKey) -> u64 {
    rpc.indexer_synced().await.expect("indexer");
    rpc.capacity_of(&lock(scripts, key)).await.expect("capacity")
}

/// Opens a channel: the buyer builds the funding from its live cells, the
/// seller checks it, pre-signs the refund and signs its co-funding input,
/// the buyer checks the refund signature, signs and sends. The terms, the
/// funding fee and the seller's refund signature.
async fn open(rpc: &Rpc, scripts: &LockScripts, p: &Parties, deposit: u64, expiry: Since) -> (ChannelTerms, u64, [u8; 65]) {
    rpc.indexer_synced().await.expect("indexer");
    let funds = ChannelFunds { buyer_deposit: deposit, seller_cofund: 61 * CKB, fee: 1_000 };
    let buyer_cells = rpc.live_cells(&lock(scripts, &p.buyer), deposit + 62 * CKB).await.expect("buyer cells");
    let seller_cells = rpc.live_cells(&lock(scripts, &p.seller), 200 * CKB).await.expect("seller cells");
    let plan = FundingPlan { buyer: p.buyer.public(), seller: p.seller.public(), funds, buyer_cells, seller_cells, fee_rate: MIN_FEE_RATE };
    let unsigned = plan.build(scripts).expect("funding");
    // The seller's side.
    let cell = plan.check(scripts, &unsigned).expect("funding as agreed");
    let terms = ChannelTerms { buyer: p.buyer.public(), seller: p.seller.public(), funds, expiry, cell };
    let refund = terms.refund(scripts).expect("refund");
    let refund_by_seller = terms.sign(&refund, &p.seller);
    let tx = sign_inputs(&unsigned, &input_indices(&unsigned, &plan.seller_cells), &p.seller);
    // The buyer's side.
    assert!(terms.signed_by(&refund, &refund_by_seller, &terms.seller), "the refund is pre-signed before funding");
    let tx = sign_inputs(&tx, &input_indices(&tx, &plan.buyer_cells), &p.buyer);
    let hash = rpc.send(&tx).await.expect("funding accepted");
    rpc.mine_until_committed(&hash, 20).await.expect("funding committed");
    let inputs: u64 = plan.buyer_cells.iter().chain(&plan.seller_cells).map(|c| c.capacity).sum();
    let outputs: u64 = tx.outputs().into_iter().map(|o| Unpack::<u64>::unpack(&o.capacity())).sum();
    (terms, inputs - outputs, refund_by_seller)
}

fn pay(terms: &ChannelTerms, scripts: &LockScripts, buyer: &PayerKey, cumulative: u64) -> TransactionView {
    let tx = terms.commitment(scripts, cumulative).expect("within the channel");
    terms.with_signatures(&tx, Some(&terms.sign(&tx, buyer)), None)
}

/// The seller completes a half-signed commitment with its signature.
fn complete(terms: &ChannelTerms, seller: &PayerKey, half: &TransactionView) -> TransactionView {
    let witness = half.witnesses().get(0).expect("witness").raw_data();
    let lock = ckb_types::packed::WitnessArgs::from_slice(&witness).expect("args").lock().to_opt().expect("lock").raw_data();
    let mut buyer = [0u8; 65];
    buyer.copy_from_slice(&lock[44..109]);
    terms.with_signatures(half, Some(&buyer), Some(&terms.sign(half, seller)))
}

#[tokio::test]
async fn a_channel_pays_100_chunks_survives_a_node_restart_and_settles_exactly() {
    let config = config("life");
    let devnet = Devnet::start(config.clone()).await.expect("devnet");
    let rpc = devnet.rpc().clone();
    let scripts = rpc.lock_scripts().await.expect("system locks from genesis");
    let p = parties();
    let (buyer_before, seller_before) = (balance(&rpc, &scripts, &p.buyer).await, balance(&rpc, &scripts, &p.seller).await);
    let far = Since::AbsoluteBlock(rpc.tip_block_number().await.expect("tip") + 10_000);
    let (terms, funding_fee, _) = open(&rpc, &scripts, &p, 1_061 * CKB, far).await;
    // A second channel between the same keys, for the replay forgery.
    let (other, other_fee, _) = open(&rpc, &scripts, &p, 1_061 * CKB, far).await;

    // 100 chunks, each a commitment the seller checks and keeps if newer,
    // and that the node would take once the seller completes it; the node
    // restarts half-way, and what the seller kept from before still works.
    let (mut latest, mut cumulative) = (None, 0u64);
    let mut devnet = Some(devnet);
    let mut before_restart = None;
    for chunk in 1..=100u64 {
        cumulative += 1_000 * chunk + 7;
        let half = pay(&terms, &scripts, &p.buyer, cumulative);
        let checked = terms.check_commitment(&scripts, &half).expect("an honest commitment");
        assert_eq!(checked.cumulative, cumulative);
        rpc.test_accept(&complete(&terms, &p.seller, &half)).await.unwrap_or_else(|e| panic!("commitment {chunk}: the pool would not take it: {e}"));
        latest = Some(half.clone());
        if chunk == 50 {
            before_restart = Some(half);
            if let Some(d) = devnet.take() {
                d.stop().await.expect("stop the node");
            }
            devnet = Some(Devnet::start(config.clone()).await.expect("node restarts"));
        }
    }
    let latest = latest.expect("a commitment");
    let kept = complete(&terms, &p.seller, &before_restart.expect("chunk 50"));
    rpc.test_accept(&kept).await.expect("a commitment kept from before the restart is still valid after it");

    // Forgeries, completed by a seller that was fooled: the node refuses them.
    let seller_lock = lock(&scripts, &p.seller);
    let buyer_lock = lock(&scripts, &p.buyer);
    let out = |capacity: u64, lock: Script| CellOutput::new_builder().capacity(capacity).lock(lock).build();
    let (to_seller, to_buyer) = (61 * CKB + cumulative, 1_061 * CKB - 1_000 - cumulative);
    let stranger = TestAccount::nth(3).key;
    let forged: Vec<(&str, TransactionView)> = vec![
        ("commitment_wrong_signer", {
            let tx = terms.commitment(&scripts, cumulative).expect("commitment");
            terms.with_signatures(&tx, Some(&terms.sign(&tx, &stranger)), None)
        }),
        ("commitment_wrong_signer", latest.as_advanced_builder().set_outputs(vec![out(to_seller + CKB, seller_lock.clone()), out(to_buyer - CKB, buyer_lock.clone())]).build()),
        ("commitment_outputs_changed", latest.as_advanced_builder().set_outputs(vec![out(to_seller, lock(&scripts, &stranger)), out(to_buyer, buyer_lock.clone())]).build()),
        ("commitment_fee_changed", latest.as_advanced_builder().set_outputs(vec![out(to_seller, seller_lock.clone()), out(to_buyer - 10_000, buyer_lock.clone())]).build()),
        ("commitment_since_changed", latest.as_advanced_builder().set_inputs(vec![CellInput::new(terms.cell.clone(), 0x4000_0000_0000_0001)]).build()),
        ("commitment_wrong_channel", latest.as_advanced_builder().set_inputs(vec![CellInput::new(other.cell.clone(), 0)]).build()),
    ];
    for (code, tx) in &forged {
        assert_eq!(terms.check_commitment(&scripts, tx).map_err(|e| e.code()).err(), Some(*code), "Tollway refuses it first");
        let refused = rpc.test_accept(&complete(&terms, &p.seller, tx)).await.expect_err(code);
        assert_eq!(refused.rejection(), Some(Rejection::ScriptFailed), "{code}: {refused}");
    }

    // Settle: the seller completes the latest and sends it.
    let settlement = complete(&terms, &p.seller, &latest);
    rpc.test_accept(&settlement).await.expect("the pool would take it");
    let hash = rpc.send(&settlement).await.expect("settlement accepted");
    rpc.mine_until_committed(&hash, 20).await.expect("settled");
    assert!(!rpc.is_live(&terms.cell).await.expect("cell"), "the channel cell is spent");
    // The second channel is refunded by both at once, cooperatively (commitment for 0).
    let close_other = complete(&other, &p.seller, &pay(&other, &scripts, &p.buyer, 0));
    rpc.mine_until_committed(&rpc.send(&close_other).await.expect("closed"), 20).await.expect("committed");

    let (buyer_after, seller_after) = (balance(&rpc, &scripts, &p.buyer).await, balance(&rpc, &scripts, &p.seller).await);
    assert_eq!(seller_after - seller_before, cumulative, "the seller gains exactly the last cumulative amount");
    assert_eq!(buyer_before - buyer_after, cumulative + funding_fee + 1_000 + other_fee + 1_000, "the buyer pays it plus the fees");
    if let Some(d) = devnet {
        d.stop().await.expect("stop");
    }
    let _ = std::fs::remove_dir_all(&config.dir);
}

#[tokio::test]
async fn the_refund_is_refused_before_expiry_and_commits_after() {
    let config = config("refund");
    let devnet = Devnet::start(config.clone()).await.expect("devnet");
    let rpc = devnet.rpc().clone();
    let scripts = rpc.lock_scripts().await.expect("system locks");
    let p = parties();
    let (buyer_before, seller_before) = (balance(&rpc, &scripts, &p.buyer).await, balance(&rpc, &scripts, &p.seller).await);
    let expiry = rpc.tip_block_number().await.expect("tip") + 30;
    let (terms, funding_fee, by_seller) = open(&rpc, &scripts, &p, 500 * CKB, Since::AbsoluteBlock(expiry)).await;
    let refund = terms.refund(&scripts).expect("refund");
    let refund = terms.with_signatures(&refund, Some(&terms.sign(&refund, &p.buyer)), Some(&by_seller));

    let early = rpc.send(&refund).await.expect_err("before expiry");
    assert_eq!(early.rejection(), Some(Rejection::Immature), "{early}");
    assert_eq!(early.rejection().map(Rejection::code), Some("tx_immature"));

    // One block short of the expiry it is still refused; from it on, it commits.
    let tip = rpc.tip_block_number().await.expect("tip");
    assert!(tip < expiry, "the funding took fewer than 30 blocks");
    // The pool judges a since by the earliest block that could commit the
    // transaction (tip + 3, the proposal window): seen here, refused at
    // tip = expiry - 4, taken at expiry - 3.
    rpc.generate_blocks(expiry - 4 - tip).await.expect("mine");
    let still_early = rpc.send(&refund).await.expect_err("four blocks before the expiry");
    assert_eq!(still_early.rejection(), Some(Rejection::Immature), "{still_early}");
    rpc.generate_blocks(1).await.expect("mine");
    let hash = rpc.send(&refund).await.expect("in the proposal window of the expiry");
    let block = rpc.mine_until_committed(&hash, 20).await.expect("refunded");
    assert!(block >= expiry, "committed in block {block}, never before the expiry {expiry}");
    let (buyer_after, seller_after) = (balance(&rpc, &scripts, &p.buyer).await, balance(&rpc, &scripts, &p.seller).await);
    assert_eq!(seller_after, seller_before, "the seller's co-funding came back");
    assert_eq!(buyer_before - buyer_after, funding_fee + 1_000, "the deposit came back less the fee");
    devnet.stop().await.expect("stop");
    let _ = std::fs::remove_dir_all(&config.dir);
}
