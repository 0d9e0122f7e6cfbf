//! The pool (`hub_cells`): cells added free, leased by compare-and-set on
//! `state = 'free'` (the number of rows changed tells who won), released
//! when what leased them ends, spent when it commits. Leases are taken and
//! ended only inside the transactions of the payments, payouts and
//! rebalances that hold them.

use super::rows::{cell_from, CellState, HubCell};
use super::{check_cells, refused, signed, unsigned, HubStoreError};
use crate::{Store, StoreError};
use sqlx::{AnyConnection, Row};

/// In which order [`Store::free_hub_cells`] lists free cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellOrder {
    /// Shuffled: concurrent requests pick different cells.
    Random,
    /// The smallest first (cells to merge).
    SmallestFirst,
    /// The largest first (cells to pay out from, or to split).
    LargestFirst,
}

/// The pool's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Free cells.
    pub free_cells: u64,
    /// Their capacity, shannons.
    pub free_capacity: u64,
    /// Cells leased to open payments, payouts and rebalances.
    pub leased_cells: u64,
    /// Their capacity, shannons.
    pub leased_capacity: u64,
}

impl Store {
    /// Adds cells of the hub's to the pool, free. Cells it knows already
    /// (in any state) are left as they are, so adding twice is harmless.
    /// Returns how many were new.
    pub async fn add_hub_cells(&self, cells: &[(String, u64)], now: i64) -> Result<u64, StoreError> {
        check_cells("hub cell", cells.iter().map(|(c, _)| c.as_str()))?;
        let mut conn = self.pool().acquire().await?;
        add_free(&mut conn, cells, now).await
    }

    /// Up to `limit` free cells, in `order`.
    pub async fn free_hub_cells(&self, order: CellOrder, limit: i64) -> Result<Vec<HubCell>, StoreError> {
        let order = match order {
            CellOrder::Random => "RANDOM()",
            CellOrder::SmallestFirst => "capacity, out_point",
            CellOrder::LargestFirst => "capacity DESC, out_point",
        };
        let rows = sqlx::query(&format!("SELECT * FROM hub_cells WHERE state = $1 ORDER BY {order} LIMIT $2"))
            .bind(CellState::Free.name())
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(cell_from).collect()
    }

    /// One cell of the pool.
    pub async fn hub_cell(&self, out_point: &str) -> Result<Option<HubCell>, StoreError> {
        let row = sqlx::query("SELECT * FROM hub_cells WHERE out_point = $1").bind(out_point).fetch_optional(self.pool()).await?;
        row.as_ref().map(cell_from).transpose()
    }

    /// How many cells are free and leased, and their capacity.
    pub async fn hub_pool_stats(&self) -> Result<PoolStats, StoreError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS cells, CAST(COALESCE(SUM(capacity), 0) AS BIGINT) AS capacity FROM hub_cells \
             WHERE state <> $1 GROUP BY state",
        )
        .bind(CellState::Spent.name())
        .fetch_all(self.pool())
        .await?;
        let mut stats = PoolStats::default();
        for row in &rows {
            let (cells, capacity) = (unsigned(row, "cells")?, unsigned(row, "capacity")?);
            match CellState::parse(&row.try_get::<String, _>("state")?) {
                Some(CellState::Free) => (stats.free_cells, stats.free_capacity) = (cells, capacity),
                Some(CellState::Leased) => (stats.leased_cells, stats.leased_capacity) = (cells, capacity),
                _ => return Err(StoreError::Corrupt("hub cell state".into())),
            }
        }
        Ok(stats)
    }
}

/// Inserts `cells` free; known ones are left alone. Returns how many were
/// new.
pub(super) async fn add_free(conn: &mut AnyConnection, cells: &[(String, u64)], now: i64) -> Result<u64, StoreError> {
    let mut added = 0;
    for (out_point, capacity) in cells {
        added += sqlx::query(
            "INSERT INTO hub_cells (out_point, capacity, state, lease, created_at, updated_at) VALUES ($1, $2, $3, NULL, $4, $4) \
             ON CONFLICT (out_point) DO NOTHING",
        )
        .bind(out_point)
        .bind(signed(*capacity, "cell capacity")?)
        .bind(CellState::Free.name())
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(added)
}

/// Leases the free cell `out_point` to `lease` (compare-and-set on its
/// state): `pool_cell_taken` when it is leased or spent, `unknown_cell`
/// when the pool has no such cell.
pub(super) async fn lease(conn: &mut AnyConnection, out_point: &str, lease: &str, now: i64) -> Result<(), StoreError> {
    let won = sqlx::query("UPDATE hub_cells SET state = $1, lease = $2, updated_at = $3 WHERE out_point = $4 AND state = $5")
        .bind(CellState::Leased.name())
        .bind(lease)
        .bind(now)
        .bind(out_point)
        .bind(CellState::Free.name())
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if won == 1 {
        return Ok(());
    }
    let known = sqlx::query("SELECT 1 FROM hub_cells WHERE out_point = $1").bind(out_point).fetch_optional(&mut *conn).await?;
    refused(if known.is_some() { HubStoreError::PoolCellTaken } else { HubStoreError::UnknownCell })
}

/// Frees the cells leased to `lease`; returns how many.
pub(super) async fn release(conn: &mut AnyConnection, lease: &str, now: i64) -> Result<u64, StoreError> {
    end_lease(conn, lease, CellState::Free, now).await
}

/// Marks the cells leased to `lease` spent (the lease stays, as who spent
/// them); returns how many.
pub(super) async fn spend(conn: &mut AnyConnection, lease: &str, now: i64) -> Result<u64, StoreError> {
    end_lease(conn, lease, CellState::Spent, now).await
}

async fn end_lease(conn: &mut AnyConnection, lease: &str, to: CellState, now: i64) -> Result<u64, StoreError> {
    let kept = (to == CellState::Spent).then_some(lease);
    let done = sqlx::query("UPDATE hub_cells SET state = $1, lease = $2, updated_at = $3 WHERE lease = $4 AND state = $5")
        .bind(to.name())
        .bind(kept)
        .bind(now)
        .bind(lease)
        .bind(CellState::Leased.name())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}
