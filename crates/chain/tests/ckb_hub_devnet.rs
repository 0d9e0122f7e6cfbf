//! The hub's transactions on the real `ckb` node (devnet,
//! `TOLLWAY_CKB_BIN`): the hub splits its cell into pool cells; a sender
//! pays 5 CKB through one (signed by both, committed, exact balances); a
//! payment spending the sender's still-pending change is taken by the
//! pool (chaining) and both commit; a sender that replaces its pending
//! input with a higher-fee transaction of its own (RBF) makes the hub's
//! payment never commit; a payout to two parties and a merge commit.

use ckb_types::core::TransactionView;
use ckb_types::packed::{Byte32, OutPoint, Script};
use ckb_types::prelude::*;
use std::path::PathBuf;
use tollway_chain::ckb::hub::{check_signed, merge, payout, sign_hub, sign_sender, split, HubPaymentPlan, LiveCell, PreparedPayment};
use tollway_chain::ckb::{Devnet, DevnetConfig, LockScripts, Rejection, Rpc, TestAccount, TxStatus};
use tollway_core::channel::PayerKey;
use tollway_core::ckb::hub::PayoutPlan;
use tollway_core::ckb::{SighashArgs, CKB, MIN_FEE_RATE};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn config(name: &str) -> DevnetConfig {
    let dir = std::env::temp_dir().join(format!("tollway-devnet-hub-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let binary = PathBuf::from(std::env::var("TOLLWAY_CKB_BIN").expect("TOLLWAY_CKB_BIN (run scripts/test.sh)"));
    DevnetConfig { binary, dir, rpc_port: free_port(), p2p_port: free_port() }
}

fn args(key: &PayerKey) -> SighashArgs {
    SighashArgs(key.id().0)
}

fn lock(scripts: &LockScripts, owner: SighashArgs) -> Script {
    scripts.sighash.script(&owner.0)
}

/// Output `index` of `tx` as a cell to spend.
fn output_cell(tx: &TransactionView, index: u32) -> LiveCell {
    let capacity = tx.outputs().get(index as usize).expect("output").capacity().unpack();
    LiveCell { out_point: OutPoint::new(tx.hash(), index), capacity }
}

/// The cell at `tx_hash:index` on the node: its capacity and lock args if live.
async fn live(rpc: &Rpc, tx_hash: &Byte32, index: u32) -> Option<(u64, Vec<u8>)> {
    let cell = rpc.live_cell(&OutPoint::new(tx_hash.clone(), index)).await.expect("get_live_cell")?;
    Some((cell.capacity().unpack(), cell.lock().args().raw_data().to_vec()))
}

async fn balance(rpc: &Rpc, scripts: &LockScripts, owner: SighashArgs) -> u64 {
    rpc.indexer_synced().await.expect("indexer");
    rpc.capacity_of(&lock(scripts, owner)).await.expect("capacity")
}

struct Hub {
    rpc: Rpc,
    scripts: LockScripts,
    sender: PayerKey,
    hub: PayerKey,
}

impl Hub {
    /// Prepares a payment of `amount` from `sender_cells` through
    /// `pool_cell`; the sender signs, the hub checks and signs. Not sent.
    fn pay(&self, sender_cells: Vec<LiveCell>, pool_cell: LiveCell, amount: u64) -> (PreparedPayment, TransactionView) {
        let plan = HubPaymentPlan { sender: args(&self.sender), sender_cells, hub: args(&self.hub), pool_cell, amount, fee_rate: MIN_FEE_RATE };
        let prepared = plan.build_fewest(&self.scripts).expect("the payment builds");
        let signed = sign_sender(&prepared.tx, prepared.sender_cells.len(), &self.sender);
        check_signed(&self.scripts, &prepared.tx, &signed, &prepared.terms).expect("the hub accepts the sender's signature");
        let full = sign_hub(&signed, prepared.hub_input(), &self.hub);
        (prepared, full)
    }

    async fn commit(&self, tx: &TransactionView, what: &str) -> u64 {
        let hash = self.rpc.send(tx).await.unwrap_or_else(|e| panic!("{what}: the pool refused it: {e}"));
        self.rpc.mine_until_committed(&hash, 30).await.unwrap_or_else(|e| panic!("{what}: not committed: {e}"))
    }
}

#[tokio::test]
async fn hub_payments_commit_chain_on_pending_change_lose_to_a_replacement_and_pay_out() {
    let config = config("life");
    let devnet = Devnet::start(config.clone()).await.expect("devnet");
    let rpc = devnet.rpc().clone();
    let scripts = rpc.lock_scripts().await.expect("system locks from genesis");
    let h = Hub { rpc: rpc.clone(), scripts: scripts.clone(), sender: TestAccount::nth(1).key, hub: TestAccount::nth(3).key };
    let (sender, hub) = (args(&h.sender), args(&h.hub));

    // The pool: the hub splits its genesis cell into three 100 CKB cells and the rest.
    rpc.indexer_synced().await.expect("indexer");
    let hub_genesis = rpc.live_cells(&lock(&scripts, hub), u64::MAX).await.expect("the hub's cells");
    let pool = split(&scripts, &h.hub, &hub_genesis, 3, 100 * CKB, MIN_FEE_RATE).expect("split");
    h.commit(&pool.tx, "the pool split").await;
    let pool_cells: Vec<LiveCell> = (0..3).map(|i| output_cell(&pool.tx, i)).collect();
    assert_eq!(live(&rpc, &pool.tx.hash(), 3).await.map(|c| c.0), Some(hub_genesis[0].capacity - 300 * CKB - pool.fee));

    // A: the sender pays 5 CKB through pool cell 0.
    let sender_before = balance(&rpc, &scripts, sender).await;
    let candidates = rpc.live_cells(&lock(&scripts, sender), 5 * CKB + 62 * CKB).await.expect("the sender's cells");
    let (a, a_tx) = h.pay(candidates.clone(), pool_cells[0].clone(), 5 * CKB);
    assert_eq!(a.sender_cells, candidates[..1].to_vec(), "one genesis cell pays it");
    eprintln!("bench: hub payment on the devnet (sighash dep group): {} bytes serialized, fee {} shannons", a_tx.data().as_slice().len(), a.fee);
    h.commit(&a_tx, "payment A").await;
    assert_eq!(live(&rpc, &a_tx.hash(), 1).await, Some((105 * CKB, hub.0.to_vec())), "the hub's cell holds its 100 CKB + 5 CKB");
    assert_eq!(live(&rpc, &a_tx.hash(), 0).await, Some((candidates[0].capacity - 5 * CKB - a.fee, sender.0.to_vec())), "the sender's change");
    assert_eq!(sender_before - balance(&rpc, &scripts, sender).await, 5 * CKB + a.fee, "the sender paid the amount and the fee");

    // B then C before any block: C spends B's change while B is still pending.
    let (b, b_tx) = h.pay(vec![output_cell(&a_tx, 0)], pool_cells[1].clone(), 7 * CKB);
    let b_hash = rpc.send(&b_tx).await.expect("payment B");
    let (c, c_tx) = h.pay(vec![output_cell(&b_tx, 0)], pool_cells[2].clone(), 9 * CKB);
    let c_sent = rpc.send(&c_tx).await;
    eprintln!(
        "chaining: payment C spending pending B's change: {c_sent:?}, B {:?}, C {:?}",
        rpc.tx_status(&b_hash).await,
        rpc.tx_status(&c_tx.hash()).await
    );
    let c_hash = c_sent.expect("the pool takes a payment spending a pending output");
    assert_eq!(rpc.tx_status(&c_hash).await.expect("status"), TxStatus::Pending);
    let (b_block, c_block) = (rpc.mine_until_committed(&b_hash, 30).await.expect("B"), rpc.mine_until_committed(&c_hash, 30).await.expect("C"));
    eprintln!("chaining: B committed in block {b_block}, C in block {c_block}");
    assert!(c_block >= b_block);
    assert_eq!(live(&rpc, &b_tx.hash(), 1).await.map(|c| c.0), Some(107 * CKB));
    assert_eq!(live(&rpc, &c_tx.hash(), 1).await.map(|c| c.0), Some(109 * CKB));
    assert_eq!(live(&rpc, &b_tx.hash(), 0).await, None, "B's change is spent by C");
    assert_eq!(live(&rpc, &c_tx.hash(), 0).await.map(|c| c.0), Some(b.change - 9 * CKB - c.fee));
    assert_eq!(sender_before - balance(&rpc, &scripts, sender).await, 21 * CKB + a.fee + b.fee + c.fee);

    // D: a payment through A's hub cell, then the sender double-spends D's
    // input to itself before D commits.
    let (d, d_tx) = h.pay(vec![output_cell(&c_tx, 0)], output_cell(&a_tx, 1), 11 * CKB);
    let d_hash = rpc.send(&d_tx).await.expect("payment D");
    let own_cell = vec![output_cell(&c_tx, 0)];
    let same_fee = merge(&scripts, &h.sender, &own_cell, MIN_FEE_RATE).expect("the sender's own spend");
    let refused = rpc.send(&same_fee.tx).await.expect_err("a conflicting spend at the same fee rate");
    eprintln!("rbf: a conflicting spend paying {} shannons (D pays {}): {:?} / {refused}", same_fee.fee, d.fee, refused.rejection());
    assert!(refused.to_string().contains("PoolRejectedRBF"), "the pool asks a replacement for a higher fee: {refused}");
    let replacement = merge(&scripts, &h.sender, &own_cell, 10 * MIN_FEE_RATE).expect("the sender's replacement");
    let replaced = rpc.send(&replacement.tx).await.expect("a higher-fee replacement of the sender's own input");
    let d_status = rpc.tx_status(&d_hash).await.expect("D's status");
    eprintln!("rbf: the replacement paying {} shannons was taken; D is now {d_status:?}", replacement.fee);
    assert!(matches!(d_status, TxStatus::Rejected(_) | TxStatus::Unknown), "D left the pool: {d_status:?}");
    rpc.mine_until_committed(&replaced, 30).await.expect("the replacement commits");
    let resent = rpc.send(&d_tx).await.expect_err("D can never commit: its sender input is spent");
    eprintln!("rbf: D sent again after the replacement committed: {:?} / {resent}", resent.rejection());
    // Seen here: once the spend commits, the node no longer knows the
    // cell at all (`Resolve failed Unknown(..)`), not `Dead(..)`.
    assert_eq!(resent.rejection(), Some(Rejection::InputUnknown), "{resent}");
    rpc.generate_blocks(5).await.expect("mine");
    let d_after = rpc.tx_status(&d_hash).await.expect("D's status");
    eprintln!("rbf: D five blocks later: {d_after:?}");
    assert!(!matches!(d_after, TxStatus::Committed(_)), "the hub's payment never commits");
    assert_eq!(live(&rpc, &a_tx.hash(), 1).await.map(|c| c.0), Some(105 * CKB), "the hub's pool cell is untouched");

    // A payout to two parties from B's and C's hub cells.
    let parties = [SighashArgs([0x71; 20]), SighashArgs([0x72; 20])];
    let plan = PayoutPlan { outputs: vec![(parties[0], 70 * CKB), (parties[1], 66 * CKB + 1)] };
    let paid = payout(&scripts, &h.hub, &[output_cell(&b_tx, 1), output_cell(&c_tx, 1)], &plan, MIN_FEE_RATE).expect("payout");
    eprintln!(
        "bench: payout of 2 parties on the devnet: {} inputs, {} bytes serialized, fee {} shannons",
        paid.tx.inputs().len(),
        paid.tx.data().as_slice().len(),
        paid.fee
    );
    h.commit(&paid.tx, "the payout").await;
    assert_eq!(live(&rpc, &paid.tx.hash(), 0).await, Some((70 * CKB, parties[0].0.to_vec())));
    assert_eq!(live(&rpc, &paid.tx.hash(), 1).await, Some((66 * CKB + 1, parties[1].0.to_vec())));
    assert_eq!(live(&rpc, &paid.tx.hash(), 2).await, Some((216 * CKB - 136 * CKB - 1 - paid.fee, hub.0.to_vec())));
    assert_eq!(paid.change, 80 * CKB - 1 - paid.fee);

    // The hub merges what is left of the pool into one cell.
    let left = [output_cell(&a_tx, 1), output_cell(&paid.tx, 2)];
    let merged = merge(&scripts, &h.hub, &left, MIN_FEE_RATE).expect("merge");
    h.commit(&merged.tx, "the merge").await;
    assert_eq!(live(&rpc, &merged.tx.hash(), 0).await.map(|c| c.0), Some(105 * CKB + paid.change - merged.fee));

    devnet.stop().await.expect("stop");
    let _ = std::fs::remove_dir_all(&config.dir);
}
