//! Model price rules: every change is a new version; nothing is updated in
//! place, so the history is the table.

use crate::transaction::{begin_write, finish, retrying};
use crate::{now_ms, Dialect, Store, StoreError};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use tollway_core::pricing::{Price, PriceRule};

/// A stored price rule version with its audit fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredRule {
    /// The rule.
    pub rule: PriceRule,
    /// Asset the prices are in.
    pub asset: String,
    /// Why it changed.
    pub note: String,
    /// Who changed it (user id), if known.
    pub changed_by: Option<i64>,
    /// When it was recorded.
    pub created_at: i64,
}

/// A new version to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRule {
    /// Model name, or `*` for the default.
    pub model: String,
    /// Asset code.
    pub asset: String,
    /// Input price per 1k tokens.
    pub input_per_1k: Price,
    /// Output price per 1k tokens.
    pub output_per_1k: Price,
    /// From when it applies; `None` for now.
    pub effective_from: Option<i64>,
    /// False to withdraw the model.
    pub active: bool,
    /// Why.
    pub note: String,
    /// Who.
    pub changed_by: Option<i64>,
}

fn parse_price(row: &AnyRow, col: &str) -> Result<Price, StoreError> {
    let text: String = row.try_get(col)?;
    text.parse::<u128>().map(Price).map_err(|_| StoreError::Corrupt(format!("price {col}")))
}

fn from_row(row: &AnyRow) -> Result<StoredRule, StoreError> {
    Ok(StoredRule {
        rule: PriceRule {
            model: row.try_get("model")?,
            version: row.try_get("version")?,
            input_per_1k: parse_price(row, "input_per_1k")?,
            output_per_1k: parse_price(row, "output_per_1k")?,
            effective_from: row.try_get("effective_from")?,
            active: row.try_get::<i64, _>("active")? != 0,
        },
        asset: row.try_get("asset")?,
        note: row.try_get("note")?,
        changed_by: row.try_get("changed_by")?,
        created_at: row.try_get("created_at")?,
    })
}

const COLUMNS: &str = "model, version, asset, input_per_1k, output_per_1k, effective_from, active, note, \
    changed_by, created_at";

impl Store {
    /// Every version of every rule, by model then version.
    pub async fn price_rules(&self) -> Result<Vec<StoredRule>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM price_rules ORDER BY model, version"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Every version of one model's rule.
    pub async fn price_history(&self, model: &str) -> Result<Vec<StoredRule>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM price_rules WHERE model = $1 ORDER BY version"))
            .bind(model)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Records a new version (the next number for the model). Model names
    /// match case-insensitively (ASCII), so a name that differs from an
    /// existing model only in case is refused (`Conflict`): `GPT-4` cannot
    /// be priced apart from `gpt-4`. Price changes are serialised (SQLite's
    /// write lock; a table lock on PostgreSQL), so two spellings cannot
    /// both be created by racing.
    pub async fn add_price_version(&self, new: &NewRule) -> Result<StoredRule, StoreError> {
        retrying("price change", || self.try_add_price_version(new)).await
    }

    async fn try_add_price_version(&self, new: &NewRule) -> Result<StoredRule, StoreError> {
        let mut conn = begin_write(self).await?;
        let result = insert_version(&mut conn, self.dialect(), new).await;
        finish(conn, result).await
    }
}

/// The spelling an existing model has when `model` differs from it only
/// in case, if any.
pub fn other_spelling<'a>(models: impl IntoIterator<Item = &'a str>, model: &str) -> Option<&'a str> {
    models.into_iter().find(|m| *m != model && m.eq_ignore_ascii_case(model))
}

async fn insert_version(conn: &mut AnyConnection, dialect: Dialect, new: &NewRule) -> Result<StoredRule, StoreError> {
    if dialect == Dialect::Postgres {
        sqlx::query("LOCK TABLE price_rules IN SHARE ROW EXCLUSIVE MODE").execute(&mut *conn).await?;
    }
    let models: Vec<String> = sqlx::query("SELECT DISTINCT model FROM price_rules")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get("model"))
        .collect::<Result<_, _>>()?;
    if let Some(taken) = other_spelling(models.iter().map(String::as_str), &new.model) {
        return Err(StoreError::Conflict(format!(
            "model {:?} differs from the priced model {taken:?} only in case; names match case-insensitively, use {taken:?}",
            new.model
        )));
    }
    let now = now_ms();
    let row = sqlx::query(&format!(
        "INSERT INTO price_rules ({COLUMNS}) \
         SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9 \
         FROM price_rules WHERE model = $1 RETURNING {COLUMNS}"
    ))
    .bind(&new.model)
    .bind(&new.asset)
    .bind(new.input_per_1k.0.to_string())
    .bind(new.output_per_1k.0.to_string())
    .bind(new.effective_from.unwrap_or(now))
    .bind(i64::from(new.active))
    .bind(&new.note)
    .bind(new.changed_by)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    from_row(&row)
}
