//! The hub's tracker, every `hub.job_interval_ms`: expires prepared
//! payments past their time; follows sent payments (committed → split and
//! counted, lost → sent again, refused for good → failed and their cells
//! freed); follows payouts and rebalances the same way; pays out every
//! party above the threshold; keeps the pool at its size.

use super::refusals::never_commits;
use super::{Hub, HubError};
use crate::AppState;
use ckb_types::packed::{Byte32, OutPoint};
use ckb_types::prelude::*;
use std::time::Duration;
use tollway_chain::ckb::hub::{payout, LiveCell};
use tollway_chain::ckb::spilman::{out_point_text, parse_out_point};
use tollway_chain::ckb::{Rejection, TxStatus};
use tollway_core::ckb::hub::{plan_payout, split_payment};
use tollway_core::ckb::CKB;
use tollway_core::ckb::PLAIN_CELL;
use tollway_store::hub::{CellOrder, CompletedPayment, NewPayout, PayoutKind, PayoutRow};
use tollway_store::now_ms;

/// How long after a payment is stored `sent` the tracker leaves sending
/// it to the transfer that stored it: two sends of one transaction at once
/// can be refused as a replacement of itself (`PoolRejectedRBF`, seen in
/// `tollway bench hub`).
const JUST_SENT_MS: i64 = 5_000;

/// Starts the tracker when the hub is on.
pub fn spawn(state: AppState) {
    let Some(hub) = state.hub.clone() else { return };
    tokio::spawn(async move {
        loop {
            if let Err(e) = hub.run_once().await {
                tracing::warn!(error = %e, "hub job");
            }
            tokio::time::sleep(Duration::from_millis(hub.config.job_interval_ms.max(50))).await;
        }
    });
}

/// The hash of `bytes`' transaction as the node names it.
fn hash32(hash: &[u8; 32]) -> Byte32 {
    hash.pack()
}

impl Hub {
    /// One round of every job.
    pub async fn run_once(&self) -> Result<(), HubError> {
        self.store.expire_due_hub_payments(now_ms()).await?;
        self.track_payments().await?;
        self.track_transactions(PayoutKind::Payout).await?;
        self.track_transactions(PayoutKind::Rebalance).await?;
        self.pay_out().await?;
        self.keep_pool(self.config.pool_cells).await?;
        Ok(())
    }

    async fn track_payments(&self) -> Result<(), HubError> {
        for row in self.store.sent_hub_payments(200).await? {
            match self.rpc.tx_status(&hash32(&row.tx_hash)).await? {
                TxStatus::Committed(block) => {
                    let pool = self.store.hub_cell(&row.pool_cell).await?.map(|c| c.capacity).unwrap_or_default();
                    let shares = split_payment(row.amount, row.receiver, self.rules.platform, self.rules.rule_for(&row.receiver));
                    let new_cell = out_point_text(&OutPoint::new(hash32(&row.tx_hash), 1));
                    let done = CompletedPayment {
                        id: row.id,
                        block_number: block,
                        shares,
                        new_pool_cell: (new_cell, pool.saturating_add(row.amount)),
                        now: now_ms(),
                    };
                    self.store.complete_hub_payment(&done).await?;
                }
                TxStatus::Pending | TxStatus::Proposed => {}
                // Stored `sent` just now: the transfer is sending it.
                TxStatus::Rejected(_) | TxStatus::Unknown if now_ms().saturating_sub(row.updated_at) < JUST_SENT_MS => {}
                TxStatus::Rejected(_) | TxStatus::Unknown => {
                    if let Some(tx) = row.signed_tx.as_deref().map(super::pay::transaction).transpose()? {
                        if let Err(e) = self.send_payment(row.id, &tx).await {
                            tracing::info!(payment = row.id, error = %e, "hub payment sent again and refused");
                        }
                    }
                }
            }
        }
        Ok(())
    }

    async fn track_transactions(&self, kind: PayoutKind) -> Result<(), HubError> {
        for row in self.store.sent_hub_transactions(kind).await? {
            match self.rpc.tx_status(&hash32(&row.tx_hash)).await? {
                TxStatus::Committed(block) => {
                    match kind {
                        PayoutKind::Payout => self.store.complete_hub_payout(row.id, block, now_ms()).await?,
                        PayoutKind::Rebalance => self.store.complete_hub_rebalance(row.id, block, now_ms()).await?,
                    };
                }
                TxStatus::Pending | TxStatus::Proposed => {}
                TxStatus::Rejected(_) | TxStatus::Unknown => self.send_stored(kind, &row).await?,
            }
        }
        Ok(())
    }

    /// Sends a stored payout or rebalance (again); one that can never
    /// commit is failed and its cells freed.
    pub(super) async fn send_stored(&self, kind: PayoutKind, row: &PayoutRow) -> Result<(), HubError> {
        let tx = super::pay::transaction(&row.tx)?;
        match self.rpc.send(&tx).await {
            Ok(_) => Ok(()),
            Err(_) if self.holds(&tx).await? => Ok(()),
            Err(e) => match e.rejection() {
                Some(Rejection::Duplicate) => Ok(()),
                Some(r) if never_commits(r) => {
                    if !self.refused_for_good(&tx, r).await? {
                        tracing::info!(id = row.id, ?kind, error = %e, "hub transaction refused for now; sent again later");
                        return Ok(());
                    }
                    tracing::warn!(id = row.id, ?kind, error = %e, "hub transaction can never commit: failed");
                    match kind {
                        PayoutKind::Payout => self.store.fail_hub_payout(row.id, now_ms()).await?,
                        PayoutKind::Rebalance => self.store.fail_hub_rebalance(row.id, now_ms()).await?,
                    };
                    Ok(())
                }
                _ => Err(e.into()),
            },
        }
    }

    /// Pays every party above the threshold, in one transaction, stored
    /// before it is sent; one payout at a time.
    async fn pay_out(&self) -> Result<(), HubError> {
        if !self.store.sent_hub_transactions(PayoutKind::Payout).await?.is_empty() {
            return Ok(());
        }
        let balances = self.store.unpaid_hub_balances().await?;
        let max = usize::try_from(self.config.payout_max_outputs.max(1)).unwrap_or(1);
        let Some(plan) = plan_payout(&balances, self.config.payout_threshold, PLAIN_CELL, max, &[self.rules.hub]) else { return Ok(()) };
        let needed = plan.total().saturating_add(PLAIN_CELL).saturating_add(CKB);
        let mut cells = Vec::new();
        let mut held = 0u64;
        for cell in self.store.free_hub_cells(CellOrder::LargestFirst, 64).await? {
            let Some(out_point) = parse_out_point(&cell.out_point) else { continue };
            held = held.saturating_add(cell.capacity);
            cells.push(LiveCell { out_point, capacity: cell.capacity });
            if held >= needed {
                break;
            }
        }
        if held < needed {
            tracing::warn!(needed, held, "hub payout waits: the free pool cells cannot pay it");
            return Ok(());
        }
        let built = payout(&self.scripts, &self.key, &cells, &plan, self.fee_rate)?;
        let hash: ckb_types::H256 = built.tx.hash().unpack();
        let change_index = u32::try_from(plan.outputs.len()).unwrap_or(u32::MAX);
        let new = NewPayout {
            tx: built.tx.data().as_slice().to_vec(),
            tx_hash: hash.0,
            fee: built.fee,
            outputs: plan.outputs.clone(),
            cells: cells.iter().map(|c| out_point_text(&c.out_point)).collect(),
            change: (out_point_text(&OutPoint::new(built.tx.hash(), change_index)), built.change),
            now: now_ms(),
        };
        let id = match self.store.store_hub_payout(&new).await {
            Ok(id) => id,
            Err(tollway_store::StoreError::Hub(e)) => {
                tracing::info!(error = %e, "hub payout not stored this round");
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(payout = id, parties = plan.outputs.len(), total = plan.total(), "hub payout stored; sending");
        if let Some(row) = self.store.hub_payout(id).await? {
            self.send_stored(PayoutKind::Payout, &row).await?;
        }
        Ok(())
    }
}
