//! CKB-backed channels (docs/ckb.md, "Payer"): the buyer opens a Spilman
//! channel (its own cells plus the seller's co-funding into a 2-of-2
//! cell, the refund pre-signed by the seller before the funding is
//! signed), every receipt carries the commitment paying its total, and
//! after the expiry the buyer takes its refund alone.

use crate::api::CALL_TIMEOUT;
use crate::api::{base, call};
use crate::ckb_record::CkbRecord;
use crate::client::Payer;
use crate::error::PayerError;
use crate::state::{ChannelRecord, Secret};
use ckb_types::core::TransactionView;
use ckb_types::packed::Transaction;
use ckb_types::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tollway_chain::ckb::spilman::{input_indices, parse_out_point, sign_inputs, ChannelTerms, FundingPlan, LiveCell, TxError};
use tollway_chain::ckb::{Rpc, TxStatus};
use tollway_core::channel::wire::{parse_hex, parse_public_key, public_key_hex};
use tollway_core::channel::{ChannelId, PayerKey};
use tollway_core::ckb::{check_offer, occupied_capacity, ChannelFunds, OfferLimits, OfferTerms, Since, CKB};
use tollway_core::Amount;

/// Opening a CKB channel.
#[derive(Debug, Clone)]
pub struct CkbOpenRequest {
    /// The payee's base URL.
    pub server: String,
    /// The owner's API key at the payee.
    pub api_key: String,
    /// The buyer's CKB node.
    pub rpc_url: String,
    /// The buyer's wallet key, `0x` + 64 hex digits: its cells fund the
    /// channel, it signs the receipts, the refund and change return to it.
    pub wallet_secret: String,
    /// What the buyer puts in, shannons (61 CKB of it is its change cell
    /// at the close; the rest less the fee can be paid).
    pub deposit: u64,
    /// How long the channel lives, seconds.
    pub duration_secs: u64,
    /// The most this payer will ever sign for (at most what the channel can pay).
    pub budget: Option<Amount>,
    /// The default most one request may add.
    pub max_amount: Option<Amount>,
    /// The most the channel's fees may cost, shannons: the funding fee
    /// plus the commitment (or refund) fee.
    pub max_fee: u64,
    /// The highest funding fee rate accepted, shannons per 1,000 bytes.
    pub max_fee_rate: u64,
    /// The chain's block interval as the buyer knows it, seconds: the
    /// offer's expiry may be at most the duration in blocks (plus slack).
    pub block_interval_secs: u64,
}

#[derive(Deserialize)]
struct SellerCell {
    out_point: String,
    capacity: String,
}

#[derive(Deserialize)]
struct OfferAnswer {
    id: ChannelId,
    seller_key: String,
    cofund: String,
    fee: String,
    expiry_block: u64,
    seller_cells: Vec<SellerCell>,
    fee_rate: u64,
}

/// The part of the seller's published terms (`GET /api/ckb`) the payer pins.
#[derive(Deserialize)]
struct SellerInfo {
    shannons_per_point: u64,
}

#[derive(Deserialize)]
struct FundingAnswer {
    funding: String,
    refund_signature: String,
}

/// The CKB state of a channel as the payee shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteCkbChannel {
    /// Its id.
    pub id: ChannelId,
    /// Where it is in its life (`active`, `settled`, …).
    pub state: String,
    /// The block from which the refund is valid.
    pub expiry_block: u64,
    /// What the latest kept commitment pays the seller, shannons.
    pub paid: String,
    /// The settlement or refund sent, if any.
    #[serde(default)]
    pub closing_tx_hash: Option<String>,
}

fn number(text: &str, what: &str) -> Result<u64, PayerError> {
    text.parse().map_err(|_| PayerError::Protocol(format!("{what} {text:?} is not a number")))
}

fn tx_of(text: &str) -> Result<TransactionView, PayerError> {
    let bytes = text.strip_prefix("0x").and_then(|h| hex::decode(h).ok()).ok_or_else(|| PayerError::Protocol("a transaction is 0x + hex".into()))?;
    Transaction::from_slice(&bytes).map(|t| t.into_view()).map_err(|e| PayerError::Protocol(format!("not a transaction: {e}")))
}

fn tx_hex(tx: &TransactionView) -> String {
    format!("0x{}", hex::encode(tx.data().as_slice()))
}

fn signature(text: &str) -> Result<[u8; 65], PayerError> {
    parse_hex(text).map_err(|e| PayerError::Protocol(format!("signature: {e}")))
}

impl Payer {
    /// Opens a CKB channel: asks the payee for an offer, checks it, builds
    /// the funding from the wallet's cells, has the seller check it and
    /// pre-sign the refund, checks that signature, saves everything (the
    /// refund included) and only then signs the funding and has the payee
    /// send it. The channel is active once the funding commits
    /// ([`Payer::ckb_wait_active`]).
    pub async fn open_ckb(&self, request: CkbOpenRequest) -> Result<ChannelRecord, PayerError> {
        let server = base(request.server.trim()).to_owned();
        let key = PayerKey::from_hex(&request.wallet_secret).map_err(|e| PayerError::InvalidArgument(format!("the wallet secret: {e}")))?;
        let rpc = Rpc::new(request.rpc_url.clone());
        let scripts = rpc.lock_scripts().await?;
        let info_url = format!("{server}/api/ckb");
        let info: SellerInfo = call(&info_url, self.http.get(&info_url).timeout(CALL_TIMEOUT)).await?;
        let prices = self.published_prices(&server, &request.api_key, Some(info.shannons_per_point)).await?;
        let url = format!("{server}/api/ckb/channels");
        let body = json!({"key": public_key_hex(&key.public()), "deposit": request.deposit.to_string(), "duration_secs": request.duration_secs});
        let offer: OfferAnswer = call(&url, self.http.post(&url).timeout(CALL_TIMEOUT).bearer_auth(&request.api_key).json(&body)).await?;
        let funds = ChannelFunds { buyer_deposit: request.deposit, seller_cofund: number(&offer.cofund, "cofund")?, fee: number(&offer.fee, "fee")? };
        let tip = rpc.tip_block_number().await?;
        let limits = OfferLimits { block_interval_secs: request.block_interval_secs, max_fee_rate: request.max_fee_rate, max_fee: request.max_fee };
        let check = |funding_fee| {
            check_offer(
                &OfferTerms {
                    tip,
                    expiry_block: offer.expiry_block,
                    duration_secs: request.duration_secs,
                    fee_rate: offer.fee_rate,
                    commitment_fee: funds.fee,
                    funding_fee,
                },
                &limits,
            )
        };
        check(0)?;
        let seller = parse_public_key(&offer.seller_key).map_err(PayerError::Protocol)?;
        let seller_lock = scripts.sighash.script(&tollway_core::channel::KeyId::of(&seller).0);
        let mut seller_cells = Vec::new();
        for cell in &offer.seller_cells {
            let point = parse_out_point(&cell.out_point).ok_or_else(|| PayerError::Protocol(format!("seller cell {}", cell.out_point)))?;
            let live = rpc.live_cell(&point).await?.filter(|o| o.lock() == seller_lock);
            let capacity = number(&cell.capacity, "capacity")?;
            if live.is_none_or(|o| Unpack::<u64>::unpack(&o.capacity()) != capacity) {
                return Err(PayerError::Protocol(format!("the seller's cell {} is not its live cell of {capacity} shannons", cell.out_point)));
            }
            seller_cells.push(LiveCell { out_point: point, capacity });
        }
        let plain = occupied_capacity(20, None, 0).unwrap_or(61 * CKB);
        let buyer_cells = rpc.live_cells(&scripts.sighash.script(&key.id().0), request.deposit.saturating_add(plain).saturating_add(CKB)).await?;
        let plan = FundingPlan { buyer: key.public(), seller, funds, buyer_cells, seller_cells, fee_rate: offer.fee_rate };
        let unsigned = plan.build(&scripts)?;
        check(plan.fee(&unsigned).unwrap_or(u64::MAX))?;
        let cell = plan.check(&scripts, &unsigned)?;
        let terms = ChannelTerms { buyer: key.public(), seller, funds, expiry: Since::AbsoluteBlock(offer.expiry_block), cell };

        let url = format!("{server}/api/ckb/channels/{}/funding", offer.id);
        let answer: FundingAnswer =
            call(&url, self.http.post(&url).timeout(CALL_TIMEOUT).bearer_auth(&request.api_key).json(&json!({"tx": tx_hex(&unsigned)}))).await?;
        let from_seller = tx_of(&answer.funding)?;
        if from_seller.hash() != unsigned.hash() {
            return Err(TxError::FundingMismatch("the seller changed the funding transaction".into()).into());
        }
        let refund_signature = signature(&answer.refund_signature)?;
        if !terms.signed_by(&terms.refund(&scripts)?, &refund_signature, &seller) {
            return Err(TxError::WrongSigner { role: "seller" }.into());
        }
        let signed = sign_inputs(&from_seller, &input_indices(&from_seller, &plan.buyer_cells), &key);
        let max_payment = Amount::new(u128::from(funds.max_payment()));
        let record = ChannelRecord {
            server: server.clone(),
            api_key: Secret::new(request.api_key.clone()),
            channel: offer.id,
            chain_id: 0,
            epoch: 1,
            asset: "CKB".into(),
            secret_key: Secret::new(request.wallet_secret.clone()),
            sub_channel: key.id(),
            deposit: max_payment,
            budget: request.budget.map_or(max_payment, |b| b.min(max_payment)),
            max_amount: request.max_amount,
            latest_signed: None,
            latest_accepted: None,
            open: true,
            opened_at: crate::client::now_secs(),
            ckb: Some(CkbRecord {
                rpc_url: request.rpc_url.clone(),
                scripts,
                seller_key: offer.seller_key.clone(),
                buyer_deposit: funds.buyer_deposit,
                seller_cofund: funds.seller_cofund,
                fee: funds.fee,
                expiry_block: offer.expiry_block,
                cell: tollway_chain::ckb::spilman::out_point_text(&terms.cell),
                refund_seller_signature: answer.refund_signature.clone(),
                refund_tx_hash: None,
            }),
            prices,
            slack_tokens: tollway_core::channel::DEFAULT_SLACK_TOKENS,
        };
        let remote = self.remote(&record).await?;
        let record = ChannelRecord { chain_id: remote.chain_id, ..record };
        self.save_new(record.clone()).await?;
        let url = format!("{server}/api/ckb/channels/{}/confirm", offer.id);
        let _: RemoteCkbChannel =
            call(&url, self.http.post(&url).timeout(CALL_TIMEOUT).bearer_auth(&request.api_key).json(&json!({"tx": tx_hex(&signed)}))).await?;
        Ok(record)
    }

    /// The payee's view of a CKB channel.
    pub async fn ckb_remote(&self, record: &ChannelRecord) -> Result<RemoteCkbChannel, PayerError> {
        let url = format!("{}/api/ckb/channels/{}", base(&record.server), record.channel);
        call(&url, self.http.get(&url).timeout(CALL_TIMEOUT).bearer_auth(record.api_key.expose())).await
    }

    /// Waits (polling every 200 ms, at most `timeout`) until the payee sees
    /// the channel active.
    pub async fn ckb_wait_active(&self, selector: Option<&str>, timeout: std::time::Duration) -> Result<RemoteCkbChannel, PayerError> {
        let record = self.local(selector).await?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let remote = self.ckb_remote(&record).await?;
            if remote.state == "active" || tokio::time::Instant::now() >= deadline {
                return Ok(remote);
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// Asks the payee to settle now (the buyer is done with the channel).
    pub async fn ckb_settle(&self, selector: Option<&str>) -> Result<RemoteCkbChannel, PayerError> {
        let record = self.local(selector).await?;
        let url = format!("{}/api/ckb/channels/{}/settle", base(&record.server), record.channel);
        call(&url, self.http.post(&url).timeout(CALL_TIMEOUT).bearer_auth(record.api_key.expose())).await
    }

    /// Takes the refund: completes the seller's pre-signed refund with the
    /// buyer's signature and sends it to the buyer's node. Before the
    /// expiry the node refuses it (`tx_immature`). Its hash.
    pub async fn ckb_refund(&self, selector: Option<&str>) -> Result<String, PayerError> {
        let record = self.local(selector).await?;
        let ckb = record.ckb.clone().ok_or_else(|| PayerError::InvalidArgument(format!("channel {} is not a CKB channel", record.channel)))?;
        let key = record.key()?;
        let terms = ckb.terms(&key)?;
        let refund = terms.refund(&ckb.scripts)?;
        let seller_signature = signature(&ckb.refund_seller_signature)?;
        let full = terms.with_signatures(&refund, Some(&terms.sign(&refund, &key)), Some(&seller_signature));
        let rpc = Rpc::new(ckb.rpc_url.clone());
        let hash = match rpc.send(&full).await {
            Ok(hash) => hash,
            Err(e) if e.rejection() == Some(tollway_chain::ckb::Rejection::Duplicate) => full.hash(),
            Err(e) => return Err(e.into()),
        };
        let text = format!("0x{}", hex::encode(hash.raw_data()));
        let channel = record.channel;
        let saved = text.clone();
        self.state
            .update_async(move |s| {
                let c = s.get_mut(&channel)?;
                if let Some(ckb) = c.ckb.as_mut() {
                    ckb.refund_tx_hash = Some(saved);
                }
                c.open = false;
                Ok(())
            })
            .await?;
        Ok(text)
    }

    /// Where the refund stands on the buyer's node.
    pub async fn ckb_refund_status(&self, selector: Option<&str>) -> Result<Option<TxStatus>, PayerError> {
        let record = self.local(selector).await?;
        let Some(ckb) = record.ckb else { return Ok(None) };
        let Some(hash) = ckb.refund_tx_hash else { return Ok(None) };
        let bytes: [u8; 32] = parse_hex(&hash).map_err(PayerError::Protocol)?;
        Ok(Some(Rpc::new(ckb.rpc_url).tx_status(&bytes.pack()).await?))
    }
}
