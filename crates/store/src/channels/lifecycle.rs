//! Opening channels, adding keys, reading them, and storing the pending
//! proposal.

use super::rows::{insert_sub_channel, load_channel, load_channels, lock_channel, nonce_text, Which};
use super::{NewChannel, StoredChannel};
use crate::ledger_io::write_accounts;
use crate::transaction::{begin_write, finish, retrying};
use crate::writer::execute_in_transaction;
use crate::{now_ms, ChannelStoreError, Dialect, Store, StoreError};
use secp256k1::PublicKey;
use sqlx::AnyConnection;
use tollway_core::channel::{ChannelId, KeyId, SubRav};
use tollway_core::ledger::{Account, AccountFlags, AccountId, ChainError, Command, Links, Operation, Reason, TransferError};
use tollway_core::ledger::{TransferId, TransferRequest};

/// Why the ledger refused a channel's transfer, as the channel's error.
pub(super) fn refusal(e: ChainError) -> StoreError {
    match e.error {
        TransferError::ExceedsCredits => ChannelStoreError::InsufficientPoints.into(),
        other => ChannelStoreError::Ledger(other).into(),
    }
}

/// A plain transfer from `debit` to `credit`, linked to the payer.
pub(super) fn channel_transfer(id: String, debit: AccountId, credit: AccountId, amount: tollway_core::Amount, reason: Reason, user_id: i64, memo: String) -> TransferRequest {
    TransferRequest {
        id: TransferId(id),
        op: Operation::Transfer { debit, credit, amount },
        reason,
        links: Links { user_id: Some(user_id), memo: Some(memo), ..Links::default() },
    }
}

impl Store {
    /// Opens a channel in one transaction: moves the deposit from the
    /// payer's wallet into the channel's escrow (transfer `chopen:{id}`)
    /// and stores the channel with its first sub-channel. A wallet holding
    /// less than the deposit is `insufficient_points`, and nothing is
    /// written; an id in use is `channel_exists`.
    pub async fn open_channel(&self, new: &NewChannel) -> Result<StoredChannel, StoreError> {
        if new.collateral.is_zero() {
            return Err(ChannelStoreError::ZeroDeposit.into());
        }
        retrying("channel open", || async {
            let mut conn = begin_write(self).await?;
            let result = open_in(&mut conn, self.dialect(), new).await;
            finish(conn, result).await
        })
        .await
    }

    /// A channel with its sub-channels.
    pub async fn channel(&self, id: &ChannelId) -> Result<Option<StoredChannel>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        load_channel(&mut conn, id).await
    }

    /// A user's channels, oldest first.
    pub async fn channels_of(&self, user_id: i64) -> Result<Vec<StoredChannel>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        load_channels(&mut conn, Which::User(user_id)).await
    }

    /// The newest `limit` channels of every user (or of `user`), newest
    /// first, with their sub-channels (the admin console's list).
    pub async fn channels_newest(&self, user: Option<i64>, limit: i64) -> Result<Vec<StoredChannel>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        load_channels(&mut conn, Which::Newest { user, limit }).await
    }

    /// Adds a sub-channel for `key`; adding a key the channel has changes
    /// nothing. A closed channel is `channel_closed`, an unknown one
    /// `unknown_channel`.
    pub async fn add_sub_channel(&self, id: &ChannelId, key: PublicKey) -> Result<StoredChannel, StoreError> {
        retrying("sub-channel insert", || async {
            let mut conn = begin_write(self).await?;
            let result = add_sub_in(&mut conn, self.dialect(), id, &key).await;
            finish(conn, result).await
        })
        .await
    }

    /// Stores the sub-channel's latest unsigned proposal (`None` clears
    /// it). A proposal whose nonce is not above the accepted receipt's, or
    /// is below the stored proposal's, is ignored: it is already covered
    /// or superseded. One for another channel or sub-channel is
    /// `channel_mismatch`.
    pub async fn set_pending(&self, id: &ChannelId, sub: &KeyId, proposal: Option<&SubRav>) -> Result<(), StoreError> {
        let now = now_ms();
        let query = match proposal {
            Some(p) if p.channel_id != *id || p.sub_channel != *sub => return Err(ChannelStoreError::ChannelMismatch.into()),
            Some(p) => sqlx::query(
                "UPDATE sub_channels SET pending = $1, pending_nonce = $2, updated_at = $3 \
                 WHERE channel_id = $4 AND key_id = $5 AND nonce < $2 AND (pending_nonce IS NULL OR pending_nonce <= $2)",
            )
            .bind(super::hex_of(&p.encode()))
            .bind(nonce_text(p.nonce)),
            None => sqlx::query(
                "UPDATE sub_channels SET pending = NULL, pending_nonce = NULL, updated_at = $1 \
                 WHERE channel_id = $2 AND key_id = $3",
            ),
        };
        query.bind(now).bind(id.to_string()).bind(sub.to_string()).execute(self.pool()).await?;
        Ok(())
    }
}

async fn open_in(conn: &mut AnyConnection, dialect: Dialect, new: &NewChannel) -> Result<StoredChannel, StoreError> {
    let now = now_ms();
    let inserted = sqlx::query(
        "INSERT INTO channels (id, user_id, asset, chain_id, epoch, collateral, open, created_at, closed_at, refunded) \
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, NULL, '0') ON CONFLICT (id) DO NOTHING",
    )
    .bind(new.id.to_string())
    .bind(new.user_id)
    .bind(new.asset.code)
    .bind(new.chain_id.to_string())
    .bind(new.epoch.to_string())
    .bind(new.collateral.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ChannelStoreError::ChannelExists.into());
    }
    let escrow = AccountId::channel_escrow(&new.id, new.asset);
    write_accounts(conn, dialect, &[Account::new(escrow.clone(), new.asset, AccountFlags::WALLET)], false).await?;
    let wallet = AccountId::user_wallet(new.user_id, new.asset);
    let deposit = channel_transfer(format!("chopen:{}", new.id), wallet, escrow, new.collateral, Reason::Reservation, new.user_id, "channel deposit".into());
    for result in execute_in_transaction(conn, dialect, &[Command::Chain(vec![deposit])]).await? {
        result.map_err(refusal)?;
    }
    insert_sub_channel(conn, &new.id, &new.key, now).await?;
    load_channel(conn, &new.id).await?.ok_or_else(|| StoreError::Corrupt(format!("channel {} vanished", new.id)))
}

async fn add_sub_in(conn: &mut AnyConnection, dialect: Dialect, id: &ChannelId, key: &PublicKey) -> Result<StoredChannel, StoreError> {
    let head = lock_channel(conn, dialect, id).await?.ok_or(ChannelStoreError::UnknownChannel)?;
    if !head.open {
        return Err(ChannelStoreError::ChannelClosed.into());
    }
    insert_sub_channel(conn, id, key, now_ms()).await?;
    load_channel(conn, id).await?.ok_or_else(|| StoreError::Corrupt(format!("channel {id} vanished")))
}
