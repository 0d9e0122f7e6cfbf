//! Creating sessions (with their unique amount), reading them, and the
//! expiry sweep.

use super::rows::{lock_session, save_session, session_from, SessionRow};
use super::webhooks::enqueue;
use super::EvmStoreError;
use crate::codec::placeholders;
use crate::transaction::{begin_write, finish, retrying};
use crate::{Store, StoreError};
use sqlx::AnyConnection;
use std::collections::HashSet;
use super::catalog::{NetworkRow, TokenRow};
use tollway_core::evm::{apply, Effect, Event, Session, TokenAmount};

/// A session to create. The amount is the first of `candidates` no open
/// session of the same network and token holds.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// `pay_` + 32 hex digits (the server's, never the client's).
    pub id: String,
    /// The network.
    pub network: NetworkRow,
    /// The token.
    pub token: TokenRow,
    /// The product bought, if any.
    pub product_id: Option<String>,
    /// What is bought, in words.
    pub description: String,
    /// The amount asked for, token units.
    pub requested: TokenAmount,
    /// Amounts it may be given, in order (see
    /// [`tollway_core::evm::amount_candidates`]).
    pub candidates: Vec<u128>,
    /// The user whose points it buys.
    pub user_id: Option<i64>,
    /// Points credited when paid.
    pub points: Option<u128>,
    /// The merchant's webhook.
    pub webhook_url: Option<String>,
    /// Free JSON.
    pub metadata: String,
    /// Who creates it (`key:{id}` or `ip:{address}`).
    pub creator: String,
    /// The most sessions one creator may have waiting at once.
    pub max_open_per_creator: u32,
    /// Now (Unix ms).
    pub now: i64,
    /// When it expires (Unix ms).
    pub expires_at: i64,
    /// When its amount is released for reuse (Unix ms; after the expiry,
    /// so a late payment still finds it).
    pub release_at: i64,
}

impl Store {
    /// Creates a session, giving it the first free candidate amount;
    /// `no_free_amount` when all are held, `too_many_open_payments` when
    /// its creator has its limit of waiting sessions.
    pub async fn create_payment_session(&self, new: &NewSession) -> Result<SessionRow, StoreError> {
        retrying("payment session", || async {
            let mut conn = begin_write(self).await?;
            let result = create_in(&mut conn, new).await;
            finish(conn, result).await
        })
        .await
    }

    /// The session `id`.
    pub async fn payment_session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM payment_sessions WHERE id = $1").bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(session_from).transpose()
    }

    /// Sessions, newest first, up to `limit`, before `before` (a
    /// `created_at`, for paging).
    pub async fn payment_sessions(&self, limit: i64, before: Option<i64>) -> Result<Vec<SessionRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM payment_sessions WHERE created_at < $1 ORDER BY created_at DESC, id DESC LIMIT $2")
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(session_from).collect()
    }

    /// Expires waiting sessions past their time (each through the state
    /// machine, with its webhook) and releases the amounts whose hold has
    /// ended. Returns the sessions that changed.
    pub async fn expire_payment_sessions(&self, now: i64) -> Result<Vec<SessionRow>, StoreError> {
        let due: Vec<String> =
            sqlx::query_scalar("SELECT id FROM payment_sessions WHERE status = 'waiting' AND expires_at <= $1 ORDER BY expires_at LIMIT 500")
                .bind(now)
                .fetch_all(self.pool())
                .await?;
        let mut changed = Vec::new();
        for id in due {
            let dialect = self.dialect();
            let saved = retrying("payment expiry", || async {
                let mut conn = begin_write(self).await?;
                let result = async {
                    let Some(before) = lock_session(&mut conn, dialect, &id).await? else { return Ok(None) };
                    let t = apply(&before.state, Event::Expire, now).map_err(EvmStoreError::from)?;
                    if t.session == before.state {
                        return Ok(None);
                    }
                    let after = save_session(&mut conn, &before, &t.session, now).await?;
                    if t.effects.contains(&Effect::Notify) {
                        enqueue(&mut conn, &after, now).await?;
                    }
                    Ok(Some(after))
                }
                .await;
                finish(conn, result).await
            })
            .await?;
            changed.extend(saved);
        }
        sqlx::query("UPDATE payment_sessions SET reserved = 0 WHERE reserved = 1 AND release_at <= $1 AND status <> 'confirming'")
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(changed)
    }
}

async fn create_in(conn: &mut AnyConnection, new: &NewSession) -> Result<SessionRow, StoreError> {
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM payment_sessions WHERE creator = $1 AND status = 'waiting' AND expires_at > $2")
        .bind(&new.creator)
        .bind(new.now)
        .fetch_one(&mut *conn)
        .await?;
    if open >= i64::from(new.max_open_per_creator) {
        return Err(EvmStoreError::TooManyOpen.into());
    }
    let mut start = 0;
    let mut width = FIRST_WINDOW;
    while start < new.candidates.len() {
        let window = &new.candidates[start..new.candidates.len().min(start + width)];
        start += window.len();
        width *= 2;
        let taken = taken_amounts(conn, new, window).await?;
        for amount in window.iter().filter(|c| !taken.contains(&c.to_string())) {
            if insert_session(conn, new, *amount).await? {
                return Ok(created_row(new, *amount));
            }
        }
    }
    Err(EvmStoreError::NoFreeAmount.into())
}

/// How many candidate amounts the first query checks; each further query
/// checks twice as many as the one before. Most creations find a free
/// amount among the first few, so the whole list (1,000 by default) is
/// only read when the early ones are held, and then in a handful of
/// queries.
const FIRST_WINDOW: usize = 32;

/// The amounts of `window` an open session of the same network and token
/// holds.
async fn taken_amounts(conn: &mut AnyConnection, new: &NewSession, window: &[u128]) -> Result<HashSet<String>, StoreError> {
    let sql = format!(
        "SELECT amount_units FROM payment_sessions WHERE network_id = $1 AND token_address = $2 AND reserved = 1 AND amount_units IN ({})",
        placeholders(2, window.len())
    );
    let mut query = sqlx::query_scalar::<_, String>(&sql).bind(&new.network.id).bind(new.token.contract_address.to_string());
    for c in window {
        query = query.bind(c.to_string());
    }
    Ok(query.fetch_all(&mut *conn).await?.into_iter().collect())
}

/// Inserts the session with `amount`; `false` when a concurrent creation
/// took that amount first (the partial unique index refuses it without
/// failing the transaction, so the caller moves to the next candidate).
async fn insert_session(conn: &mut AnyConnection, new: &NewSession, amount: u128) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO payment_sessions (id, network_id, chain_id, token_symbol, token_address, decimals, deposit_address, product_id, \
         description, requested_units, amount_units, reserved, release_at, status, exception, seen_units, confirmed_units, late, user_id, \
         points, webhook_url, metadata, confirmations_required, creator, created_at, expires_at, paid_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, 'waiting', NULL, '0', '0', 0, $13, $14, $15, $16, $17, $18, $19, \
         $20, NULL, $19) ON CONFLICT (network_id, token_address, amount_units) WHERE reserved = 1 DO NOTHING",
    )
    .bind(&new.id)
    .bind(&new.network.id)
    .bind(i64::try_from(new.network.chain_id).map_err(|_| StoreError::OutOfRange("chain_id".into()))?)
    .bind(&new.token.symbol)
    .bind(new.token.contract_address.to_string())
    .bind(i64::from(new.token.decimals))
    .bind(new.network.deposit_address.to_string())
    .bind(&new.product_id)
    .bind(&new.description)
    .bind(new.requested.units.to_string())
    .bind(amount.to_string())
    .bind(new.release_at)
    .bind(new.user_id)
    .bind(new.points.map(|p| p.to_string()))
    .bind(&new.webhook_url)
    .bind(&new.metadata)
    .bind(i64::try_from(new.network.confirmations).map_err(|_| StoreError::OutOfRange("confirmations".into()))?)
    .bind(&new.creator)
    .bind(new.now)
    .bind(new.expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// The row [`insert_session`] wrote.
fn created_row(new: &NewSession, amount: u128) -> SessionRow {
    SessionRow {
        id: new.id.clone(),
        network_id: new.network.id.clone(),
        chain_id: new.network.chain_id,
        token_symbol: new.token.symbol.clone(),
        token_address: new.token.contract_address,
        decimals: new.token.decimals,
        deposit_address: new.network.deposit_address,
        product_id: new.product_id.clone(),
        description: new.description.clone(),
        requested_units: new.requested.units,
        state: Session::new(amount, new.expires_at),
        reserved: true,
        user_id: new.user_id,
        points: new.points,
        webhook_url: new.webhook_url.clone(),
        metadata: new.metadata.clone(),
        confirmations_required: new.network.confirmations,
        creator: new.creator.clone(),
        created_at: new.now,
        paid_at: None,
        updated_at: new.now,
    }
}
