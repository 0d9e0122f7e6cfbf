//! Admin endpoints: users and keys, apps, points grants and adjustments,
//! model prices with history, consumption monitor, unknown usage, arrears,
//! ledger audit.

use crate::auth::Admin;
use crate::ops;
use crate::{ApiError, AppState};
use super::extract::{body, JsonBody, Path, Query};
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tollway_core::ledger::Reason;
use tollway_core::{Amount, Asset};
use tollway_store::directory::User;
use tollway_store::prices::StoredRule;
use tollway_store::usage::UsageEvent;
use utoipa::{IntoParams, ToSchema};

/// A user as admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    id: i64,
    handle: String,
    role: String,
    enabled: bool,
    created_at: i64,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView { id: u.id, handle: u.handle, role: u.role, enabled: u.enabled, created_at: u.created_at }
    }
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Unique handle (also the `user_id` apps report).
    handle: String,
    /// Make an administrator.
    #[serde(default)]
    admin: bool,
}

/// A created user and its first API key (shown only here).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUser {
    user: UserView,
    api_key: String,
}

/// Creates a user with a first API key.
#[utoipa::path(post, path = "/api/admin/users", tag = "admin", request_body = NewUser, security(("api_key" = [])),
    responses((status = 200, body = CreatedUser), (status = 409, description = "`already_exists`", body = crate::error::ErrorBody),
              (status = 422, description = "`invalid_field`: a handle must be 1-64 of [A-Za-z0-9_.@-]", body = crate::error::ErrorBody)))]
pub async fn create_user(State(s): State<AppState>, _: Admin, b: JsonBody<NewUser>) -> Result<Json<CreatedUser>, ApiError> {
    let req = body(b)?;
    let (user, api_key) = ops::create_user(&s.store, &req.handle, req.admin).await?;
    Ok(Json(CreatedUser { user: user.into(), api_key }))
}

/// Paging by id.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Return items after this id / before this cursor.
    cursor: Option<i64>,
    /// Page size, 1-500.
    limit: Option<i64>,
}

fn limit(p: &Page) -> Result<i64, ApiError> {
    let l = p.limit.unwrap_or(100);
    if (1..=500).contains(&l) {
        Ok(l)
    } else {
        Err(ApiError::bad_request("invalid_query", "limit must be 1-500"))
    }
}

/// Lists users.
#[utoipa::path(get, path = "/api/admin/users", tag = "admin", params(Page), security(("api_key" = [])),
    responses((status = 200, body = [UserView])))]
pub async fn list_users(State(s): State<AppState>, _: Admin, Query(p): Query<Page>) -> Result<Json<Vec<UserView>>, ApiError> {
    let users = s.store.users(p.cursor.unwrap_or(0), limit(&p)?).await?;
    Ok(Json(users.into_iter().map(UserView::from).collect()))
}

/// A change to a user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// Enable or disable.
    enabled: bool,
}

/// Enables or disables a user.
#[utoipa::path(patch, path = "/api/admin/users/{id}", tag = "admin", request_body = UserPatch, security(("api_key" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = UserView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn patch_user(State(s): State<AppState>, _: Admin, Path(id): Path<i64>, b: JsonBody<UserPatch>) -> Result<Json<UserView>, ApiError> {
    let req = body(b)?;
    Ok(Json(s.store.set_user_enabled(id, req.enabled).await?.into()))
}

/// A new key's label.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewKey {
    /// What the key is for.
    #[serde(default)]
    label: String,
}

/// A new API key (shown only here).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    /// Its id (for limits).
    key_id: i64,
    api_key: String,
}

/// Issues another API key for a user.
#[utoipa::path(post, path = "/api/admin/users/{id}/keys", tag = "admin", request_body = NewKey, security(("api_key" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = CreatedKey), (status = 404, body = crate::error::ErrorBody)))]
pub async fn create_key(State(s): State<AppState>, _: Admin, Path(id): Path<i64>, b: JsonBody<NewKey>) -> Result<Json<CreatedKey>, ApiError> {
    let req = body(b)?;
    s.store.user(id).await?.ok_or_else(|| ApiError::not_found("unknown_user", format!("no user {id}")))?;
    let api_key = ops::new_secret("tw_");
    let key_id = s.store.add_api_key(id, &api_key, &req.label).await?;
    Ok(Json(CreatedKey { key_id, api_key }))
}

/// A new reporting app.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApp {
    /// Unique name.
    name: String,
}

/// A registered app and its credentials (shown only here).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApp {
    app_id: i64,
    /// Send as `X-Tollway-Key`.
    api_key: String,
    /// HMAC key for `X-Tollway-Signature`.
    signing_secret: String,
}

/// Registers an app (a Dify relay) that reports usage.
#[utoipa::path(post, path = "/api/admin/apps", tag = "admin", request_body = NewApp, security(("api_key" = [])),
    responses((status = 200, body = CreatedApp), (status = 409, description = "`already_exists`", body = crate::error::ErrorBody),
              (status = 422, description = "`invalid_field`: a name must be 1-64 characters", body = crate::error::ErrorBody)))]
pub async fn create_app(State(s): State<AppState>, _: Admin, b: JsonBody<NewApp>) -> Result<Json<CreatedApp>, ApiError> {
    let req = body(b)?;
    let (app_id, api_key, signing_secret) = ops::create_app(&s.store, &req.name).await?;
    Ok(Json(CreatedApp { app_id, api_key, signing_secret }))
}

/// A grant or adjustment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointsChange {
    /// User handle.
    user: String,
    /// Whole points as a decimal string; for adjust, may start with `-`.
    amount: String,
    /// Why (required, kept in the ledger).
    reason: String,
    /// Idempotency key, 1-64 of `[A-Za-z0-9._-]`, shared by grants and
    /// adjustments: a retry with the same id and fields does nothing more;
    /// the same id with any other field is 409 `idempotency_conflict`.
    id: String,
}

/// Balance after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct PointsChanged {
    balance: String,
    arrears: String,
}

async fn change(s: &AppState, req: PointsChange, reason: Reason) -> Result<Json<PointsChanged>, ApiError> {
    let user = s
        .store
        .user_by_handle(&req.user)
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_user", format!("no user with handle {:?}", req.user)))?;
    if reason == Reason::Grant && req.amount.starts_with('-') {
        return Err(ApiError::unprocessable("invalid_amount", "a grant must be positive; use adjust to deduct"));
    }
    let (balance, arrears) = ops::adjust_points(&s.store, &s.writer, &user, &req.amount, &req.reason, &req.id, reason).await?;
    Ok(Json(PointsChanged { balance: balance.to_string(), arrears: arrears.to_string() }))
}

/// Grants points (repaying arrears first).
#[utoipa::path(post, path = "/api/admin/points/grant", tag = "admin", request_body = PointsChange, security(("api_key" = [])),
    responses((status = 200, body = PointsChanged), (status = 404, description = "`unknown_user`", body = crate::error::ErrorBody),
              (status = 409, description = "`exists_with_different_fields` (the id was used for another change)", body = crate::error::ErrorBody),
              (status = 422, description = "`invalid_amount`, `invalid_field`", body = crate::error::ErrorBody)))]
pub async fn grant(State(s): State<AppState>, _: Admin, b: JsonBody<PointsChange>) -> Result<Json<PointsChanged>, ApiError> {
    change(&s, body(b)?, Reason::Grant).await
}

/// Adjusts points up or down.
#[utoipa::path(post, path = "/api/admin/points/adjust", tag = "admin", request_body = PointsChange, security(("api_key" = [])),
    responses((status = 200, body = PointsChanged), (status = 404, description = "`unknown_user`", body = crate::error::ErrorBody),
              (status = 409, description = "`insufficient_points`, `exists_with_different_fields`", body = crate::error::ErrorBody),
              (status = 422, description = "`invalid_amount`, `invalid_field`", body = crate::error::ErrorBody)))]
pub async fn adjust(State(s): State<AppState>, _: Admin, b: JsonBody<PointsChange>) -> Result<Json<PointsChanged>, ApiError> {
    change(&s, body(b)?, Reason::Adjust).await
}

/// A price rule version.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleView {
    model: String,
    version: i64,
    /// Points per 1,000 input tokens.
    input_per_1k: String,
    /// Points per 1,000 output tokens.
    output_per_1k: String,
    effective_from: i64,
    active: bool,
    note: String,
    changed_by: Option<i64>,
    created_at: i64,
}

impl From<StoredRule> for RuleView {
    fn from(r: StoredRule) -> Self {
        RuleView {
            model: r.rule.model,
            version: r.rule.version,
            input_per_1k: r.rule.input_per_1k.format(Asset::POINTS),
            output_per_1k: r.rule.output_per_1k.format(Asset::POINTS),
            effective_from: r.rule.effective_from,
            active: r.rule.active,
            note: r.note,
            changed_by: r.changed_by,
            created_at: r.created_at,
        }
    }
}

/// Latest version of every model's rule (including withdrawn ones).
#[utoipa::path(get, path = "/api/admin/models", tag = "admin", security(("api_key" = [])), responses((status = 200, body = [RuleView])))]
pub async fn list_models(State(s): State<AppState>, _: Admin) -> Result<Json<Vec<RuleView>>, ApiError> {
    let mut latest: BTreeMap<String, StoredRule> = BTreeMap::new();
    for r in s.store.price_rules().await? {
        latest.insert(r.rule.model.clone(), r);
    }
    Ok(Json(latest.into_values().map(RuleView::from).collect()))
}

/// A new price for a model.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceChange {
    /// Points per 1,000 input tokens (decimal string, up to 6 decimals).
    input_per_1k: String,
    /// Points per 1,000 output tokens.
    output_per_1k: String,
    /// From when (Unix ms); default now.
    effective_from: Option<i64>,
    /// Why.
    #[serde(default)]
    note: String,
}

/// Sets a model's price (a new version). Use model `*` for the default rule.
#[utoipa::path(put, path = "/api/admin/models/{model}", tag = "admin", request_body = PriceChange, security(("api_key" = [])),
    params(("model" = String, Path, description = "Model name, or * for the default rule")),
    responses((status = 200, body = RuleView), (status = 422, body = crate::error::ErrorBody)))]
pub async fn set_model(
    State(s): State<AppState>,
    Admin(admin): Admin,
    Path(model): Path<String>,
    b: JsonBody<PriceChange>,
) -> Result<Json<RuleView>, ApiError> {
    let req = body(b)?;
    let rule = ops::set_price(&s.store, &model, &req.input_per_1k, &req.output_per_1k, req.effective_from, true, &req.note, Some(admin.id)).await?;
    s.invalidate_prices().await;
    Ok(Json(rule.into()))
}

/// Withdraws a model (a new, inactive version; history is kept).
#[utoipa::path(delete, path = "/api/admin/models/{model}", tag = "admin", security(("api_key" = [])),
    params(("model" = String, Path, description = "Model name")),
    responses((status = 200, body = RuleView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn delete_model(State(s): State<AppState>, Admin(admin): Admin, Path(model): Path<String>) -> Result<Json<RuleView>, ApiError> {
    if s.store.price_history(&model).await?.is_empty() {
        return Err(ApiError::not_found("unknown_model", format!("no price for {model:?}")));
    }
    let rule = ops::set_price(&s.store, &model, "0", "0", None, false, "withdrawn", Some(admin.id)).await?;
    s.invalidate_prices().await;
    Ok(Json(rule.into()))
}

/// Every version of a model's price.
#[utoipa::path(get, path = "/api/admin/models/{model}/history", tag = "admin", security(("api_key" = [])),
    params(("model" = String, Path, description = "Model name")), responses((status = 200, body = [RuleView])))]
pub async fn model_history(State(s): State<AppState>, _: Admin, Path(model): Path<String>) -> Result<Json<Vec<RuleView>>, ApiError> {
    Ok(Json(s.store.price_history(&model).await?.into_iter().map(RuleView::from).collect()))
}

/// Recent usage events, newest first.
#[utoipa::path(get, path = "/api/admin/consumption/recent", tag = "admin", params(Page), security(("api_key" = [])),
    responses((status = 200, body = [serde_json::Value])))]
pub async fn recent(State(s): State<AppState>, _: Admin, Query(p): Query<Page>) -> Result<Json<Vec<UsageEvent>>, ApiError> {
    Ok(Json(s.store.usage_events(None, p.cursor, limit(&p)?).await?))
}

/// Usage events with all-zero usage, for review.
#[utoipa::path(get, path = "/api/admin/usage-unknown", tag = "admin", params(Page), security(("api_key" = [])),
    responses((status = 200, body = [serde_json::Value])))]
pub async fn usage_unknown(State(s): State<AppState>, _: Admin, Query(p): Query<Page>) -> Result<Json<Vec<UsageEvent>>, ApiError> {
    Ok(Json(s.store.usage_events(Some("usage_unknown"), p.cursor, limit(&p)?).await?))
}

/// Hours to aggregate.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Hours {
    /// 1-720, default 24.
    hours: Option<i64>,
}

/// Totals for one model in one hour.
#[derive(Debug, Serialize, ToSchema)]
pub struct HourlyTotal {
    /// Start of the hour (Unix ms).
    hour: i64,
    model: String,
    /// Usage events reported by apps (Dify).
    events: u64,
    /// Requests served by the gateway.
    requests: u64,
    input_tokens: i64,
    output_tokens: i64,
    /// Points charged (decimal string).
    charged: String,
    /// Points booked as arrears.
    shortfall: String,
}

/// Totals per model per hour, of app usage events and gateway requests.
#[utoipa::path(get, path = "/api/admin/consumption/hourly", tag = "admin", params(Hours), security(("api_key" = [])),
    responses((status = 200, body = [HourlyTotal])))]
pub async fn hourly(State(s): State<AppState>, _: Admin, Query(h): Query<Hours>) -> Result<Json<Vec<HourlyTotal>>, ApiError> {
    let hours = h.hours.unwrap_or(24);
    if !(1..=720).contains(&hours) {
        return Err(ApiError::bad_request("invalid_query", "hours must be 1-720"));
    }
    let now = tollway_store::now_ms();
    let (from, to) = (now - hours * 3_600_000, now + 1);
    let mut totals: BTreeMap<(i64, String), HourlyTotal> = BTreeMap::new();
    let mut add = |at: i64, model: &str, request: bool, input: i64, output: i64, charged: Amount, shortfall: Amount| {
        let hour = at - at.rem_euclid(3_600_000);
        let t = totals.entry((hour, model.to_owned())).or_insert_with(|| HourlyTotal {
            hour,
            model: model.to_owned(),
            events: 0,
            requests: 0,
            input_tokens: 0,
            output_tokens: 0,
            charged: "0".into(),
            shortfall: "0".into(),
        });
        let sum = |acc: &str, v: Amount| Amount::from_units_str(acc).unwrap_or_default().checked_add(v).unwrap_or(Amount::MAX).to_string();
        if request {
            t.requests += 1;
        } else {
            t.events += 1;
        }
        t.input_tokens = t.input_tokens.saturating_add(input);
        t.output_tokens = t.output_tokens.saturating_add(output);
        t.charged = sum(&t.charged, charged);
        t.shortfall = sum(&t.shortfall, shortfall);
    };
    // Page by page: memory holds one page and the totals, however many
    // rows the window has.
    let mut after = 0;
    loop {
        let page = s.store.usage_events_between(from, to, after, MONITOR_PAGE).await?;
        for e in &page {
            add(e.created_at, &e.draft.model, false, e.draft.input_tokens, e.draft.output_tokens, e.charged, e.shortfall);
        }
        match page.last() {
            Some(e) if page.len() as i64 == MONITOR_PAGE => after = e.seq,
            _ => break,
        }
    }
    let mut after = 0;
    loop {
        let page = s.store.requests_between(from, to, after, MONITOR_PAGE).await?;
        for r in &page {
            let r = &r.record;
            add(r.created_at, &r.model, true, r.input_tokens, r.output_tokens, r.cost, Amount::ZERO);
        }
        match page.last() {
            Some(r) if page.len() as i64 == MONITOR_PAGE => after = r.seq,
            _ => break,
        }
    }
    Ok(Json(totals.into_values().collect()))
}

/// Rows the hourly monitor reads per page.
const MONITOR_PAGE: i64 = 1_000;

/// A user who owes arrears.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArrearsView {
    user_id: i64,
    /// Owed points (decimal string).
    owed: String,
}

/// Users with outstanding arrears.
#[utoipa::path(get, path = "/api/admin/arrears", tag = "admin", security(("api_key" = [])), responses((status = 200, body = [ArrearsView])))]
pub async fn arrears(State(s): State<AppState>, _: Admin) -> Result<Json<Vec<ArrearsView>>, ApiError> {
    let accounts = s.store.accounts_matching("user/", "/POINTS/arrears").await?;
    let owed = accounts
        .into_iter()
        .filter(|a| !a.owed().is_zero())
        .filter_map(|a| {
            let id = a.id.0.split('/').nth(1)?.parse().ok()?;
            Some(ArrearsView { user_id: id, owed: a.owed().to_string() })
        })
        .collect();
    Ok(Json(owed))
}

/// The result of replaying the ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    accounts: usize,
    transfers: usize,
    ok: bool,
    violation: Option<String>,
}

/// Replays every transfer and checks every ledger invariant.
#[utoipa::path(get, path = "/api/admin/ledger/audit", tag = "admin", security(("api_key" = [])), responses((status = 200, body = AuditView)))]
pub async fn audit(State(s): State<AppState>, _: Admin) -> Result<Json<AuditView>, ApiError> {
    let a = s.store.audit().await?;
    Ok(Json(AuditView { accounts: a.accounts, transfers: a.transfers, ok: a.violation.is_none(), violation: a.violation.map(|v| v.to_string()) }))
}

