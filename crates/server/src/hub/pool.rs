//! The pool: adopting the hub's own cells, and splitting a large free cell
//! when fewer than `hub.pool_cells` are free (merging when far too many
//! small ones are). A rebalance is stored with its cells leased before it
//! is sent, like a payout.

use super::{Hub, HubError};
use tollway_core::ckb::PLAIN_CELL;
use ckb_types::packed::OutPoint;
use ckb_types::prelude::*;
use tollway_chain::ckb::hub::{merge, split, HubTransaction, LiveCell};
use tollway_chain::ckb::spilman::{out_point_text, parse_out_point};
use tollway_store::hub::{CellOrder, NewRebalance, PayoutKind, PoolStats};
use tollway_store::now_ms;

/// Most small cells one merge takes.
const MERGE_CELLS: usize = 20;

impl Hub {
    /// Puts the hub's live cells the pool does not know yet into it (the
    /// funds an operator sends to the hub's address); how many were new.
    pub async fn adopt_cells(&self) -> Result<u64, HubError> {
        let cells = self.rpc.live_cells(&self.hub_lock(), u64::MAX).await?;
        let cells: Vec<(String, u64)> = cells.iter().map(|c| (out_point_text(&c.out_point), c.capacity)).collect();
        Ok(self.store.add_hub_cells(&cells, now_ms()).await?)
    }

    /// Tops the pool up to `target` free cells of `hub.pool_cell_capacity`
    /// by splitting its largest free cell, or merges the smallest when
    /// there are more than four times as many; one rebalance at a time.
    /// A target of 0 leaves the pool as it is.
    /// The hash of the rebalance sent, if any.
    pub async fn keep_pool(&self, target: u32) -> Result<Option<String>, HubError> {
        if target == 0 || !self.store.sent_hub_transactions(PayoutKind::Rebalance).await?.is_empty() {
            return Ok(None);
        }
        let stats = self.store.hub_pool_stats().await?;
        if stats.free_cells == 0 && stats.leased_cells == 0 && self.config.init_pool {
            self.adopt_cells().await?;
        }
        let stats = self.store.hub_pool_stats().await?;
        let target = u64::from(target);
        let cell = self.config.pool_cell_capacity;
        let built = if stats.free_cells < target {
            let Some(largest) = self.free_cells(CellOrder::LargestFirst, 1).await?.pop() else { return Ok(None) };
            let room = largest.capacity.saturating_sub(PLAIN_CELL.saturating_add(tollway_core::ckb::CKB)) / cell.max(1);
            let count = (target - stats.free_cells).min(room);
            if count == 0 {
                return Ok(None);
            }
            split(&self.scripts, &self.key, &[largest], usize::try_from(count).unwrap_or(0), cell, self.fee_rate)?
        } else if stats.free_cells > target.saturating_mul(4).max(8) {
            let smallest = self.free_cells(CellOrder::SmallestFirst, MERGE_CELLS as i64).await?;
            merge(&self.scripts, &self.key, &smallest, self.fee_rate)?
        } else {
            return Ok(None);
        };
        self.store_and_send(built).await
    }

    async fn free_cells(&self, order: CellOrder, limit: i64) -> Result<Vec<LiveCell>, HubError> {
        let cells = self.store.free_hub_cells(order, limit).await?;
        Ok(cells.into_iter().filter_map(|c| Some(LiveCell { out_point: parse_out_point(&c.out_point)?, capacity: c.capacity })).collect())
    }

    async fn store_and_send(&self, built: HubTransaction) -> Result<Option<String>, HubError> {
        let hash: ckb_types::H256 = built.tx.hash().unpack();
        let outputs = built
            .tx
            .outputs()
            .into_iter()
            .enumerate()
            .map(|(i, o)| (out_point_text(&OutPoint::new(built.tx.hash(), u32::try_from(i).unwrap_or(u32::MAX))), o.capacity().unpack()))
            .collect();
        let new = NewRebalance {
            tx: built.tx.data().as_slice().to_vec(),
            tx_hash: hash.0,
            fee: built.fee,
            cells: built.tx.input_pts_iter().map(|p| out_point_text(&p)).collect(),
            outputs,
            now: now_ms(),
        };
        let id = match self.store.store_hub_rebalance(&new).await {
            Ok(id) => id,
            Err(tollway_store::StoreError::Hub(e)) => {
                tracing::info!(error = %e, "hub rebalance not stored this round");
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(row) = self.store.hub_payout(id).await? {
            self.send_stored(PayoutKind::Rebalance, &row).await?;
        }
        Ok(Some(format!("0x{}", hex::encode(hash.0))))
    }

    /// The pool's figures.
    pub async fn pool_stats(&self) -> Result<PoolStats, HubError> {
        Ok(self.store.hub_pool_stats().await?)
    }
}
