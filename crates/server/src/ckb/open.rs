//! Opening: the offer (the seller's co-funding cells and the expiry), the
//! buyer's funding checked and the refund pre-signed, the funding sent.

use tollway_core::ckb::PLAIN_CELL;
use super::{funds_of, transaction, tx_bytes, Ckb, CkbError};
use ckb_types::core::TransactionView;
use ckb_types::prelude::*;
use secp256k1::PublicKey;
use tollway_chain::ckb::spilman::{input_indices, out_point_text, parse_out_point, sign_inputs, ChannelTerms, FundingPlan, LiveCell, TxError};
use tollway_chain::ckb::Rejection;
use tollway_core::channel::ChannelId;
use tollway_core::ckb::{ChannelFunds, Since, SpilmanEvent, SpilmanState};
use tollway_core::{Amount, Asset};
use tollway_store::channels::NewChannel;
use tollway_store::{NewCkbChannel, StoredCkbChannel};

/// What the buyer needs to build the funding transaction.
#[derive(Debug, Clone)]
pub struct Offer {
    /// The channel as stored (state `proposed`).
    pub channel: StoredCkbChannel,
    /// The seller's co-funding cells.
    pub seller_cells: Vec<LiveCell>,
}

/// The seller's answer to a funding transaction.
#[derive(Debug, Clone)]
pub struct FundingSigned {
    /// The funding with the seller's inputs signed.
    pub funding: TransactionView,
    /// The seller's signature over the refund.
    pub refund_signature: [u8; 65],
}

/// The local payment deadline of a channel offered now for
/// `duration_secs`: receipts are taken until its settle margin begins
/// (Unix ms), by the wall clock, whatever the node says.
fn pay_until(duration_secs: u64, settle_margin_secs: u64) -> i64 {
    let secs = i64::try_from(duration_secs.saturating_sub(settle_margin_secs)).unwrap_or(i64::MAX);
    tollway_store::now_ms().saturating_add(secs.saturating_mul(1_000))
}


impl Ckb {
    /// Offers a channel to `buyer`: reserves co-funding cells of the
    /// seller and fixes the expiry block (`duration_secs` from now at the
    /// configured block interval).
    pub async fn offer(&self, user_id: i64, buyer: PublicKey, deposit: u64, duration_secs: u64) -> Result<Offer, CkbError> {
        let (min, max) = self.duration_bounds();
        if duration_secs < min || duration_secs > max {
            return Err(CkbError::InvalidDuration { min, max });
        }
        let funds = ChannelFunds { buyer_deposit: deposit, seller_cofund: self.config.cofund, fee: self.commitment_fee }.validate()?;
        let tip = self.rpc.tip_block_number().await?;
        let expiry_block = tip.saturating_add(duration_secs.div_ceil(self.config.block_interval_secs.max(1)));
        let _one_offer_at_a_time = self.offers.lock().await;
        let seller_cells = self.free_cells(funds.seller_cofund).await?;
        let id = ChannelId(rand::random());
        let new = NewCkbChannel {
            channel: NewChannel {
                id,
                user_id,
                asset: Asset::CKB,
                chain_id: self.config.chain_id,
                epoch: 1,
                collateral: Amount::new(u128::from(funds.max_payment())),
                key: buyer,
            },
            seller_key: self.seller.public(),
            buyer_deposit: funds.buyer_deposit,
            seller_cofund: funds.seller_cofund,
            fee: funds.fee,
            expiry_block,
            seller_cells: seller_cells.iter().map(|c| out_point_text(&c.out_point)).collect(),
            pay_until: pay_until(duration_secs, self.config.settle_margin_secs),
        };
        let channel = self.store.open_ckb_channel(&new).await?;
        Ok(Offer { channel, seller_cells })
    }

    /// Unreserved seller cells holding exactly `cofund`, or at least
    /// `cofund` plus a change cell.
    async fn free_cells(&self, cofund: u64) -> Result<Vec<LiveCell>, CkbError> {
        let reserved = self.store.reserved_seller_cells().await?;
        let cells = self.rpc.live_cells(&self.seller_lock(), u64::MAX).await?;
        let mut chosen = Vec::new();
        let mut held = 0u64;
        for cell in cells.into_iter().filter(|c| !reserved.contains(&out_point_text(&c.out_point))) {
            held = held.saturating_add(cell.capacity);
            chosen.push(cell);
            if held == cofund || held >= cofund.saturating_add(PLAIN_CELL) {
                return Ok(chosen);
            }
        }
        Err(CkbError::SellerFundsUnavailable)
    }

    /// The offered cells with their capacities, read live from the node.
    async fn offered_cells(&self, channel: &StoredCkbChannel) -> Result<Vec<LiveCell>, CkbError> {
        let mut cells = Vec::new();
        for text in &channel.seller_cells {
            let point = parse_out_point(text).ok_or_else(|| TxError::Malformed(format!("stored cell {text}")))?;
            let output = self.rpc.live_cell(&point).await?.ok_or_else(|| TxError::FundingMismatch(format!("the co-funding cell {text} is spent")))?;
            cells.push(LiveCell { out_point: point, capacity: output.capacity().unpack() });
        }
        Ok(cells)
    }

    /// Checks the buyer's funding transaction, pre-signs the refund and
    /// signs the seller's inputs (state `refund_signed`, stored first).
    pub async fn fund(&self, user_id: i64, id: &ChannelId, funding: &[u8]) -> Result<FundingSigned, CkbError> {
        let channel = self.own(Some(user_id), id).await?;
        tollway_core::ckb::apply(channel.state, SpilmanEvent::RefundPresigned)?;
        let tx = transaction(funding)?;
        let seller_cells = self.offered_cells(&channel).await?;
        let plan = FundingPlan {
            buyer: channel.buyer_key,
            seller: channel.seller_key,
            funds: funds_of(&channel),
            buyer_cells: Vec::new(),
            seller_cells: seller_cells.clone(),
            fee_rate: self.config.fee_rate,
        };
        let cell = plan.check(&self.scripts, &tx)?;
        // No other cell of the seller's may be spent: its signature covers
        // every input its lock guards.
        for (index, point) in tx.input_pts_iter().enumerate() {
            if seller_cells.iter().any(|c| c.out_point == point) {
                continue;
            }
            let other = self.rpc.live_cell(&point).await?;
            if other.is_some_and(|o| o.lock() == self.seller_lock()) {
                return Err(TxError::FundingMismatch(format!("input {index} is another cell of the seller's")).into());
            }
        }
        let terms = ChannelTerms { buyer: channel.buyer_key, seller: channel.seller_key, funds: plan.funds, expiry: Since::AbsoluteBlock(channel.expiry_block), cell };
        let refund_signature = terms.sign(&terms.refund(&self.scripts)?, &self.seller);
        let signed = sign_inputs(&tx, &input_indices(&tx, &seller_cells), &self.seller);
        let hash: ckb_types::H256 = signed.hash().unpack();
        let stored = self.store.set_ckb_funding(id, &tx_bytes(&signed), hash.0, &out_point_text(&terms.cell), refund_signature).await?;
        if !stored {
            return Err(CkbError::State(tollway_core::ckb::NotAllowed { state: SpilmanState::RefundSigned, event: SpilmanEvent::RefundPresigned }));
        }
        Ok(FundingSigned { funding: signed, refund_signature })
    }

    /// Takes the fully signed funding (the same transaction), sends it to
    /// the node (already known there is fine) and marks the channel
    /// `funding`; the jobs make it active once it commits. Idempotent.
    pub async fn confirm(&self, user_id: i64, id: &ChannelId, funding: &[u8]) -> Result<StoredCkbChannel, CkbError> {
        let channel = self.own(Some(user_id), id).await?;
        let tx = transaction(funding)?;
        let hash: ckb_types::H256 = tx.hash().unpack();
        if channel.funding_tx_hash != Some(hash.0) {
            return Err(TxError::FundingMismatch("not the funding transaction the seller signed".into()).into());
        }
        match channel.state {
            SpilmanState::RefundSigned => {}
            SpilmanState::Funding | SpilmanState::Active => return Ok(channel),
            state => return Err(tollway_core::ckb::apply(state, SpilmanEvent::FundingSent).err().map_or(CkbError::UnknownChannel, CkbError::State)),
        }
        match self.rpc.send(&tx).await {
            Ok(_) => {}
            Err(e) if e.rejection() == Some(Rejection::Duplicate) => {}
            Err(e) => return Err(e.into()),
        }
        match self.advance(&channel, &[SpilmanEvent::FundingSent], None).await {
            Ok(_) | Err(CkbError::State(_)) => {}
            Err(e) => return Err(e),
        }
        self.own(Some(user_id), id).await
    }
}

#[cfg(test)]
mod tests {
    use super::pay_until;

    #[test]
    fn the_local_deadline_is_the_duration_less_the_margin() {
        let before = tollway_store::now_ms();
        let deadline = pay_until(60, 45);
        assert!((before + 15_000..=tollway_store::now_ms() + 15_000).contains(&deadline), "{deadline}");
        // A duration within the margin takes no receipt at all; huge ones do not overflow.
        assert!(pay_until(10, 45) <= tollway_store::now_ms());
        assert_eq!(pay_until(u64::MAX, 0), i64::MAX);
    }
}
