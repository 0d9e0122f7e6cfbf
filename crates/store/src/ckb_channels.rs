//! CKB-backed payment channels (docs/ckb.md): the money is in a 2-of-2
//! multisig cell on the CKB chain, not in the ledger. Such a channel keeps
//! its `channels` row (asset CKB, amounts in shannons; `open` is 1 only
//! while the channel is active, so receipts are accepted only then) and its
//! one `sub_channels` row (the buyer's key), so the receipt machinery works
//! as on the ledger rail; claims and the ledger close skip it. The chain
//! side is one `ckb_channels` row (migration 0004): the state of its life
//! ([`SpilmanState`]), the terms, the funding, the latest commitment and
//! the transaction that closes it. State moves are compare-and-set on the
//! stored state, so two processes never both act on one move.

use crate::channels::{hex_of, insert_sub_channel, nonce_text, NewChannel};
use crate::codec::placeholders;
use crate::transaction::{begin_write, finish, retrying};
use crate::{now_ms, ChannelStoreError, Store, StoreError};
use secp256k1::PublicKey;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use tollway_core::channel::wire::{parse_hex, parse_public_key, public_key_hex};
use tollway_core::channel::ChannelId;
use tollway_core::ckb::SpilmanState;

/// A CKB-backed channel to store, in state `proposed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCkbChannel {
    /// The channel row and its one sub-channel: asset
    /// [`Asset::CKB`](tollway_core::Asset::CKB), `collateral` the most the
    /// buyer can pay (shannons), `key` the buyer's key. No ledger transfer
    /// is made for it.
    pub channel: NewChannel,
    /// The seller's key (the other half of the 2-of-2 multisig).
    pub seller_key: PublicKey,
    /// What the buyer puts into the channel cell (shannons).
    pub buyer_deposit: u64,
    /// What the seller puts into the channel cell (shannons).
    pub seller_cofund: u64,
    /// The fee every commitment and the refund pay (shannons).
    pub fee: u64,
    /// The block from which the refund can commit.
    pub expiry_block: u64,
    /// The seller's cells offered for the co-funding, as out points
    /// `0x<tx hash>:<index>`; reserved until the funding is sent or the
    /// channel ends.
    pub seller_cells: Vec<String>,
    /// When (Unix ms) the channel stops taking receipts, whatever the
    /// chain says: the local deadline that holds while the node is
    /// unreachable.
    pub pay_until: i64,
}

/// A CKB-backed channel as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCkbChannel {
    /// Its id (the same as its `channels` row's).
    pub id: ChannelId,
    /// The buyer: the user who opened it.
    pub user_id: i64,
    /// Where it is in its life.
    pub state: SpilmanState,
    /// The buyer's key (its one sub-channel's).
    pub buyer_key: PublicKey,
    /// The seller's key.
    pub seller_key: PublicKey,
    /// What the buyer puts into the channel cell (shannons).
    pub buyer_deposit: u64,
    /// What the seller puts into the channel cell (shannons).
    pub seller_cofund: u64,
    /// The fee every commitment and the refund pay (shannons).
    pub fee: u64,
    /// The block from which the refund can commit.
    pub expiry_block: u64,
    /// The seller's cells offered for the co-funding (out points).
    pub seller_cells: Vec<String>,
    /// When (Unix ms) it stops taking receipts, whatever the chain says
    /// (`None`: stored before migration 0007, only the chain bounds it).
    pub pay_until: Option<i64>,
    /// The funding transaction the seller checked and signed (molecule
    /// bytes), from `refund_signed` on.
    pub funding_tx: Option<Vec<u8>>,
    /// Its hash.
    pub funding_tx_hash: Option<[u8; 32]>,
    /// The channel cell it creates (out point `0x<tx hash>:<index>`).
    pub cell: Option<String>,
    /// The seller's signature over the refund.
    pub refund_seller_signature: Option<[u8; 65]>,
    /// What the latest stored commitment pays the seller (shannons; 0:
    /// none yet).
    pub latest_cumulative: u64,
    /// The latest commitment, signed by the buyer (molecule bytes).
    pub latest_commitment: Option<Vec<u8>>,
    /// The settlement or refund transaction sent (molecule bytes); for an
    /// offer given up after the seller signed its funding, the reclaim
    /// spending the seller's offered cells back to itself.
    pub closing_tx: Option<Vec<u8>>,
    /// Its hash.
    pub closing_tx_hash: Option<[u8; 32]>,
    /// When it was stored (Unix ms).
    pub created_at: i64,
    /// When it last changed (Unix ms).
    pub updated_at: i64,
}

/// The states whose offered seller cells are reserved: the funding that
/// spends them is not sent yet, or not committed.
const RESERVING: [SpilmanState; 3] = [SpilmanState::Proposed, SpilmanState::RefundSigned, SpilmanState::Funding];

/// A CKB channel with its channel's payer and its sub-channel's key (NULL
/// when the sub-channel is missing, which is corrupt).
const SELECT: &str = "SELECT k.id, c.user_id, k.state, s.public_key AS buyer_key, k.seller_key, k.buyer_deposit, \
     k.seller_cofund, k.fee, k.expiry_block, k.seller_cells, k.pay_until, k.funding_tx, k.funding_tx_hash, k.cell, \
     k.refund_seller_signature, k.latest_cumulative, k.latest_commitment, k.closing_tx, k.closing_tx_hash, \
     k.created_at, k.updated_at \
     FROM ckb_channels k JOIN channels c ON c.id = k.id LEFT JOIN sub_channels s ON s.channel_id = k.id";

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("ckb_channels.{what}: {detail}"))
}

fn number(row: &AnyRow, col: &str) -> Result<u64, StoreError> {
    let text: String = row.try_get(col)?;
    text.parse().map_err(|e| corrupt(col, e))
}

fn bytes(col: &str, text: &str) -> Result<Vec<u8>, StoreError> {
    let digits = text.strip_prefix("0x").ok_or_else(|| corrupt(col, "hex must start with 0x"))?;
    hex::decode(digits).map_err(|e| corrupt(col, e))
}

fn opt_bytes(row: &AnyRow, col: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let text: Option<String> = row.try_get(col)?;
    text.map(|t| bytes(col, &t)).transpose()
}

fn opt_fixed<const N: usize>(row: &AnyRow, col: &str) -> Result<Option<[u8; N]>, StoreError> {
    let text: Option<String> = row.try_get(col)?;
    text.map(|t| parse_hex::<N>(&t).map_err(|e| corrupt(col, e))).transpose()
}

fn key(row: &AnyRow, col: &str) -> Result<PublicKey, StoreError> {
    let text: Option<String> = row.try_get(col)?;
    let text = text.ok_or_else(|| corrupt(col, "the channel has no sub-channel"))?;
    parse_public_key(&text).map_err(|e| corrupt(col, e))
}

fn from_row(row: &AnyRow) -> Result<StoredCkbChannel, StoreError> {
    let id: String = row.try_get("id")?;
    let state: String = row.try_get("state")?;
    let cells: String = row.try_get("seller_cells")?;
    Ok(StoredCkbChannel {
        id: id.parse().map_err(|e| corrupt("id", e))?,
        user_id: row.try_get("user_id")?,
        state: SpilmanState::from_name(&state).ok_or_else(|| corrupt("state", format!("unknown state {state:?}")))?,
        buyer_key: key(row, "buyer_key")?,
        seller_key: key(row, "seller_key")?,
        buyer_deposit: number(row, "buyer_deposit")?,
        seller_cofund: number(row, "seller_cofund")?,
        fee: number(row, "fee")?,
        expiry_block: number(row, "expiry_block")?,
        seller_cells: serde_json::from_str(&cells).map_err(|e| corrupt("seller_cells", e))?,
        pay_until: row.try_get("pay_until")?,
        funding_tx: opt_bytes(row, "funding_tx")?,
        funding_tx_hash: opt_fixed(row, "funding_tx_hash")?,
        cell: row.try_get("cell")?,
        refund_seller_signature: opt_fixed(row, "refund_seller_signature")?,
        latest_cumulative: number(row, "latest_cumulative")?,
        latest_commitment: opt_bytes(row, "latest_commitment")?,
        closing_tx: opt_bytes(row, "closing_tx")?,
        closing_tx_hash: opt_fixed(row, "closing_tx_hash")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Which CKB channels to load.
#[derive(Debug, Clone, Copy)]
enum Which<'a> {
    /// One channel.
    Id(&'a ChannelId),
    /// A user's, oldest first.
    User(i64),
    /// Those in these states, oldest first.
    States(&'a [SpilmanState]),
}

/// Loads CKB channels; one with more than one sub-channel is corrupt (the
/// buyer's key would be ambiguous).
async fn load(conn: &mut AnyConnection, which: Which<'_>) -> Result<Vec<StoredCkbChannel>, StoreError> {
    let order = "ORDER BY k.created_at, k.id, s.key_id";
    let sql = match which {
        Which::Id(_) => format!("{SELECT} WHERE k.id = $1 {order}"),
        Which::User(_) => format!("{SELECT} WHERE c.user_id = $1 {order}"),
        Which::States([]) => return Ok(Vec::new()),
        Which::States(states) => format!("{SELECT} WHERE k.state IN ({}) {order}", placeholders(0, states.len())),
    };
    let mut query = sqlx::query(&sql);
    match which {
        Which::Id(id) => query = query.bind(id.to_string()),
        Which::User(user) => query = query.bind(user),
        Which::States(states) => {
            for state in states {
                query = query.bind(state.name());
            }
        }
    }
    let mut channels: Vec<StoredCkbChannel> = Vec::new();
    for row in query.fetch_all(&mut *conn).await? {
        let channel = from_row(&row)?;
        if channels.last().is_some_and(|c| c.id == channel.id) {
            return Err(corrupt("id", format!("channel {} has more than one sub-channel", channel.id)));
        }
        channels.push(channel);
    }
    Ok(channels)
}

async fn load_one(conn: &mut AnyConnection, id: &ChannelId) -> Result<Option<StoredCkbChannel>, StoreError> {
    Ok(load(conn, Which::Id(id)).await?.pop())
}

/// Whether `text` is an out point `0x<64 hex digits>:<index>`.
fn is_out_point(text: &str) -> bool {
    let Some((hash, index)) = text.strip_prefix("0x").and_then(|rest| rest.split_once(':')) else { return false };
    hash.len() == 64
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
        && index.parse::<u32>().is_ok()
        && index.bytes().all(|b| b.is_ascii_digit())
}

fn check_out_point(what: &str, text: &str) -> Result<(), StoreError> {
    if is_out_point(text) {
        Ok(())
    } else {
        Err(StoreError::OutOfRange(format!("{what} {text:?} (not 0x<tx hash>:<index>)")))
    }
}

/// `Ok(false)` when the channel exists (the compare-and-set lost),
/// `unknown_channel` when it does not.
async fn lost(conn: &mut AnyConnection, id: &ChannelId) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT 1 FROM ckb_channels WHERE id = $1").bind(id.to_string()).fetch_optional(&mut *conn).await?;
    match row {
        Some(_) => Ok(false),
        None => Err(ChannelStoreError::UnknownChannel.into()),
    }
}

impl Store {
    /// Stores a CKB-backed channel in one transaction: its `channels` row
    /// (closed: `open` is 0 until the channel is active; no ledger
    /// transfer, no escrow account), its one sub-channel (the buyer's key)
    /// and its `ckb_channels` row in state `proposed` with nothing paid.
    /// An id in use is `channel_exists`; a seller cell that is not an out
    /// point `0x<tx hash>:<index>` is out of range. Nothing is written on
    /// error.
    pub async fn open_ckb_channel(&self, new: &NewCkbChannel) -> Result<StoredCkbChannel, StoreError> {
        for cell in &new.seller_cells {
            check_out_point("seller cell", cell)?;
        }
        let cells = serde_json::to_string(&new.seller_cells).map_err(|e| StoreError::OutOfRange(format!("seller cells: {e}")))?;
        retrying("ckb channel open", || async {
            let mut conn = begin_write(self).await?;
            let result = open_in(&mut conn, new, &cells).await;
            finish(conn, result).await
        })
        .await
    }

    /// A CKB-backed channel; `None` when `id` is unknown or a ledger-rail
    /// channel.
    pub async fn ckb_channel(&self, id: &ChannelId) -> Result<Option<StoredCkbChannel>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        load_one(&mut conn, id).await
    }

    /// A user's CKB-backed channels, oldest first.
    pub async fn ckb_channels_of(&self, user_id: i64) -> Result<Vec<StoredCkbChannel>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        load(&mut conn, Which::User(user_id)).await
    }

    /// The CKB-backed channels in any of `states`, oldest first (for the
    /// jobs).
    pub async fn ckb_channels_in(&self, states: &[SpilmanState]) -> Result<Vec<StoredCkbChannel>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        load(&mut conn, Which::States(states)).await
    }

    /// The seller cells offered to channels in `proposed`,
    /// `refund_signed` or `funding`: reserved, not to be offered again.
    /// Sorted, each once.
    pub async fn reserved_seller_cells(&self) -> Result<Vec<String>, StoreError> {
        let sql = format!("SELECT seller_cells FROM ckb_channels WHERE state IN ({})", placeholders(0, RESERVING.len()));
        let mut query = sqlx::query(&sql);
        for state in RESERVING {
            query = query.bind(state.name());
        }
        let mut cells = Vec::new();
        for row in query.fetch_all(self.pool()).await? {
            let text: String = row.try_get("seller_cells")?;
            let some: Vec<String> = serde_json::from_str(&text).map_err(|e| corrupt("seller_cells", e))?;
            cells.extend(some);
        }
        cells.sort_unstable();
        cells.dedup();
        Ok(cells)
    }

    /// Moves a channel from `proposed` to `refund_signed` (compare-and-set
    /// on the state), storing the funding transaction the seller checked
    /// and signed, its hash, the channel cell it creates and the seller's
    /// signature over the refund. `Ok(false)`: the channel was not
    /// `proposed`, and nothing was written. An unknown channel is
    /// `unknown_channel`; a cell that is not an out point
    /// `0x<tx hash>:<index>` is out of range.
    pub async fn set_ckb_funding(
        &self,
        id: &ChannelId,
        funding_tx: &[u8],
        funding_tx_hash: [u8; 32],
        cell: &str,
        refund_seller_signature: [u8; 65],
    ) -> Result<bool, StoreError> {
        check_out_point("cell", cell)?;
        let mut conn = self.pool().acquire().await?;
        let updated = sqlx::query(
            "UPDATE ckb_channels SET state = $1, funding_tx = $2, funding_tx_hash = $3, cell = $4, \
             refund_seller_signature = $5, updated_at = $6 WHERE id = $7 AND state = $8",
        )
        .bind(SpilmanState::RefundSigned.name())
        .bind(hex_of(funding_tx))
        .bind(hex_of(&funding_tx_hash))
        .bind(cell)
        .bind(hex_of(&refund_seller_signature))
        .bind(now_ms())
        .bind(id.to_string())
        .bind(SpilmanState::Proposed.name())
        .execute(&mut *conn)
        .await?;
        if updated.rows_affected() == 0 {
            return lost(&mut conn, id).await;
        }
        Ok(true)
    }

    /// Moves a channel from `from` to `to` (compare-and-set on the state)
    /// in one transaction, storing `closing` (the settlement or refund
    /// sent, and its hash) when given; without it a stored closing
    /// transaction is kept. The channel row follows: `open` is 1 if `to`
    /// is `active` and 0 otherwise (receipts are accepted only while
    /// active), and a final `to` sets `closed_at` unless it is set.
    /// `Ok(false)`: the channel was not in `from`, and nothing was written.
    /// An unknown channel is `unknown_channel`. The move itself is the
    /// caller's to check ([`tollway_core::ckb::apply`]).
    pub async fn set_ckb_state(
        &self,
        id: &ChannelId,
        from: SpilmanState,
        to: SpilmanState,
        closing: Option<(&[u8], [u8; 32])>,
    ) -> Result<bool, StoreError> {
        retrying("ckb channel state", || async {
            let mut conn = begin_write(self).await?;
            let result = set_state_in(&mut conn, id, from, to, closing, None).await;
            finish(conn, result).await
        })
        .await
    }

    /// [`Store::set_ckb_state`] for a settlement: also a compare-and-set
    /// on the latest commitment, which must still pay `cumulative` (the
    /// one `settlement` completes). `Ok(false)`: the state moved or a
    /// later receipt's commitment was kept meanwhile, and nothing was
    /// written: settle again with the new latest.
    pub async fn set_ckb_settling(
        &self,
        id: &ChannelId,
        from: SpilmanState,
        to: SpilmanState,
        settlement: (&[u8], [u8; 32]),
        cumulative: u64,
    ) -> Result<bool, StoreError> {
        retrying("ckb channel settlement", || async {
            let mut conn = begin_write(self).await?;
            let result = set_state_in(&mut conn, id, from, to, Some(settlement), Some(cumulative)).await;
            finish(conn, result).await
        })
        .await
    }

    /// Stores a verified commitment (signed by the buyer, paying the seller
    /// `cumulative`) if it pays more than the stored one. `Ok(true)`:
    /// stored; `Ok(false)`: the stored one pays as much or more (the same
    /// commitment again is harmless), and nothing was written. An unknown
    /// channel is `unknown_channel`.
    pub async fn record_ckb_commitment(&self, id: &ChannelId, cumulative: u64, commitment: &[u8]) -> Result<bool, StoreError> {
        let mut conn = self.pool().acquire().await?;
        if keep_commitment_in(&mut conn, id, cumulative, commitment).await? {
            return Ok(true);
        }
        lost(&mut conn, id).await
    }
}

/// A CKB channel's commitment to keep with the receipt it pays (see
/// [`ReceiptWriter::accept_with_commitment`](crate::ReceiptWriter::accept_with_commitment)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptCommitment {
    /// What it pays the seller, shannons.
    pub cumulative: u64,
    /// The serialized, buyer-signed commitment transaction.
    pub tx: Vec<u8>,
}

/// Keeps `commitment` on connection `conn` if it pays more than the kept
/// one; true if it did.
async fn keep_commitment_in(conn: &mut AnyConnection, id: &ChannelId, cumulative: u64, commitment: &[u8]) -> Result<bool, StoreError> {
    let updated = sqlx::query(
        "UPDATE ckb_channels SET latest_cumulative = $1, latest_commitment = $2, updated_at = $3 \
         WHERE id = $4 AND latest_cumulative < $1",
    )
    .bind(nonce_text(cumulative))
    .bind(hex_of(commitment))
    .bind(now_ms())
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(updated.rows_affected() > 0)
}

async fn open_in(conn: &mut AnyConnection, new: &NewCkbChannel, cells: &str) -> Result<StoredCkbChannel, StoreError> {
    let now = now_ms();
    let channel = &new.channel;
    let inserted = sqlx::query(
        "INSERT INTO channels (id, user_id, asset, chain_id, epoch, collateral, open, created_at, closed_at, refunded) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, NULL, '0') ON CONFLICT (id) DO NOTHING",
    )
    .bind(channel.id.to_string())
    .bind(channel.user_id)
    .bind(channel.asset.code)
    .bind(channel.chain_id.to_string())
    .bind(channel.epoch.to_string())
    .bind(channel.collateral.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ChannelStoreError::ChannelExists.into());
    }
    insert_sub_channel(conn, &channel.id, &channel.key, now).await?;
    sqlx::query(
        "INSERT INTO ckb_channels (id, state, seller_key, buyer_deposit, seller_cofund, fee, expiry_block, seller_cells, \
         pay_until, latest_cumulative, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
    )
    .bind(channel.id.to_string())
    .bind(SpilmanState::Proposed.name())
    .bind(public_key_hex(&new.seller_key))
    .bind(new.buyer_deposit.to_string())
    .bind(new.seller_cofund.to_string())
    .bind(new.fee.to_string())
    .bind(new.expiry_block.to_string())
    .bind(cells)
    .bind(new.pay_until)
    .bind(nonce_text(0))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    load_one(conn, &channel.id).await?.ok_or_else(|| StoreError::Corrupt(format!("ckb channel {} vanished", channel.id)))
}

async fn set_state_in(
    conn: &mut AnyConnection,
    id: &ChannelId,
    from: SpilmanState,
    to: SpilmanState,
    closing: Option<(&[u8], [u8; 32])>,
    latest: Option<u64>,
) -> Result<bool, StoreError> {
    let now = now_ms();
    // A settlement is also a compare-and-set on the latest commitment.
    let with_closing = format!(
        "UPDATE ckb_channels SET state = $1, closing_tx = $2, closing_tx_hash = $3, updated_at = $4 \
         WHERE id = $5 AND state = $6{}",
        if latest.is_some() { " AND latest_cumulative = $7" } else { "" }
    );
    let query = match closing {
        Some((tx, hash)) => sqlx::query(&with_closing).bind(to.name()).bind(hex_of(tx)).bind(hex_of(&hash)),
        None => sqlx::query("UPDATE ckb_channels SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4").bind(to.name()),
    };
    let mut query = query.bind(now).bind(id.to_string()).bind(from.name());
    if let Some(latest) = latest {
        query = query.bind(nonce_text(latest));
    }
    let updated = query.execute(&mut *conn).await?;
    if updated.rows_affected() == 0 {
        return lost(conn, id).await;
    }
    sqlx::query("UPDATE channels SET open = $1 WHERE id = $2")
        .bind(i64::from(to == SpilmanState::Active))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    if to.is_final() {
        sqlx::query("UPDATE channels SET closed_at = $1 WHERE id = $2 AND closed_at IS NULL")
            .bind(now)
            .bind(id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::is_out_point;

    #[test]
    fn out_points() {
        let hash = "ab".repeat(32);
        assert!(is_out_point(&format!("0x{hash}:0")));
        assert!(is_out_point(&format!("0x{hash}:4294967295")));
        assert!(!is_out_point(&format!("0x{hash}:4294967296")), "beyond u32");
        assert!(!is_out_point(&format!("0x{hash}:+1")));
        assert!(!is_out_point(&format!("0x{hash}:")));
        assert!(!is_out_point(&format!("{hash}:0")));
        assert!(!is_out_point(&format!("0x{}:0", &hash[2..])));
        assert!(!is_out_point(&format!("0x{hash}")));
    }
}
