//! Claims and closing: paying accepted receipts out of escrow, and
//! returning the rest of the escrow to the payer.
//!
//! A claim takes a sub-channel's `claimed` up to the total of its latest
//! signed receipt (re-verified against the sub-channel's key), never
//! beyond, with the transfer id `chclaim:{channel}:{digest of sub-channel
//! and target}`: a retried claim finds its transfer and cannot post twice.
//! (The readable `chclaim:{channel}:{sub}:{target}` would pass the
//! ledger's 128-byte id limit; the transfer's memo spells it out.)

use super::lifecycle::{channel_transfer, refusal};
use super::rows::{asset, channel_id, key_id, load_channel, lock_channel, signed_receipt, ChannelHead};
use super::{ClaimReport, ClaimRequest, StoredChannel};
use crate::codec::{amount, placeholders};
use crate::ledger_io::load_accounts;
use crate::transaction::{begin_write, finish, retrying};
use crate::writer::execute_in_transaction;
use crate::{now_ms, ChannelStoreError, Dialect, Store, StoreError};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use tollway_core::channel::wire::parse_public_key;
use tollway_core::channel::{ChannelId, KeyId};
use tollway_core::ledger::{AccountId, ChainError, Command, Reason, TransferRequest};
use tollway_core::{Amount, Asset};

/// A locked sub-channel with accepted receipts not yet claimed.
#[derive(Debug)]
struct Unclaimed {
    channel: ChannelId,
    user_id: i64,
    asset: Asset,
    sub: KeyId,
    claimed: Amount,
    /// The latest signed receipt's total: what the claim takes `claimed` to.
    target: Amount,
}

impl Unclaimed {
    fn due(&self) -> Amount {
        self.target.saturating_sub(self.claimed)
    }

    fn transfer(&self) -> TransferRequest {
        let digest = Sha256::digest(format!("{}:{}", self.sub, self.target));
        channel_transfer(
            format!("chclaim:{}:{}", self.channel, hex::encode(&digest[..16])),
            AccountId::channel_escrow(&self.channel, self.asset),
            AccountId::revenue(self.asset),
            self.due(),
            Reason::Charge,
            self.user_id,
            format!("channel claim: sub-channel {} up to {}", self.sub, self.target),
        )
    }
}

/// What one settlement paid, and the channels the ledger refused.
#[derive(Debug, Default)]
struct Settled {
    report: ClaimReport,
    refused: Vec<(ChannelId, ChainError)>,
}

impl Store {
    /// Claims accepted receipts in one transaction: for each sub-channel of
    /// the requested channels whose latest signed receipt is above what was
    /// claimed (and whose channel has at least `min_unclaimed` unclaimed),
    /// moves the difference from escrow to revenue. A sub-channel whose
    /// stored receipt is missing, unreadable or disagrees with its
    /// accepted total is skipped and logged; a channel the ledger refuses
    /// is left unclaimed and logged, and the others are still claimed.
    /// Channels backed by a CKB cell are never claimed here: their money is
    /// on chain, not in escrow.
    pub async fn claim(&self, request: &ClaimRequest) -> Result<ClaimReport, StoreError> {
        retrying("channel claim", || async {
            let mut conn = begin_write(self).await?;
            let result = claim_in(&mut conn, self.dialect(), request).await;
            finish(conn, result).await
        })
        .await
    }

    /// Closes a channel in one transaction: no receipt is accepted any
    /// more, everything accepted is claimed, and what is left in escrow
    /// goes back to the payer's wallet (transfer `chclose:{id}`), recorded
    /// as `refunded`. Closing a closed channel changes nothing. A channel
    /// backed by a CKB cell is `ckb_channel` (it is settled on chain), and
    /// nothing changes.
    pub async fn close_channel(&self, id: &ChannelId) -> Result<StoredChannel, StoreError> {
        retrying("channel close", || async {
            let mut conn = begin_write(self).await?;
            let result = close_in(&mut conn, self.dialect(), id).await;
            finish(conn, result).await
        })
        .await
    }
}

async fn claim_in(conn: &mut AnyConnection, dialect: Dialect, request: &ClaimRequest) -> Result<ClaimReport, StoreError> {
    let unclaimed = lock_unclaimed(conn, dialect, request.channels.as_deref()).await?;
    let settled = settle(conn, dialect, &unclaimed, request.min_unclaimed).await?;
    for (channel, e) in &settled.refused {
        tracing::error!(%channel, error = %e, "the ledger refused a channel's claim; left unclaimed");
    }
    Ok(settled.report)
}

async fn close_in(conn: &mut AnyConnection, dialect: Dialect, id: &ChannelId) -> Result<StoredChannel, StoreError> {
    let head = lock_channel(conn, dialect, id).await?.ok_or(ChannelStoreError::UnknownChannel)?;
    if is_ckb_channel(conn, id).await? {
        return Err(ChannelStoreError::CkbChannel.into());
    }
    if head.open {
        sqlx::query("UPDATE channels SET open = 0, closed_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id.to_string())
            .execute(&mut *conn)
            .await?;
        let unclaimed = lock_unclaimed(conn, dialect, Some(std::slice::from_ref(id))).await?;
        if let Some((_, e)) = settle(conn, dialect, &unclaimed, Amount::ZERO).await?.refused.pop() {
            return Err(refusal(e));
        }
        let refunded = refund(conn, dialect, id, head).await?;
        sqlx::query("UPDATE channels SET refunded = $1 WHERE id = $2")
            .bind(refunded.to_string())
            .bind(id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    load_channel(conn, id).await?.ok_or_else(|| StoreError::Corrupt(format!("channel {id} vanished")))
}

/// Whether the channel is backed by a CKB cell (it has no escrow here).
async fn is_ckb_channel(conn: &mut AnyConnection, id: &ChannelId) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT 1 FROM ckb_channels WHERE id = $1").bind(id.to_string()).fetch_optional(&mut *conn).await?;
    Ok(row.is_some())
}

/// Moves what is left in the channel's escrow to the payer's wallet.
async fn refund(conn: &mut AnyConnection, dialect: Dialect, id: &ChannelId, head: ChannelHead) -> Result<Amount, StoreError> {
    let escrow = AccountId::channel_escrow(id, head.asset);
    let accounts = load_accounts(conn, dialect, std::slice::from_ref(&escrow.0)).await?;
    let left = accounts.first().map(|a| a.available()).unwrap_or_default();
    if left.is_zero() {
        return Ok(left);
    }
    let wallet = AccountId::user_wallet(head.user_id, head.asset);
    let transfer =
        channel_transfer(format!("chclose:{id}"), escrow, wallet, left, Reason::Reservation, head.user_id, "channel refund".into());
    for result in execute_in_transaction(conn, dialect, &[Command::Chain(vec![transfer])]).await? {
        result.map_err(refusal)?;
    }
    Ok(left)
}

/// Locks (PostgreSQL: `FOR UPDATE`, in key order, before any ledger
/// account) and reads the sub-channels with something accepted and not
/// claimed, of `channels` or of all channels.
async fn lock_unclaimed(
    conn: &mut AnyConnection,
    dialect: Dialect,
    channels: Option<&[ChannelId]>,
) -> Result<Vec<Unclaimed>, StoreError> {
    let mut sql = String::from(
        "SELECT s.channel_id, s.key_id, s.public_key, s.accumulated, s.claimed, s.latest, c.user_id, c.asset \
         FROM sub_channels s JOIN channels c ON c.id = s.channel_id WHERE s.accumulated <> s.claimed \
         AND NOT EXISTS (SELECT 1 FROM ckb_channels k WHERE k.id = s.channel_id)",
    );
    let ids: Vec<String> = channels.unwrap_or_default().iter().map(ChannelId::to_string).collect();
    if channels.is_some() {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        sql.push_str(&format!(" AND s.channel_id IN ({})", placeholders(0, ids.len())));
    }
    sql.push_str(" ORDER BY s.channel_id, s.key_id");
    if dialect == Dialect::Postgres {
        sql.push_str(" FOR UPDATE OF s");
    }
    let mut query = sqlx::query(&sql);
    for id in &ids {
        query = query.bind(id);
    }
    let mut unclaimed = Vec::new();
    for row in query.fetch_all(&mut *conn).await? {
        unclaimed.extend(claimable(&row)?);
    }
    Ok(unclaimed)
}

/// The claim a sub-channel row allows: up to its latest signed receipt,
/// which must verify and agree with the accepted total. Anything else is
/// logged and not claimed.
fn claimable(row: &AnyRow) -> Result<Option<Unclaimed>, StoreError> {
    let (channel, sub) = (channel_id(row, "channel_id")?, key_id(row, "key_id")?);
    let (accumulated, claimed) = (amount(row, "accumulated")?, amount(row, "claimed")?);
    let latest: Option<String> = row.try_get("latest")?;
    let public_key: String = row.try_get("public_key")?;
    let checked = latest.ok_or_else(|| "no signed receipt is stored".to_owned()).and_then(|text| {
        let signed = signed_receipt(&text).map_err(|e| e.to_string())?;
        let key = parse_public_key(&public_key)?;
        signed.verify(&key).map_err(|e| e.to_string())?;
        let rav = signed.rav;
        if rav.channel_id != channel || rav.sub_channel != sub || rav.accumulated != accumulated {
            return Err(format!("the signed receipt is for {} on {} of {}", rav.accumulated, rav.sub_channel, rav.channel_id));
        }
        if rav.accumulated < claimed {
            return Err(format!("more was claimed ({claimed}) than the receipt's {}", rav.accumulated));
        }
        Ok(rav.accumulated)
    });
    match checked {
        Ok(target) if target > claimed => {
            let (user_id, asset) = (row.try_get("user_id")?, asset(row, "asset")?);
            Ok(Some(Unclaimed { channel, user_id, asset, sub, claimed, target }))
        }
        Ok(_) => Ok(None),
        Err(why) => {
            tracing::error!(%channel, %sub, %accumulated, %claimed, "sub-channel not claimed: {why}");
            Ok(None)
        }
    }
}

/// Pays the claims, one chain of transfers per channel, skipping channels
/// with less than `min_unclaimed` due, and records what each sub-channel
/// has now been paid. `unclaimed` is in channel order.
async fn settle(
    conn: &mut AnyConnection,
    dialect: Dialect,
    unclaimed: &[Unclaimed],
    min_unclaimed: Amount,
) -> Result<Settled, StoreError> {
    let due = |group: &[Unclaimed]| super::sum(group.iter().map(Unclaimed::due));
    let groups: Vec<&[Unclaimed]> = unclaimed
        .chunk_by(|a, b| a.channel == b.channel)
        .filter(|group| due(group) >= min_unclaimed && !due(group).is_zero())
        .collect();
    let commands: Vec<Command> =
        groups.iter().map(|group| Command::Chain(group.iter().map(Unclaimed::transfer).collect())).collect();
    let results = execute_in_transaction(conn, dialect, &commands).await?;
    let mut settled = Settled::default();
    let now = now_ms();
    for (group, result) in groups.into_iter().zip(results) {
        if let Err(e) = result {
            settled.refused.extend(group.first().map(|u| (u.channel, e)));
            continue;
        }
        for u in group {
            sqlx::query("UPDATE sub_channels SET claimed = $1, updated_at = $2 WHERE channel_id = $3 AND key_id = $4")
                .bind(u.target.to_string())
                .bind(now)
                .bind(u.channel.to_string())
                .bind(u.sub.to_string())
                .execute(&mut *conn)
                .await?;
        }
        settled.report.sub_channels += group.len();
        settled.report.amount = settled.report.amount.checked_add(due(group)).unwrap_or(Amount::MAX);
    }
    Ok(settled)
}
