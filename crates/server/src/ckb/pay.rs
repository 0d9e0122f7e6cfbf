//! Paying and closing: a receipt's commitment checked and kept, the
//! latest commitment completed and sent as the settlement, and what a
//! buyer needs to take its refund.

use super::{transaction, tx_bytes, Ckb, CkbError};
use crate::channels::Channels;
use ckb_types::core::TransactionView;
use ckb_types::prelude::*;
use tollway_chain::ckb::spilman::ChannelTerms;
use tollway_chain::ckb::{LockScripts, Rejection};
use tollway_core::channel::wire::Commitment;
use tollway_core::channel::{ChannelId, SignedSubRav};
use tollway_core::ckb::{SpilmanEvent, SpilmanState};
use tollway_store::{now_ms, KeptCommitment, StoredCkbChannel};

/// What the buyer needs to take its refund from the expiry on.
#[derive(Debug, Clone)]
pub struct RefundData {
    /// The refund transaction, unsigned.
    pub refund: TransactionView,
    /// The seller's signature over it.
    pub seller_signature: [u8; 65],
    /// The block from which it can commit.
    pub expiry_block: u64,
}

impl Ckb {
    /// Whether `id` is a CKB-backed channel.
    pub async fn backs(&self, id: &ChannelId) -> Result<Option<StoredCkbChannel>, CkbError> {
        Ok(self.store.ckb_channel(id).await?)
    }

    /// Checks the commitment sent with a receipt on a CKB channel
    /// ([`check_receipt_commitment`]), after the channel's local payment
    /// deadline (`channel_expiring` from then on, whether or not the node
    /// answers). What to keep with the receipt (in the same transaction).
    pub fn check_commitment(&self, channel: &StoredCkbChannel, receipt: &SignedSubRav, commitment: Option<&Commitment>) -> Result<KeptCommitment, CkbError> {
        if let Some(pay_until) = channel.pay_until.filter(|t| now_ms() >= *t) {
            return Err(CkbError::ChannelExpiring { pay_until });
        }
        check_receipt_commitment(&*self.terms_of(channel)?, &self.scripts, receipt, commitment)
    }

    /// Settles: under the channel's lock in `channels` (no receipt is
    /// accepted meanwhile), completes the latest commitment with the
    /// seller's signature and stores it with the new state, a
    /// compare-and-set on the state and on the latest commitment's total
    /// (a receipt kept by another process in between makes it start
    /// again with the new latest); then sends it. Sending again after a
    /// restart is the jobs' work.
    pub async fn settle(&self, channels: &Channels, user_id: Option<i64>, id: &ChannelId) -> Result<StoredCkbChannel, CkbError> {
        self.own(user_id, id).await?;
        let settlement = channels.exclusively(id, async || self.store_settlement(id).await).await?;
        if let Some(settlement) = settlement {
            self.send_closing(&settlement).await?;
        }
        self.own(user_id, id).await
    }

    /// Stores the settlement with the latest commitment; `None` if the
    /// channel is settling or settled already.
    async fn store_settlement(&self, id: &ChannelId) -> Result<Option<TransactionView>, CkbError> {
        for _ in 0..3 {
            let channel = self.own(None, id).await?;
            if matches!(channel.state, SpilmanState::Settling { .. } | SpilmanState::Settled) {
                return Ok(None);
            }
            let to = tollway_core::ckb::apply(channel.state, SpilmanEvent::SettleSent)?.to;
            let latest = channel.latest_commitment.as_deref().filter(|_| channel.latest_cumulative > 0).ok_or(CkbError::NothingToSettle)?;
            let terms = self.terms_of(&channel)?;
            let half = transaction(latest)?;
            let checked = terms.check_commitment(&self.scripts, &half)?;
            let settlement = terms.with_signatures(&half, Some(&checked.buyer_signature), Some(&terms.sign(&half, &self.seller)));
            let hash: ckb_types::H256 = settlement.hash().unpack();
            if self.store.set_ckb_settling(id, channel.state, to, (&tx_bytes(&settlement), hash.0), channel.latest_cumulative).await? {
                return Ok(Some(settlement));
            }
        }
        Err(crate::channels::ChannelError::Contended.into())
    }

    /// Sends a settlement (again): known to the node already is fine.
    pub(super) async fn send_closing(&self, tx: &TransactionView) -> Result<(), CkbError> {
        match self.rpc.send(tx).await {
            Ok(_) => Ok(()),
            Err(e) if e.rejection() == Some(Rejection::Duplicate) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The refund and the seller's signature over it.
    pub async fn refund_data(&self, user_id: Option<i64>, id: &ChannelId) -> Result<RefundData, CkbError> {
        let channel = self.own(user_id, id).await?;
        let seller_signature = channel.refund_seller_signature.ok_or(CkbError::State(tollway_core::ckb::NotAllowed {
            state: channel.state,
            event: SpilmanEvent::RefundSent,
        }))?;
        let terms = self.terms_of(&channel)?;
        Ok(RefundData { refund: terms.refund(&self.scripts)?, seller_signature, expiry_block: channel.expiry_block })
    }
}

/// Checks a receipt's commitment on the channel of `terms`: the receipt
/// must carry the buyer's signature and the commitment be the buyer's
/// commitment for exactly the receipt's total (`check_commitment`'s
/// rules). What to keep with the receipt.
pub fn check_receipt_commitment(terms: &ChannelTerms, scripts: &LockScripts, receipt: &SignedSubRav, commitment: Option<&Commitment>) -> Result<KeptCommitment, CkbError> {
    let commitment = commitment.ok_or(CkbError::CommitmentRequired)?;
    if receipt.verify(&terms.buyer).is_err() {
        return Err(crate::channels::ChannelError::Receipt(tollway_core::channel::ReceiptError::BadSignature).into());
    }
    let checked = terms.check_commitment(scripts, &transaction(&commitment.0)?)?;
    if u128::from(checked.cumulative) != receipt.rav.accumulated.units() {
        return Err(CkbError::CommitmentAmountMismatch { commitment: checked.cumulative, receipt: receipt.rav.accumulated.units() });
    }
    Ok(KeptCommitment { cumulative: checked.cumulative, tx: commitment.0.clone() })
}

/// `0x` hex of a transaction's bytes.
pub fn tx_hex(tx: &TransactionView) -> String {
    format!("0x{}", hex::encode(tx_bytes(tx)))
}
