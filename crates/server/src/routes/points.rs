//! The user's points API: balance, estimate, check-balance (with an
//! optional reservation), history (JSON pages or CSV).

use crate::auth::CurrentUser;
use crate::{ApiError, AppState};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tollway_core::ledger::{
    AccountId, ChainError, Command, Links, Operation, Reason, Transfer, TransferError, TransferId, TransferKind,
    TransferRequest, CLIENT_KEY_RULE,
};
use tollway_core::pricing::PriceRule;
use tollway_core::usage::{TokenUsage, MAX_TOKENS};
use tollway_core::{Amount, Asset};
use futures::StreamExt;
use tollway_store::history::{HistoryEntry, HistoryFilter};
use tollway_store::Submission;
use utoipa::{IntoParams, ToSchema};

const P: Asset = Asset::POINTS;

/// A user's points position.
#[derive(Debug, Serialize, ToSchema)]
pub struct Balance {
    /// Posted balance (decimal string).
    balance: String,
    /// Balance minus open reservations.
    available: String,
    /// Owed from charges the balance could not cover; blocks reservations.
    arrears: String,
}

pub(crate) async fn position(state: &AppState, user_id: i64) -> Result<(Amount, Amount, Amount), ApiError> {
    let wallet = state.store.account(&AccountId::user_wallet(user_id, P)).await?;
    let owed = state.store.account(&AccountId::user_arrears(user_id, P)).await?;
    let (balance, available) = wallet.map(|w| (w.balance(), w.available())).unwrap_or_default();
    Ok((balance, available, owed.map(|a| a.owed()).unwrap_or_default()))
}

/// The caller's balance.
#[utoipa::path(get, path = "/api/user/points/balance", tag = "points", security(("api_key" = [])),
    responses((status = 200, body = Balance), (status = 401, body = crate::error::ErrorBody)))]
pub async fn balance(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> Result<Json<Balance>, ApiError> {
    let (balance, available, arrears) = position(&state, user.id).await?;
    Ok(Json(Balance { balance: balance.to_string(), available: available.to_string(), arrears: arrears.to_string() }))
}

/// Model and token counts to price.
#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct EstimateQuery {
    /// Model name.
    model: String,
    /// Prompt tokens.
    input_tokens: u64,
    /// Completion tokens.
    output_tokens: u64,
}

/// A priced estimate.
#[derive(Debug, Serialize, ToSchema)]
pub struct Estimate {
    /// Model priced.
    model: String,
    /// Rule that priced it (`*` for the default rule).
    rule: String,
    /// Its version.
    price_version: i64,
    /// Points per 1,000 input tokens (decimal string).
    input_per_1k: String,
    /// Points per 1,000 output tokens (decimal string).
    output_per_1k: String,
    /// Cost, rounded up to a whole point (decimal string).
    estimated_cost: String,
}

fn check_tokens(usage: TokenUsage) -> Result<TokenUsage, ApiError> {
    if usage.input > MAX_TOKENS || usage.output > MAX_TOKENS {
        return Err(ApiError::unprocessable("invalid_tokens", format!("token counts must be at most {MAX_TOKENS}")));
    }
    Ok(usage)
}

async fn price(state: &AppState, model: &str, usage: TokenUsage) -> Result<(PriceRule, Amount), ApiError> {
    let usage = check_tokens(usage)?;
    let rule = state.rule_for(model).await?;
    let cost = rule.cost(usage).map_err(|e| ApiError::unprocessable("amount_overflow", e.to_string()))?;
    Ok((rule, cost))
}

/// Prices a call without touching the balance.
#[utoipa::path(get, path = "/api/user/points/estimate", tag = "points", params(EstimateQuery), security(("api_key" = [])),
    responses((status = 200, body = Estimate), (status = 400, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn estimate(
    State(state): State<AppState>,
    CurrentUser(_): CurrentUser,
    query: Result<Query<EstimateQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Estimate>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let (rule, cost) = price(&state, &q.model, TokenUsage { input: q.input_tokens, output: q.output_tokens }).await?;
    Ok(Json(Estimate {
        model: q.model,
        rule: rule.model.clone(),
        price_version: rule.version,
        input_per_1k: rule.input_per_1k.format(P),
        output_per_1k: rule.output_per_1k.format(P),
        estimated_cost: cost.to_string(),
    }))
}

/// What the caller is about to spend.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBalanceRequest {
    /// Model name.
    model: String,
    /// Expected prompt tokens.
    input_tokens: u64,
    /// Expected completion tokens.
    output_tokens: u64,
    /// Hold the estimated cost until the usage is reported.
    #[serde(default)]
    reserve: bool,
    /// Reservation lifetime in seconds (1-86400; default from config).
    reservation_ttl_secs: Option<u32>,
    /// Client-chosen reservation id (idempotency key within the caller's
    /// own reservations), 1-64 of `[A-Za-z0-9._-]`.
    reservation_id: Option<String>,
}

/// A reservation: a hold on the estimated cost.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reservation {
    /// Pass this as `reservation_id` with the usage report.
    id: String,
    /// Held points (decimal string).
    amount: String,
    /// When the hold lapses (Unix ms).
    expires_at: i64,
}

/// Whether the call can go ahead.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckBalanceResponse {
    /// True when the balance covers the estimate and nothing is owed (and,
    /// if asked, the reservation was made).
    can_proceed: bool,
    /// Posted balance.
    balance: String,
    /// Balance minus open reservations.
    available: String,
    /// Estimated cost.
    estimated_cost: String,
    /// What a top-up must bring for the call to proceed (arrears plus cost
    /// minus available; 0 when it can proceed).
    shortfall: String,
    /// Owed arrears; any arrears block new reservations.
    arrears: String,
    /// Why it cannot proceed: `insufficient_points` or `arrears_outstanding`.
    reason: Option<String>,
    /// The hold, when `reserve` was asked and granted.
    reservation: Option<Reservation>,
}

/// 409 for a reservation id reused with other terms, naming the request
/// field that differs (the hold's `amount` and `memo` come from the model
/// and the token counts).
fn reservation_conflict(field: &'static str) -> ApiError {
    let field = match field {
        "amount" | "memo" => "input_tokens/output_tokens",
        "timeout_secs" => "reservation_ttl_secs",
        "model" => "model",
        _ => "reservation_id",
    };
    ApiError::conflict(
        "idempotency_conflict",
        format!("reservation_id was already used with a different {field}; use a new reservation_id"),
    )
    .with_field(field)
}

fn new_reservation_id() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let suffix: String = (0..24).map(|_| char::from(rng.sample(rand::distributions::Alphanumeric))).collect();
    format!("rsv_{suffix}")
}

/// Checks the balance against an estimate and optionally reserves it.
#[utoipa::path(post, path = "/api/user/points/check-balance", tag = "points", request_body = CheckBalanceRequest,
    security(("api_key" = [])),
    responses((status = 200, body = CheckBalanceResponse), (status = 400, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn check_balance(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    body: Result<Json<CheckBalanceRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<CheckBalanceResponse>, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad_request("malformed_json", e.body_text()))?;
    let (_, cost) = price(&state, &req.model, TokenUsage { input: req.input_tokens, output: req.output_tokens }).await?;
    let ttl = req.reservation_ttl_secs.unwrap_or(state.config.reservation_ttl_secs);
    if !(1..=86_400).contains(&ttl) {
        return Err(ApiError::unprocessable("invalid_field", "reservation_ttl_secs must be 1-86400"));
    }
    let (mut balance, mut available, arrears) = position(&state, user.id).await?;
    let mut reason = if !arrears.is_zero() {
        Some("arrears_outstanding")
    } else if available < cost {
        Some("insufficient_points")
    } else {
        None
    };
    let mut reservation = None;
    if req.reserve && reason.is_none() && !cost.is_zero() {
        let key = req.reservation_id.clone().unwrap_or_else(new_reservation_id);
        let id = TransferId::reservation(user.id, &key)
            .ok_or_else(|| ApiError::unprocessable("invalid_field", format!("reservation_id must be {CLIENT_KEY_RULE}")))?;
        let hold = TransferRequest {
            id,
            op: Operation::Hold {
                debit: AccountId::user_wallet(user.id, P),
                credit: AccountId::revenue(P),
                amount: cost,
                timeout_secs: ttl,
            },
            reason: Reason::Reservation,
            links: Links {
                user_id: Some(user.id),
                model: Some(req.model.clone()),
                memo: Some(format!("estimate {} in, {} out", req.input_tokens, req.output_tokens)),
                ..Links::default()
            },
        };
        // The arrears check and the hold are one step under the ledger's lock.
        let command = Command::Guarded { unowed: AccountId::user_arrears(user.id, P), chain: vec![hold] };
        let outcome = state.writer.submit(Submission { command, record: None }).await?;
        if let Some(wallet) = outcome.accounts.iter().find(|a| a.id == AccountId::user_wallet(user.id, P)) {
            (balance, available) = (wallet.balance(), wallet.available());
        }
        match outcome.result {
            Ok(applied) => {
                let t = applied[0].transfer();
                let expires_at = match t.kind {
                    TransferKind::Pending { expires_at, .. } => expires_at,
                    _ => 0,
                };
                reservation = Some(Reservation { id: key, amount: t.amount.to_string(), expires_at });
            }
            Err(e) if e.error == TransferError::ExceedsCredits => reason = Some("insufficient_points"),
            Err(e) if e.error == TransferError::ArrearsOutstanding => reason = Some("arrears_outstanding"),
            Err(ChainError { error: TransferError::ExistsWithDifferentFields { field }, .. }) => {
                return Err(reservation_conflict(field))
            }
            Err(e) => return Err(ApiError::conflict(e.error.code(), e.error.to_string())),
        }
    }
    // What a top-up must bring for the call to proceed: grants repay
    // arrears first, then cover the cost.
    let needed = arrears.checked_add(cost).unwrap_or(Amount::MAX);
    let shortfall = if reason.is_some() { needed.saturating_sub(available) } else { Amount::ZERO };
    Ok(Json(CheckBalanceResponse {
        can_proceed: reason.is_none(),
        balance: balance.to_string(),
        available: available.to_string(),
        estimated_cost: cost.to_string(),
        shortfall: shortfall.to_string(),
        arrears: arrears.to_string(),
        reason: reason.map(str::to_owned),
        reservation,
    }))
}

/// History filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Comma-separated types: grant, adjust, charge, reservation, arrears, arrears_repayment, expiry, purchase.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Only this model.
    model: Option<String>,
    /// From (inclusive): Unix ms or RFC 3339.
    from: Option<String>,
    /// To (exclusive): Unix ms or RFC 3339.
    to: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<i64>,
    /// Page size, 1-500 (default 50).
    limit: Option<i64>,
    /// `json` (default) or `csv`: every matching row from `cursor` on,
    /// streamed page by page (`limit` does not apply).
    #[param(inline)]
    format: Option<HistoryFormat>,
}

/// How history is answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HistoryFormat {
    /// Pages of JSON.
    #[default]
    Json,
    /// All of it as CSV.
    Csv,
}

/// One history line.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryItem {
    /// Transfer id.
    id: String,
    /// Position; pages are ordered by it, newest first.
    seq: i64,
    /// grant, adjust, charge, reservation, arrears, arrears_repayment, expiry.
    #[serde(rename = "type")]
    kind: String,
    /// single, pending, post, void, expire.
    transfer_kind: String,
    /// Amount moved or held (decimal string).
    amount: String,
    /// Effect on the balance: `+N`, `-N`, or `0` for holds and arrears.
    balance_effect: String,
    /// For reservations: pending, posted, voided, expired.
    status: Option<String>,
    /// Model charged.
    model: Option<String>,
    /// Message or request id.
    request_id: Option<String>,
    /// Price rule version applied.
    price_version: Option<i64>,
    /// Operator's note.
    memo: Option<String>,
    /// Unix ms.
    created_at: i64,
}

/// A page of history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    /// Items, newest first.
    items: Vec<HistoryItem>,
    /// Pass as `cursor` for the next page; null at the end.
    next_cursor: Option<i64>,
}

fn parse_time(text: Option<&str>, field: &str) -> Result<Option<i64>, ApiError> {
    let Some(text) = text else { return Ok(None) };
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(Some(ms));
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| Some(t.timestamp_millis()))
        .map_err(|_| ApiError::bad_request("invalid_query", format!("{field} must be Unix ms or RFC 3339")))
}

fn item(entry: &HistoryEntry, wallet: &AccountId) -> HistoryItem {
    let t: &Transfer = &entry.transfer;
    let moves = matches!(t.kind, TransferKind::Single | TransferKind::Post { .. });
    let effect = if !moves {
        "0".to_owned()
    } else if t.credit == *wallet {
        format!("+{}", t.amount)
    } else if t.debit == *wallet {
        format!("-{}", t.amount)
    } else {
        "0".to_owned()
    };
    HistoryItem {
        id: t.id.0.clone(),
        seq: entry.seq,
        kind: t.reason.as_str().to_owned(),
        transfer_kind: t.kind.as_str().to_owned(),
        amount: t.amount.to_string(),
        balance_effect: effect,
        status: entry.status.map(|s| s.as_str().to_owned()),
        model: t.links.model.clone(),
        request_id: t.links.request_id.clone(),
        price_version: t.links.price_version,
        memo: t.links.memo.clone(),
        created_at: t.timestamp,
    }
}

/// The caller's transfers, newest first, as JSON pages or CSV.
#[utoipa::path(get, path = "/api/user/points/history", tag = "points", params(HistoryQuery), security(("api_key" = [])),
    responses((status = 200, description = "A JSON page, or with `format=csv` every matching row as CSV (streamed)",
                content((HistoryPage = "application/json"), (String = "text/csv"))),
              (status = 400, body = crate::error::ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let reasons: Vec<String> = q.kind.as_deref().unwrap_or("").split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if let Some(bad) = reasons.iter().find(|r| Reason::parse(r).is_none()) {
        return Err(ApiError::bad_request("invalid_query", format!("unknown type {bad:?}")));
    }
    let filter = HistoryFilter {
        reasons,
        model: q.model.clone(),
        from: parse_time(q.from.as_deref(), "from")?,
        to: parse_time(q.to.as_deref(), "to")?,
    };
    let wallet = AccountId::user_wallet(user.id, P);
    if q.format.unwrap_or_default() == HistoryFormat::Csv {
        return csv_export(state, user.id, filter, q.cursor).await;
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("invalid_query", "limit must be 1-500"));
    }
    let entries = state.store.history(user.id, &filter, q.cursor, limit).await?;
    let items: Vec<HistoryItem> = entries.iter().map(|e| item(e, &wallet)).collect();
    let next_cursor = if items.len() as i64 == limit { items.last().map(|i| i.seq) } else { None };
    Ok(Json(HistoryPage { items, next_cursor }).into_response())
}

/// Rows of a CSV export read and sent per page.
pub const CSV_PAGE: i64 = 1_000;

/// The CSV export, streamed: the first page is read before answering (so a
/// storage error is still a JSON error), then each page is read when the
/// client has taken the previous one. Memory holds one page whatever the
/// history's length. A storage error after the answer started breaks the
/// connection, so a cut-off export never looks complete.
async fn csv_export(state: AppState, user_id: i64, filter: HistoryFilter, cursor: Option<i64>) -> Result<Response, ApiError> {
    let first = state.store.history(user_id, &filter, cursor, CSV_PAGE).await?;
    let wallet = AccountId::user_wallet(user_id, P);
    let head = csv_lines(&[], true, &wallet)?;
    let next = (first.len() as i64 == CSV_PAGE).then(|| first.last().map(|e| e.seq)).flatten();
    let body = csv_lines(&first, false, &wallet)?;
    let rest = futures::stream::try_unfold(next, move |next| {
        let (state, filter, wallet) = (state.clone(), filter.clone(), wallet.clone());
        async move {
            let Some(before) = next else { return Ok(None) };
            let page = state.store.history(user_id, &filter, Some(before), CSV_PAGE).await.map_err(|e| {
                tracing::error!(error = %e, user_id, "CSV export cut short");
                std::io::Error::other(e.to_string())
            })?;
            let next = (page.len() as i64 == CSV_PAGE).then(|| page.last().map(|e| e.seq)).flatten();
            let bytes = csv_lines(&page, false, &wallet).map_err(|e| std::io::Error::other(e.message))?;
            Ok(Some((bytes, next)))
        }
    });
    let stream = futures::stream::iter([Ok::<_, std::io::Error>(head), Ok(body)]).chain(rest);
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], axum::body::Body::from_stream(stream)).into_response())
}

/// CSV lines for `entries`, after the header line when `header`.
fn csv_lines(entries: &[HistoryEntry], header: bool, wallet: &AccountId) -> Result<Vec<u8>, ApiError> {
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    fn fail(e: impl std::fmt::Display) -> ApiError {
        ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    }
    if header {
        w.write_record(["seq", "id", "type", "transfer_kind", "amount", "balance_effect", "status", "model", "request_id", "price_version", "memo", "created_at"])
            .map_err(fail)?;
    }
    for i in entries.iter().map(|e| item(e, wallet)) {
        w.write_record([
            i.seq.to_string(),
            i.id,
            i.kind,
            i.transfer_kind,
            i.amount,
            i.balance_effect,
            i.status.unwrap_or_default(),
            i.model.unwrap_or_default(),
            i.request_id.unwrap_or_default(),
            i.price_version.map(|v| v.to_string()).unwrap_or_default(),
            i.memo.unwrap_or_default(),
            i.created_at.to_string(),
        ])
        .map_err(fail)?;
    }
    w.into_inner().map_err(fail)
}
