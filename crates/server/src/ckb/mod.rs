//! The seller's side of Spilman channels on CKB (docs/ckb.md): offers with
//! co-funding cells, checking the buyer's funding and pre-signing its
//! refund, accepting per-chunk commitments beside the channel's receipts,
//! settling, and the jobs that follow the chain. Every state change goes
//! through `tollway_core::ckb::spilman::apply` and is stored
//! (compare-and-set) before the transaction it leads to is sent.

mod errors;
pub mod jobs;
mod open;
mod pay;
mod reclaim;

pub use errors::CkbError;
pub use open::{FundingSigned, Offer};
pub use pay::{check_receipt_commitment, tx_hex, RefundData};

use crate::config::CkbConfig;
use ckb_types::core::TransactionView;
use ckb_types::packed::{Script, Transaction};
use ckb_types::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tollway_chain::ckb::spilman::{parse_out_point, ChannelTerms, TxError};
use tollway_chain::ckb::{LockScripts, Rpc};
use tollway_core::channel::{ChannelId, PayerKey};
use tollway_core::ckb::{apply, fee_for_size, ChannelFunds, Since, SpilmanEvent, SpilmanState};
use tollway_store::{Store, StoredCkbChannel};

/// The CKB rail of a running server.
pub struct Ckb {
    rpc: Rpc,
    scripts: LockScripts,
    seller: PayerKey,
    config: CkbConfig,
    store: Store,
    commitment_fee: u64,
    terms: Mutex<HashMap<ChannelId, Arc<ChannelTerms>>>,
    offers: tokio::sync::Mutex<()>,
}

/// Why the rail could not start.
#[derive(Debug, thiserror::Error)]
pub enum CkbStartError {
    /// `ckb.seller_secret` is missing or not a key.
    #[error("ckb.seller_secret must be 0x + 64 hex digits of a valid secp256k1 secret key")]
    SellerKey,
    /// The node could not be reached or its genesis is not usable.
    #[error("the CKB node at {url}: {source}")]
    Node {
        /// The RPC URL.
        url: String,
        /// The cause.
        source: tollway_chain::ckb::ChainError,
    },
}

/// Reads a transaction from its serialized bytes.
pub fn transaction(bytes: &[u8]) -> Result<TransactionView, TxError> {
    Transaction::from_slice(bytes).map(|tx| tx.into_view()).map_err(|e| TxError::Malformed(e.to_string()))
}

/// The serialized bytes of `tx`.
pub fn tx_bytes(tx: &TransactionView) -> Vec<u8> {
    tx.data().as_slice().to_vec()
}

impl Ckb {
    /// Connects to the node of `config` (reading its system locks from the
    /// genesis); `None` when the rail is off.
    pub async fn connect(config: &CkbConfig, store: Store) -> Result<Option<Ckb>, CkbStartError> {
        let Some(url) = config.rpc_url.clone() else { return Ok(None) };
        let secret = config.seller_secret.as_deref().ok_or(CkbStartError::SellerKey)?;
        let seller = PayerKey::from_hex(secret).map_err(|_| CkbStartError::SellerKey)?;
        let rpc = Rpc::new(url.clone());
        let scripts = rpc.lock_scripts().await.map_err(|source| CkbStartError::Node { url, source })?;
        let commitment_fee = commitment_fee(&scripts, &seller, config.fee_rate);
        Ok(Some(Ckb {
            rpc,
            scripts,
            seller,
            config: config.clone(),
            store,
            commitment_fee,
            terms: Mutex::new(HashMap::new()),
            offers: tokio::sync::Mutex::new(()),
        }))
    }

    /// The node.
    pub fn rpc(&self) -> &Rpc {
        &self.rpc
    }

    /// The chain's system locks.
    pub fn scripts(&self) -> &LockScripts {
        &self.scripts
    }

    /// The seller's public key.
    pub fn seller_key(&self) -> secp256k1::PublicKey {
        self.seller.public()
    }

    /// The seller's plain lock (where it is paid).
    pub fn seller_lock(&self) -> Script {
        self.scripts.sighash.script(&self.seller.id().0)
    }

    /// The fee every commitment and refund pays, shannons.
    pub fn commitment_fee(&self) -> u64 {
        self.commitment_fee
    }

    /// The rail's settings.
    pub fn config(&self) -> &CkbConfig {
        &self.config
    }

    /// The shortest and longest channel life a buyer may ask for,
    /// seconds: the configured bounds, the shortest above the settle
    /// margin (a channel takes receipts until its margin begins).
    pub fn duration_bounds(&self) -> (u64, u64) {
        let min = self.config.min_duration_secs.max(self.config.settle_margin_secs.saturating_add(1));
        (min, self.config.max_duration_secs.max(min))
    }

    /// The terms of a funded channel (cached).
    pub fn terms_of(&self, stored: &StoredCkbChannel) -> Result<Arc<ChannelTerms>, CkbError> {
        let mut cache = self.terms.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(terms) = cache.get(&stored.id) {
            return Ok(terms.clone());
        }
        let cell = stored
            .cell
            .as_deref()
            .and_then(parse_out_point)
            .ok_or(CkbError::State(tollway_core::ckb::NotAllowed { state: stored.state, event: SpilmanEvent::FundingCommitted }))?;
        let terms = Arc::new(ChannelTerms {
            buyer: stored.buyer_key,
            seller: stored.seller_key,
            funds: funds_of(stored),
            expiry: Since::AbsoluteBlock(stored.expiry_block),
            cell,
        });
        cache.insert(stored.id, terms.clone());
        Ok(terms)
    }

    /// The caller's CKB channel `id` (another user's is unknown).
    pub async fn own(&self, user_id: Option<i64>, id: &ChannelId) -> Result<StoredCkbChannel, CkbError> {
        match self.store.ckb_channel(id).await? {
            Some(c) if user_id.is_none_or(|u| u == c.user_id) => Ok(c),
            _ => Err(CkbError::UnknownChannel),
        }
    }

    /// Moves `channel` by `events` in turn and stores the final state
    /// (compare-and-set on the state it had), with the closing
    /// transaction if one is given; `channel_state_conflict` if another
    /// process moved it first. The new state.
    async fn advance(
        &self,
        channel: &StoredCkbChannel,
        events: &[SpilmanEvent],
        closing: Option<&TransactionView>,
    ) -> Result<SpilmanState, CkbError> {
        let mut state = channel.state;
        for event in events {
            state = apply(state, *event)?.to;
        }
        let closing = closing.map(|tx| (tx_bytes(tx), tx.hash().unpack()));
        let closing = closing.as_ref().map(|(bytes, hash): &(Vec<u8>, ckb_types::H256)| (bytes.as_slice(), hash.0));
        if !self.store.set_ckb_state(&channel.id, channel.state, state, closing).await? {
            return Err(CkbError::State(tollway_core::ckb::NotAllowed {
                state: channel.state,
                event: events.first().copied().unwrap_or(SpilmanEvent::TxDropped),
            }));
        }
        Ok(state)
    }
}

/// The money of a stored channel.
pub fn funds_of(stored: &StoredCkbChannel) -> ChannelFunds {
    ChannelFunds { buyer_deposit: stored.buyer_deposit, seller_cofund: stored.seller_cofund, fee: stored.fee }
}

/// The fee of a fully signed commitment at `rate`: its size does not
/// depend on the amounts or keys.
fn commitment_fee(scripts: &LockScripts, key: &PayerKey, rate: u64) -> u64 {
    let funds = ChannelFunds { buyer_deposit: 1_000 * tollway_core::ckb::CKB, seller_cofund: 61 * tollway_core::ckb::CKB, fee: 0 };
    let terms = ChannelTerms {
        buyer: key.public(),
        seller: key.public(),
        funds,
        expiry: Since::AbsoluteBlock(0),
        cell: ckb_types::packed::OutPoint::new(Default::default(), 0),
    };
    let size = terms
        .commitment(scripts, 0)
        .map(|tx| terms.with_signatures(&tx, Some(&[1; 65]), Some(&[1; 65])).data().as_slice().len() as u64)
        .unwrap_or(1_000);
    fee_for_size(size, rate).unwrap_or(u64::MAX)
}
