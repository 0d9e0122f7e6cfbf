//! Giving up an offer whose funding the seller signed (docs/ckb.md,
//! "Abandoned offers"): the seller's signature over its co-funding cells
//! stays valid, so the buyer could broadcast the funding at any later
//! time. Before calling the channel abandoned, the seller spends its
//! offered cells back to itself (the reclaim, stored as the channel's
//! closing transaction before it is sent); until the reclaim has the
//! configured depth the channel is still followed, and a funding that
//! commits first makes it active as usual.

use super::jobs::{deep_enough, moved};
use super::{transaction, tx_bytes, Ckb, CkbError};
use crate::AppState;
use ckb_types::core::TransactionView;
use ckb_types::prelude::*;
use tollway_chain::ckb::spilman::{out_point_text, parse_out_point, reclaim, LiveCell, TxError};
use tollway_chain::ckb::{Rejection, TxStatus};
use tollway_core::ckb::SpilmanEvent;
use tollway_store::StoredCkbChannel;

/// What became of the offered cells.
enum Offered {
    /// All live: the funding can still commit.
    Live(Vec<LiveCell>),
    /// One is spent, and not by the funding: it can never commit.
    Gone,
    /// Spent by the funding, which committed meanwhile.
    Funded,
}

impl Ckb {
    /// One step of giving up `channel` (in `refund_signed` or `funding`,
    /// its funding not in the pool nor the chain, the offer stale);
    /// whether it moved (to `abandoned`).
    pub(super) async fn give_up(&self, state: &AppState, channel: &StoredCkbChannel, tip: u64) -> Result<bool, CkbError> {
        if let Some(stored) = channel.closing_tx.as_deref() {
            match self.rpc.tx_status(&transaction(stored)?.hash()).await? {
                TxStatus::Committed(block) if deep_enough(self.config.funding_confirmations, block, tip) => {
                    moved(state, self, channel, &[SpilmanEvent::FundingDropped]).await?;
                    return Ok(true);
                }
                TxStatus::Committed(_) | TxStatus::Pending | TxStatus::Proposed => return Ok(false),
                TxStatus::Unknown | TxStatus::Rejected(_) => {}
            }
        }
        let cells = match self.offered(channel).await? {
            Offered::Funded => return Ok(false),
            Offered::Gone => {
                moved(state, self, channel, &[SpilmanEvent::FundingDropped]).await?;
                return Ok(true);
            }
            Offered::Live(cells) => cells,
        };
        let tx = self.reclaim_of(cells).await?;
        let hash: ckb_types::H256 = tx.hash().unpack();
        // Stored before it is sent; the state does not move yet.
        if !self.store.set_ckb_state(&channel.id, channel.state, channel.state, Some((&tx_bytes(&tx), hash.0))).await? {
            return Ok(false);
        }
        match self.rpc.send(&tx).await {
            Ok(_) => Ok(false),
            Err(e) if e.rejection() == Some(Rejection::Duplicate) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The offered cells, if all are live; else whether the funding
    /// spent them (asked after looking at the cells, so a funding that
    /// committed in between is not taken for a loss).
    async fn offered(&self, channel: &StoredCkbChannel) -> Result<Offered, CkbError> {
        let mut cells = Vec::new();
        for text in &channel.seller_cells {
            let point = parse_out_point(text).ok_or_else(|| TxError::Malformed(format!("stored cell {text}")))?;
            match self.rpc.live_cell(&point).await? {
                Some(output) => cells.push(LiveCell { out_point: point, capacity: output.capacity().unpack() }),
                None => {
                    let funding = channel.funding_tx_hash.map(|h| Pack::<ckb_types::packed::Byte32>::pack(&h));
                    let funded = match funding {
                        Some(hash) => matches!(self.rpc.tx_status(&hash).await?, TxStatus::Committed(_)),
                        None => false,
                    };
                    return Ok(if funded { Offered::Funded } else { Offered::Gone });
                }
            }
        }
        Ok(Offered::Live(cells))
    }

    /// The reclaim of `offered`, with one more free cell of the seller's
    /// when they cannot pay its fee and keep 61 CKB (a co-funding of
    /// exactly 61 CKB cannot).
    async fn reclaim_of(&self, mut cells: Vec<LiveCell>) -> Result<TransactionView, CkbError> {
        match reclaim(&self.scripts, &self.seller, &cells, self.config.fee_rate) {
            Err(TxError::InsufficientFunds { .. }) => {}
            built => return Ok(built?),
        }
        let reserved = self.store.reserved_seller_cells().await?;
        let free = self.rpc.live_cells(&self.seller_lock(), u64::MAX).await?;
        let extra = free
            .into_iter()
            .find(|c| !reserved.contains(&out_point_text(&c.out_point)) && !cells.iter().any(|o| o.out_point == c.out_point))
            .ok_or(CkbError::SellerFundsUnavailable)?;
        cells.push(extra);
        Ok(reclaim(&self.scripts, &self.seller, &cells, self.config.fee_rate)?)
    }
}
