//! Row <-> domain conversions shared by the adapters.

use crate::{Dialect, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use tollway_core::Amount;

/// Reads a TEXT amount column.
pub(crate) fn amount(row: &AnyRow, col: &str) -> Result<Amount, StoreError> {
    let text: String = row.try_get(col)?;
    Amount::from_units_str(&text).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

/// Reads a nullable TEXT amount column.
pub(crate) fn opt_amount(row: &AnyRow, col: &str) -> Result<Option<Amount>, StoreError> {
    let text: Option<String> = row.try_get(col)?;
    text.map(|t| Amount::from_units_str(&t).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))).transpose()
}

/// `$1, $2, …, $n` starting after `offset` placeholders.
pub(crate) fn placeholders(offset: usize, n: usize) -> String {
    (offset + 1..=offset + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Placeholders for `n` parameters after `offset`, in the cheapest form for
/// the dialect: positional `?` on SQLite (binding thousands of numbered
/// parameters there costs time quadratic in their count), `$n` on
/// PostgreSQL. Only for statements whose parameters are all generated.
pub(crate) fn positional(dialect: Dialect, offset: usize, n: usize) -> String {
    match dialect {
        Dialect::Sqlite => vec!["?"; n].join(", "),
        Dialect::Postgres => placeholders(offset, n),
    }
}

/// The condition, order and limit of one page of a log table's rows
/// recorded in `[$1, $2)` after position `$3`, `$4` rows at most. It
/// walks the primary key (`seq`) from the window's first row, found through
/// the `created_at` index, so each page costs about its own rows, and the
/// caller holds one page at a time. The outer time terms are written
/// `+created_at` so neither database scans the whole window through the
/// `created_at` index (and sorts it) for every page.
pub(crate) fn time_window_page(table: &str) -> String {
    format!(
        "seq > $3 AND seq >= COALESCE((SELECT MIN(seq) FROM {table} WHERE created_at >= $1), {max}) \
         AND +created_at >= $1 AND +created_at < $2 ORDER BY seq LIMIT $4",
        max = i64::MAX
    )
}
