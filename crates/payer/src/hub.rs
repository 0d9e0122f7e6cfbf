//! Paying through the CKB hub (docs/hub.md): any amount, even below the
//! 61 CKB cell minimum. The hub prepares a 2-in-2-out transaction; the
//! payer rebuilds it from the cells its own node shows and signs only if
//! it is exactly that transaction (its cells, the amount to the hub, its
//! change back, a fee within its limit); then the hub adds its signature
//! and sends it.

use crate::api::{base, call, CALL_TIMEOUT};
use crate::error::PayerError;
use ckb_types::core::TransactionView;
use ckb_types::packed::{OutPoint, Transaction};
use ckb_types::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};
use tollway_chain::ckb::hub::{sign_sender, HubPaymentPlan, HubTxError, LiveCell};
use tollway_chain::ckb::{LockScripts, Rpc, TxStatus};
use tollway_core::channel::{KeyId, PayerKey};
use tollway_core::ckb::{parse_sighash, AddressNetwork, Shannons, SighashArgs};

/// One payment through the hub.
#[derive(Debug, Clone)]
pub struct HubPayRequest {
    /// The hub's base URL.
    pub server: String,
    /// An API key at the hub (a payment to the gateway buys its user points).
    pub api_key: Option<String>,
    /// The payer's CKB node (with the indexer).
    pub rpc_url: String,
    /// The payer's wallet key, `0x` + 64 hex digits.
    pub wallet_secret: String,
    /// Who is paid: a CKB address or `0x` + 40 hex digits of lock args.
    pub to: String,
    /// How much, shannons.
    pub amount: Shannons,
    /// The most the network fee may be, shannons.
    pub max_fee: Shannons,
}

#[derive(Deserialize)]
struct HubInfo {
    hub_lock_args: String,
    fee_rate: u64,
    address_prefix: String,
}

#[derive(Deserialize)]
struct Prepared {
    payment_id: i64,
    raw_tx: String,
}

fn wallet(secret: &str) -> Result<PayerKey, PayerError> {
    PayerKey::from_hex(secret).map_err(|e| PayerError::InvalidArgument(format!("the wallet secret: {e}")))
}

fn read_tx(text: &str) -> Result<TransactionView, PayerError> {
    let bytes = text.strip_prefix("0x").and_then(|h| hex::decode(h).ok()).ok_or_else(|| PayerError::Protocol("raw_tx is not 0x hex".into()))?;
    Transaction::from_slice(&bytes).map(|t| t.into_view()).map_err(|e| PayerError::Protocol(format!("raw_tx is not a transaction: {e}")))
}

/// The capacity and lock args of the cell at `point`: live on the node,
/// or an output of a transaction still in its pool (a payment's change
/// the next payment spends). An output of a committed transaction that
/// is not live is spent: refused, the payment could never commit.
async fn cell(rpc: &Rpc, point: &OutPoint) -> Result<(Shannons, Vec<u8>), PayerError> {
    let output = match rpc.live_cell(point).await? {
        Some(output) => Some(output),
        None if matches!(rpc.tx_status(&point.tx_hash()).await?, TxStatus::Committed(_)) => {
            // Committed: live now (it committed since the first look), or spent.
            let live = rpc.live_cell(point).await?;
            Some(live.ok_or_else(|| HubTxError::TxMismatch(format!("input {point} is already spent")))?)
        }
        None => {
            let index: u32 = point.index().unpack();
            rpc.transaction(&point.tx_hash()).await?.and_then(|tx| tx.outputs().get(index as usize))
        }
    };
    let output = output.ok_or_else(|| HubTxError::TxMismatch(format!("input {point} is not a cell the node knows")))?;
    Ok((output.capacity().unpack(), output.lock().args().raw_data().to_vec()))
}

/// Checks the hub's prepared transaction against the one the payer would
/// build from the same cells and pays nothing else: the same hash (inputs,
/// outputs, deps, since), the sender's cells its own, the hub's cell the
/// hub's, the fee within `max_fee`. The number of sender inputs.
async fn check_prepared(
    rpc: &Rpc,
    scripts: &LockScripts,
    tx: &TransactionView,
    sender: SighashArgs,
    hub: SighashArgs,
    req: &HubPayRequest,
    fee_rate: u64,
) -> Result<usize, PayerError> {
    let points: Vec<OutPoint> = tx.input_pts_iter().collect();
    let Some((pool_point, sender_points)) = points.split_last() else {
        return Err(HubTxError::TxMismatch("no inputs".into()).into());
    };
    let mut sender_cells = Vec::new();
    for point in sender_points {
        let (capacity, args) = cell(rpc, point).await?;
        if args != sender.0 {
            return Err(HubTxError::TxMismatch(format!("input {point} is not the payer's cell")).into());
        }
        sender_cells.push(LiveCell { out_point: point.clone(), capacity });
    }
    let (pool_capacity, pool_args) = cell(rpc, pool_point).await?;
    if pool_args != hub.0 {
        return Err(HubTxError::TxMismatch("the last input is not the hub's cell".into()).into());
    }
    let plan = HubPaymentPlan {
        sender,
        sender_cells,
        hub,
        pool_cell: LiveCell { out_point: pool_point.clone(), capacity: pool_capacity },
        amount: req.amount,
        fee_rate,
    };
    let expected = plan.build(scripts)?;
    if expected.tx.hash() != tx.hash() {
        return Err(HubTxError::TxMismatch("the prepared transaction is not the payment asked for".into()).into());
    }
    if expected.fee > req.max_fee {
        return Err(PayerError::FeeTooHigh { fee: expected.fee, max: req.max_fee });
    }
    Ok(sender_points.len())
}

/// Pays `req.amount` to `req.to` through the hub: prepare, check, sign,
/// transfer. Returns the payment as the hub shows it after the transfer
/// (`payment_id`, `tx_hash`, `state: sent`).
pub async fn hub_pay(req: &HubPayRequest) -> Result<Value, PayerError> {
    let key = wallet(&req.wallet_secret)?;
    let sender = SighashArgs(KeyId::of(&key.public()).0);
    let http = reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .build()
        .map_err(|e| PayerError::Transport { url: req.server.clone(), message: e.to_string() })?;
    let root = base(&req.server);
    let url = format!("{root}/api/hub");
    let info: HubInfo = call(&url, http.get(&url)).await?;
    let network = if info.address_prefix == "ckb" { AddressNetwork::Mainnet } else { AddressNetwork::Testnet };
    let hub = parse_sighash(&info.hub_lock_args, network).map_err(|e| PayerError::Protocol(format!("the hub's key: {e}")))?;
    parse_sighash(&req.to, network).map_err(|e| PayerError::InvalidArgument(format!("--to: {e}")))?;
    let rpc = Rpc::new(req.rpc_url.clone());
    let scripts = rpc.lock_scripts().await?;
    let with_key = |builder: reqwest::RequestBuilder| match &req.api_key {
        Some(k) => builder.bearer_auth(k),
        None => builder,
    };
    let url = format!("{root}/api/payment/prepare");
    let body = json!({"sender": sender.to_hex(), "receiver": req.to, "amount": req.amount.to_string()});
    let prepared: Prepared = call(&url, with_key(http.post(&url)).json(&body)).await?;
    let tx = read_tx(&prepared.raw_tx)?;
    let sender_inputs = check_prepared(&rpc, &scripts, &tx, sender, hub, req, info.fee_rate).await?;
    let signed = sign_sender(&tx, sender_inputs, &key);
    let url = format!("{root}/api/payment/transfer");
    let body = json!({"payment_id": prepared.payment_id, "tx": format!("0x{}", hex::encode(signed.data().as_slice()))});
    call(&url, with_key(http.post(&url)).json(&body)).await
}
