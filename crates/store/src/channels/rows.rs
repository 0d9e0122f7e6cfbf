//! Channel rows to and from their stored form.

use super::{StoredChannel, StoredSubChannel};
use crate::codec::amount;
use crate::{Dialect, StoreError};
use secp256k1::PublicKey;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use tollway_core::channel::wire::{parse_hex, parse_public_key, public_key_hex};
use tollway_core::channel::{ChannelId, KeyId, SignedSubRav, SubRav, SIGNED_SUBRAV_LEN, SUBRAV_LEN};
use tollway_core::Asset;

/// A channel joined with its sub-channels, one row per sub-channel.
const CHANNEL_SELECT: &str = "SELECT c.id, c.user_id, c.asset, c.chain_id, c.epoch, c.collateral, c.open, \
     c.created_at, c.closed_at, c.refunded, s.key_id, s.public_key, s.nonce, s.accumulated, s.claimed, s.latest, \
     s.pending FROM channels c LEFT JOIN sub_channels s ON s.channel_id = c.id";

/// A nonce as stored: 20 decimal digits, zero-padded (u64::MAX has 20),
/// so that comparing the text compares the numbers.
pub(crate) fn nonce_text(nonce: u64) -> String {
    format!("{nonce:020}")
}

/// Bytes as `0x` + lowercase hex, the wire form of ids and receipts.
pub(crate) fn hex_of(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {detail}"))
}

fn number(row: &AnyRow, col: &str) -> Result<u64, StoreError> {
    let text: String = row.try_get(col)?;
    text.parse().map_err(|e| corrupt(col, e))
}

/// Decodes a stored signed receipt.
pub(super) fn signed_receipt(text: &str) -> Result<SignedSubRav, StoreError> {
    let bytes: [u8; SIGNED_SUBRAV_LEN] = parse_hex(text).map_err(|e| corrupt("sub_channels.latest", e))?;
    SignedSubRav::decode(&bytes).map_err(|e| corrupt("sub_channels.latest", e))
}

fn proposal(text: &str) -> Result<SubRav, StoreError> {
    let bytes: [u8; SUBRAV_LEN] = parse_hex(text).map_err(|e| corrupt("sub_channels.pending", e))?;
    SubRav::decode(&bytes).map_err(|e| corrupt("sub_channels.pending", e))
}

/// Reads a `0x` channel id column.
pub(super) fn channel_id(row: &AnyRow, col: &str) -> Result<ChannelId, StoreError> {
    let text: String = row.try_get(col)?;
    text.parse().map_err(|e| corrupt(col, e))
}

/// Reads a `0x` key id column.
pub(super) fn key_id(row: &AnyRow, col: &str) -> Result<KeyId, StoreError> {
    let text: String = row.try_get(col)?;
    text.parse().map_err(|e| corrupt(col, e))
}

/// Reads an asset code column.
pub(super) fn asset(row: &AnyRow, col: &str) -> Result<Asset, StoreError> {
    let code: String = row.try_get(col)?;
    Asset::from_code(&code).map_err(|e| corrupt(col, e))
}

fn channel_from_row(row: &AnyRow) -> Result<StoredChannel, StoreError> {
    let closed_at: Option<i64> = row.try_get("closed_at")?;
    Ok(StoredChannel {
        id: channel_id(row, "id")?,
        user_id: row.try_get("user_id")?,
        asset: asset(row, "asset")?,
        chain_id: number(row, "chain_id")?,
        epoch: number(row, "epoch")?,
        collateral: amount(row, "collateral")?,
        open: row.try_get::<i64, _>("open")? != 0,
        created_at: row.try_get("created_at")?,
        closed_at,
        refunded: amount(row, "refunded")?,
        subs: Vec::new(),
    })
}

/// The sub-channel of a joined row (`None` for a channel without any).
fn sub_from_row(row: &AnyRow) -> Result<Option<StoredSubChannel>, StoreError> {
    let Some(public_key) = row.try_get::<Option<String>, _>("public_key")? else { return Ok(None) };
    let latest: Option<String> = row.try_get("latest")?;
    let pending: Option<String> = row.try_get("pending")?;
    Ok(Some(StoredSubChannel {
        id: key_id(row, "key_id")?,
        key: parse_public_key(&public_key).map_err(|e| corrupt("sub_channels.public_key", e))?,
        nonce: number(row, "nonce")?,
        accumulated: amount(row, "accumulated")?,
        claimed: amount(row, "claimed")?,
        latest: latest.as_deref().map(signed_receipt).transpose()?,
        pending: pending.as_deref().map(proposal).transpose()?,
    }))
}

/// Which channels to load.
#[derive(Debug, Clone, Copy)]
pub(super) enum Which<'a> {
    /// One channel.
    Id(&'a ChannelId),
    /// A user's, oldest first.
    User(i64),
    /// The newest `limit` channels (of one user, if given), newest first.
    Newest { user: Option<i64>, limit: i64 },
}

/// Loads channels with their sub-channels in one statement (one snapshot).
pub(super) async fn load_channels(conn: &mut AnyConnection, which: Which<'_>) -> Result<Vec<StoredChannel>, StoreError> {
    let sql = match which {
        Which::Id(_) => format!("{CHANNEL_SELECT} WHERE c.id = $1 ORDER BY s.key_id"),
        Which::User(_) => format!("{CHANNEL_SELECT} WHERE c.user_id = $1 ORDER BY c.created_at, c.id, s.key_id"),
        Which::Newest { user, .. } => {
            let (filter, limit) = if user.is_some() { ("WHERE user_id = $1", "$2") } else { ("", "$1") };
            format!(
                "{CHANNEL_SELECT} WHERE c.id IN (SELECT id FROM channels {filter} ORDER BY created_at DESC, id DESC LIMIT {limit}) \
                 ORDER BY c.created_at DESC, c.id DESC, s.key_id"
            )
        }
    };
    let query = match which {
        Which::Id(id) => sqlx::query(&sql).bind(id.to_string()),
        Which::User(user) => sqlx::query(&sql).bind(user),
        Which::Newest { user: Some(user), limit } => sqlx::query(&sql).bind(user).bind(limit),
        Which::Newest { user: None, limit } => sqlx::query(&sql).bind(limit),
    };
    let mut channels: Vec<StoredChannel> = Vec::new();
    for row in query.fetch_all(&mut *conn).await? {
        let id = channel_id(&row, "id")?;
        if channels.last().is_none_or(|c| c.id != id) {
            channels.push(channel_from_row(&row)?);
        }
        if let (Some(channel), Some(sub)) = (channels.last_mut(), sub_from_row(&row)?) {
            channel.subs.push(sub);
        }
    }
    Ok(channels)
}

/// Loads one channel.
pub(super) async fn load_channel(conn: &mut AnyConnection, id: &ChannelId) -> Result<Option<StoredChannel>, StoreError> {
    Ok(load_channels(conn, Which::Id(id)).await?.pop())
}

/// Adds a sub-channel for `key` unless the channel has it already.
pub(crate) async fn insert_sub_channel(
    conn: &mut AnyConnection,
    channel: &ChannelId,
    key: &PublicKey,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sub_channels (channel_id, key_id, public_key, nonce, accumulated, claimed, updated_at) \
         VALUES ($1, $2, $3, $4, '0', '0', $5) ON CONFLICT (channel_id, key_id) DO NOTHING",
    )
    .bind(channel.to_string())
    .bind(KeyId::of(key).to_string())
    .bind(public_key_hex(key))
    .bind(nonce_text(0))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What a channel's row says about who pays and whether it is open.
#[derive(Debug, Clone, Copy)]
pub(super) struct ChannelHead {
    /// False once closed.
    pub open: bool,
    /// The payer.
    pub user_id: i64,
    /// The asset of the collateral.
    pub asset: Asset,
}

/// A channel's head, read under a lock on its row (PostgreSQL; SQLite's
/// write transaction holds the whole database); `None` when it does not
/// exist.
pub(super) async fn lock_channel(
    conn: &mut AnyConnection,
    dialect: Dialect,
    id: &ChannelId,
) -> Result<Option<ChannelHead>, StoreError> {
    let lock = if dialect == Dialect::Postgres { " FOR UPDATE" } else { "" };
    let row = sqlx::query(&format!("SELECT open, user_id, asset FROM channels WHERE id = $1{lock}"))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| {
        Ok(ChannelHead { open: r.try_get::<i64, _>("open")? != 0, user_id: r.try_get("user_id")?, asset: asset(&r, "asset")? })
    })
    .transpose()
}
