//! Prepare and transfer (docs/hub.md, "HTTP API"): the hub picks the
//! sender's cells and a free pool cell, builds the 2-in-2-out
//! transaction and stores it with the lease; later it checks the
//! sender-signed transaction against what it prepared, stores it with its
//! own signature, then sends it.

use super::refusals::never_commits;
use super::{Hub, HubError};
use ckb_types::core::TransactionView;
use ckb_types::packed::Transaction;
use ckb_types::prelude::*;
use rand::seq::SliceRandom;
use tollway_chain::ckb::hub::{check_signed, sign_hub, HubPaymentPlan, HubTxError, LiveCell, PaymentTerms};
use tollway_chain::ckb::spilman::{out_point_text, parse_out_point};
use tollway_chain::ckb::Rejection;
use tollway_core::ckb::hub::{split_payment, HubPaymentState, ShareRole};
use tollway_core::ckb::PLAIN_CELL;
use tollway_core::ckb::{parse_sighash, Shannons, SighashArgs};
use tollway_store::hub::{CellOrder, HubPaymentRow, HubStoreError, NewHubPayment};
use tollway_store::{now_ms, StoreError};

/// Pool cells tried per prepare before `hub_busy`.
const POOL_TRIES: usize = 8;
/// Times a prepare picks the sender's cells again after a concurrent
/// payment of the same sender took one.
const SENDER_ROUNDS: usize = 6;

/// A payment asked for.
#[derive(Debug, Clone)]
pub struct PrepareInput {
    /// Who pays (address or `0x` lock args).
    pub sender: String,
    /// Who is paid.
    pub receiver: String,
    /// Shannons.
    pub amount: Shannons,
    /// The caller's user, if it sent an API key.
    pub user_id: Option<i64>,
    /// `key:{id}` or `ip:{address}`.
    pub creator: String,
}

fn store_refusal(e: &StoreError) -> Option<&HubStoreError> {
    match e {
        StoreError::Hub(h) => Some(h),
        _ => None,
    }
}

/// Reads serialized transaction bytes.
pub fn transaction(bytes: &[u8]) -> Result<TransactionView, HubError> {
    Transaction::from_slice(bytes).map(|t| t.into_view()).map_err(|_| HubError::MalformedTransaction)
}

impl Hub {
    /// Prepares a payment: a pool cell leased, the sender's cells chosen,
    /// the transaction built and stored (state `prepared`).
    pub async fn prepare(&self, input: &PrepareInput) -> Result<HubPaymentRow, HubError> {
        let network = self.rules.network;
        let sender = parse_sighash(&input.sender, network).map_err(|source| HubError::Address { field: "sender", source })?;
        let receiver = parse_sighash(&input.receiver, network).map_err(|source| HubError::Address { field: "receiver", source })?;
        if sender == self.rules.hub {
            return Err(HubError::SenderIsHub);
        }
        if input.amount == 0 {
            return Err(HubTxError::AmountZero.into());
        }
        let (user_id, points) = self.points_for(receiver, input)?;
        let now = now_ms();
        if self.store.hub_open_prepared_by_creator(&input.creator, now).await? >= u64::from(self.config.max_open_per_client) {
            return Err(HubError::TooManyFromClient);
        }
        let mut last = HubError::PoolBusy;
        for round in 0..SENDER_ROUNDS {
            // A busy pool answers before the node is asked for the sender's
            // cells: clients retrying a busy hub cost one query each.
            let pool = self.store.free_hub_cells(CellOrder::Random, POOL_TRIES as i64).await?;
            if pool.is_empty() {
                return Err(HubError::PoolBusy);
            }
            let mut candidates = self.sender_candidates(sender, input.amount, now).await?;
            if round > 0 {
                // Another payment of this sender took its oldest cell
                // meanwhile: try others, in random order.
                candidates.shuffle(&mut rand::thread_rng());
            }
            for cell in pool {
                let Some(point) = parse_out_point(&cell.out_point) else { continue };
                let plan = HubPaymentPlan {
                    sender,
                    sender_cells: candidates.clone(),
                    hub: self.rules.hub,
                    pool_cell: LiveCell { out_point: point, capacity: cell.capacity },
                    amount: input.amount,
                    fee_rate: self.fee_rate,
                };
                let prepared = match plan.build_fewest(&self.scripts) {
                    Ok(p) => p,
                    Err(HubTxError::InsufficientFunds { available, needed }) => return Err(HubError::SenderFunds { available, needed }),
                    Err(e) => return Err(e.into()),
                };
                let hash: ckb_types::H256 = prepared.tx.hash().unpack();
                let new = NewHubPayment {
                    sender,
                    receiver,
                    amount: input.amount,
                    fee: prepared.fee,
                    change: prepared.change,
                    tx_hash: hash.0,
                    prepared_tx: prepared.tx.data().as_slice().to_vec(),
                    pool_cell: cell.out_point.clone(),
                    sender_cells: prepared.sender_cells.iter().map(|c| out_point_text(&c.out_point)).collect(),
                    user_id,
                    points,
                    creator: input.creator.clone(),
                    max_open_per_sender: self.config.max_open_per_sender,
                    now,
                    expires_at: now.saturating_add(i64::try_from(self.config.prepare_ttl_secs.saturating_mul(1_000)).unwrap_or(i64::MAX / 2)),
                };
                match self.store.prepare_hub_payment(&new).await {
                    Ok(row) => return Ok(row),
                    Err(e) => match store_refusal(&e) {
                        Some(HubStoreError::PoolCellTaken) => continue,
                        Some(HubStoreError::SenderCellTaken) => {
                            last = e.into();
                            break;
                        }
                        _ => return Err(e.into()),
                    },
                }
            }
        }
        Err(last)
    }

    /// Who a payment to `receiver` credits with points, and how many: only
    /// payments to the gateway, and only with the caller's key.
    fn points_for(&self, receiver: SighashArgs, input: &PrepareInput) -> Result<(Option<i64>, Option<u128>), HubError> {
        if receiver != self.rules.gateway {
            return Ok((None, None));
        }
        let user = input.user_id.ok_or(HubError::NeedsUser)?;
        let share = split_payment(input.amount, receiver, self.rules.platform, self.rules.rule_for(&receiver))
            .into_iter()
            .filter(|s| s.role == ShareRole::Receiver)
            .map(|s| s.amount)
            .sum::<u64>();
        let points = share / self.shannons_per_point.max(1);
        if points == 0 {
            return Err(HubError::BelowOnePoint(share));
        }
        Ok((Some(user), Some(u128::from(points))))
    }

    /// The sender's cells an open payment does not spend: its committed
    /// cells (from the indexer, oldest first), then the change of its
    /// payments not yet committed.
    async fn sender_candidates(&self, sender: SighashArgs, amount: Shannons, now: i64) -> Result<Vec<LiveCell>, HubError> {
        // The indexer's tip first: what it lists below is at least this
        // current, so a payment committed after it is known to the books.
        let indexed = self.rpc.indexer_tip().await?;
        let held = self.store.hub_sender_held_cells(&sender, now, indexed).await?;
        let lock = self.scripts.sighash.script(&sender.0);
        // The oldest cells first, as many as cover the payment besides
        // those open payments hold: a sender with many payments in flight
        // has its oldest cells held, and is not short of funds for that.
        let need = amount.saturating_add(PLAIN_CELL).saturating_add(PLAIN_CELL);
        let mut want = need;
        let mut free = Vec::new();
        for _ in 0..16 {
            let cells = self.rpc.live_cells(&lock, want).await?;
            let listed: u64 = cells.iter().map(|c| c.capacity).sum();
            let held_capacity: u64 = cells.iter().filter(|c| held.contains(&out_point_text(&c.out_point))).map(|c| c.capacity).sum();
            free = cells.into_iter().filter(|c| !held.contains(&out_point_text(&c.out_point))).collect::<Vec<_>>();
            // Enough, or every cell the indexer has is listed.
            if listed - held_capacity >= need || listed < want {
                break;
            }
            want = need.saturating_add(held_capacity).max(want.saturating_mul(2));
        }
        for (point, capacity) in self.store.hub_sender_pending_change(&sender, indexed).await? {
            // Spent by an open payment, or listed by an indexer that has
            // moved on since its tip was read.
            if held.contains(&point) || free.iter().any(|c| out_point_text(&c.out_point) == point) {
                continue;
            }
            if let Some(out_point) = parse_out_point(&point) {
                free.push(LiveCell { out_point, capacity });
            }
        }
        Ok(free)
    }

    /// Takes the sender-signed transaction of payment `id`: checked, signed
    /// by the hub, stored (`sent`), then sent. The same signed bytes again
    /// answer the payment as it is; anything else after `prepared` is
    /// `payment_not_prepared`.
    pub async fn transfer(&self, id: i64, bytes: &[u8]) -> Result<HubPaymentRow, HubError> {
        let row = self.store.hub_payment(id).await?.ok_or(HubError::UnknownPayment)?;
        let signed = transaction(bytes)?;
        match row.state {
            HubPaymentState::Prepared if row.expires_at <= now_ms() => return Err(HubError::Expired),
            HubPaymentState::Prepared => {}
            HubPaymentState::Expired => return Err(HubError::Expired),
            state => {
                let same = row.signed_tx.as_deref().map(transaction).transpose()?.is_some_and(|t| sign_cleared(&t) == sign_cleared(&signed));
                return if same && state != HubPaymentState::Failed { Ok(row) } else { Err(HubError::NotPrepared(state.name())) };
            }
        }
        let prepared = transaction(&row.prepared_tx)?;
        let pool =
            self.store.hub_cell(&row.pool_cell).await?.ok_or_else(|| HubTxError::HubCellMismatch("the pool cell is not in the pool".into()))?;
        let terms = PaymentTerms {
            sender: row.sender,
            hub: self.rules.hub,
            sender_inputs: row.sender_cells.len(),
            pool_cell: LiveCell {
                out_point: parse_out_point(&row.pool_cell).ok_or_else(|| HubTxError::HubCellMismatch("stored pool cell".into()))?,
                capacity: pool.capacity,
            },
            amount: row.amount,
        };
        check_signed(&self.scripts, &prepared, &signed, &terms)?;
        let complete = sign_hub(&signed, row.sender_cells.len(), &self.key);
        if !self.store.sign_hub_payment(id, complete.data().as_slice(), now_ms()).await? {
            let now = self.store.hub_payment(id).await?.ok_or(HubError::UnknownPayment)?;
            return match now.state {
                HubPaymentState::Sent | HubPaymentState::Complete if now.signed_tx.as_deref() == Some(complete.data().as_slice()) => Ok(now),
                HubPaymentState::Prepared => Err(HubError::Expired),
                state => Err(HubError::NotPrepared(state.name())),
            };
        }
        self.send_payment(id, &complete).await?;
        self.store.hub_payment(id).await?.ok_or(HubError::UnknownPayment)
    }

    /// Sends a stored, signed payment. A refusal for good (a failing
    /// script, an input dead: `refusals`) fails the payment and frees its
    /// cells; an input the node does not know yet, or a node that cannot
    /// be reached, leaves it `sent` for the tracker to send again.
    pub(super) async fn send_payment(&self, id: i64, tx: &TransactionView) -> Result<(), HubError> {
        match self.rpc.send(tx).await {
            Ok(_) => Ok(()),
            Err(_) if self.holds(tx).await? => Ok(()),
            Err(e) => match e.rejection() {
                Some(Rejection::Duplicate) => Ok(()),
                Some(r) if never_commits(r) => {
                    if !self.refused_for_good(tx, r).await? {
                        tracing::info!(payment = id, error = %e, "hub payment refused for now (an input not known yet); the tracker sends it again");
                        return Ok(());
                    }
                    self.store.fail_hub_payment(id, &format!("{}: {e}", r.code()), now_ms()).await?;
                    Err(e.into())
                }
                Some(_) => Err(e.into()),
                None => {
                    tracing::warn!(payment = id, error = %e, "hub payment stored but not sent; the tracker will send it");
                    Ok(())
                }
            },
        }
    }
}

/// `tx` without its hub signature (the witnesses of its last input), to
/// compare what a client sent again with what was stored.
fn sign_cleared(tx: &TransactionView) -> Vec<u8> {
    let last = tx.inputs().len().saturating_sub(1);
    let witnesses: Vec<_> = tx.witnesses().into_iter().enumerate().filter(|(i, _)| *i != last).map(|(_, w)| w).collect();
    tx.as_advanced_builder().set_witnesses(witnesses).build().data().as_slice().to_vec()
}
