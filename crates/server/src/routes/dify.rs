//! `POST /api/dify/webhook`: usage reported by Dify (its own `message_end`)
//! or a relay, charged once per (app, message id); usage of a user who is
//! unknown or disabled is kept `unattributed` for an admin, never dropped.

use super::dify_charge::{attribute, charge_id, ledger_refusal, submit_charge};
use super::signature::{verify, KEY_HEADER};
use super::usage_report::{first_difference, fingerprint, reservation_key, AppSources, UsageReport};
use crate::{ApiError, AppState};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Serialize;
use tollway_core::pricing::DEFAULT_RULE;
use tollway_core::usage::UsageSource;
use tollway_core::{Amount, Asset};
use tollway_store::directory::{App, User};
use tollway_store::usage::{UsageDraft, UsageEvent, UNATTRIBUTED};
use utoipa::ToSchema;

/// The webhook's answer; a replay gets the same answer as the original.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookResponse {
    /// True when the event was recorded (charged, stored as unknown usage,
    /// or kept unattributed).
    success: bool,
    /// Human-readable outcome.
    message: String,
    /// The recorded consumption.
    data: Consumption,
}

/// A recorded usage event: Tollway's snake_case fields, plus seed 004's
/// camelCase `consumptionId`, `pointsDeducted` (a JSON number) and
/// `tokensUsed`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Consumption {
    /// Stable id of the consumption record.
    consumption_id: String,
    /// The same id (seed 004's name).
    #[serde(rename = "consumptionId")]
    consumption_id_seed: String,
    /// The reported message id.
    message_id: String,
    /// `charged`, `arrears` (part of the cost booked as debt),
    /// `usage_unknown`, `unattributed` (user unknown or disabled: kept,
    /// nothing charged), or, after an admin's review, `dismissed`.
    status: String,
    /// Points taken from the balance (decimal string).
    points_deducted: String,
    /// The same, as a JSON number (seed 004's name; exact, but above 2^53
    /// JavaScript rounds it: prefer `points_deducted`).
    #[serde(rename = "pointsDeducted")]
    #[schema(value_type = u64)]
    points_deducted_seed: u128,
    /// Part of the cost the balance could not cover, now owed (decimal string).
    shortfall: String,
    /// Full cost under the applied price (decimal string).
    cost: String,
    /// Balance right after this charge (decimal string; 0 when unattributed).
    balance: String,
    /// Input plus output tokens.
    tokens_used: i64,
    /// The same (seed 004's name).
    #[serde(rename = "tokensUsed")]
    tokens_used_seed: i64,
    /// Input tokens.
    input_tokens: i64,
    /// Output tokens.
    output_tokens: i64,
    /// Model charged (the priced spelling).
    model: String,
    /// Price rule version applied.
    price_version: Option<i64>,
    /// Its input price per 1,000 tokens (decimal string).
    input_per_1k: Option<String>,
    /// Its output price per 1,000 tokens (decimal string).
    output_per_1k: Option<String>,
    /// Where token counts came from.
    usage_source: String,
    /// Reservation settled, if any (the key check-balance answered).
    reservation_id: Option<String>,
}

fn respond(e: &UsageEvent) -> Json<WebhookResponse> {
    let f = &e.draft;
    let message = match e.status.as_str() {
        "usage_unknown" => "usage was all zero: recorded as unknown for review, nothing charged",
        "arrears" => "charged what the balance held; the rest is owed as arrears",
        UNATTRIBUTED => "the user is unknown or disabled: usage kept for an admin to attribute, nothing charged",
        "dismissed" => "usage kept unattributed and dismissed by an admin, nothing charged",
        "resolving" => "an admin is attributing this usage to a user",
        _ => "token consumption processed successfully",
    };
    let tokens = f.input_tokens.saturating_add(f.output_tokens);
    let id = format!("cons_{}", e.seq);
    Json(WebhookResponse {
        success: true,
        message: message.to_owned(),
        data: Consumption {
            consumption_id_seed: id.clone(),
            consumption_id: id,
            message_id: f.message_id.clone(),
            status: e.status.clone(),
            points_deducted: e.charged.to_string(),
            points_deducted_seed: e.charged.units(),
            shortfall: e.shortfall.to_string(),
            cost: f.cost.to_string(),
            balance: e.balance_after.to_string(),
            tokens_used: tokens,
            tokens_used_seed: tokens,
            input_tokens: f.input_tokens,
            output_tokens: f.output_tokens,
            model: f.model.clone(),
            price_version: f.price_version,
            input_per_1k: f.input_per_1k.clone(),
            output_per_1k: f.output_per_1k.clone(),
            usage_source: f.usage_source.clone(),
            reservation_id: f.reservation_id.clone(),
        },
    })
}

/// The stored event's answer when `report` repeats it; 409
/// `idempotency_conflict` naming the first field that differs otherwise.
fn replay(stored: &UsageEvent, report: &UsageReport, user_id: Option<i64>) -> Result<Json<WebhookResponse>, ApiError> {
    match first_difference(stored, report, user_id) {
        None => Ok(respond(stored)),
        Some(field) => Err(ApiError::conflict(
            "idempotency_conflict",
            format!("message id {:?} was already reported with a different {field}", report.message_id),
        )
        .with_field(field)),
    }
}

async fn authenticate_app(state: &AppState, headers: &HeaderMap) -> Result<App, ApiError> {
    let key = headers
        .get(KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .or_else(|| headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")))
        .ok_or_else(|| ApiError::unauthorized("api_key_missing", format!("send the app key in {KEY_HEADER}")))?;
    let app = state
        .store
        .app_by_key(key.trim())
        .await?
        .ok_or_else(|| ApiError::unauthorized("api_key_invalid", "unknown app key"))?;
    if !app.enabled {
        return Err(ApiError::forbidden("app_disabled", "this app is disabled"));
    }
    Ok(app)
}

/// Receives a `message_end` usage event and charges it.
#[utoipa::path(
    post, path = "/api/dify/webhook", tag = "dify",
    request_body(content = serde_json::Value, description = "Dify's `message_end` event (usage under `metadata.usage`; the user and the model where the app's sources say, by default `user` and `model`) or the relay shape `{event, data:{message_id, user_id, model_name, input_tokens, output_tokens, …}, request_id}`"),
    params(
        ("X-Tollway-Key" = String, Header, description = "The app's API key"),
        ("X-Tollway-Timestamp" = i64, Header, description = "Unix seconds; refused if more than 5 minutes off"),
        ("X-Tollway-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256(signing secret, \"timestamp.body\")>; for an app naming the user in a header, of \"timestamp.user\\nbody\""),
    ),
    responses(
        (status = 200, description = "Charged, recorded as unknown usage, or kept unattributed; replays get the original answer", body = WebhookResponse),
        (status = 400, description = "Malformed JSON", body = crate::error::ErrorBody),
        (status = 401, description = "Missing or wrong key, signature or timestamp", body = crate::error::ErrorBody),
        (status = 409, description = "Same message id with a different field (named in error.field)", body = crate::error::ErrorBody),
        (status = 413, description = "Body too large", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid field, token count, price, reservation key or unknown model", body = crate::error::ErrorBody),
    )
)]
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<WebhookResponse>, ApiError> {
    let limit = state.config.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", format!("body exceeds {limit} bytes"))
    })?;
    let app = authenticate_app(&state, &headers).await?;
    let sources = AppSources::of(&state, app.id).await?;
    let now_secs = tollway_store::now_ms() / 1000;
    let clock = (now_secs, state.config.webhook_tolerance_secs);
    verify(&headers, &bytes, &app.signing_secret, clock, sources.signed_user(&headers))?;
    let json: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("malformed_json", format!("body is not valid JSON: {e}")))?;
    let report = sources.read(&json, &headers)?;
    reservation_key(&report)?;
    let user = state.store.user_by_handle(&report.user).await?;
    let user_id = user.as_ref().map(|u| u.id);
    if let Some(stored) = state.store.usage_event(app.id, &report.message_id).await? {
        state.metrics.usage_events.with_label_values(&["replay"]).inc();
        return replay(&stored, &report, user_id);
    }
    let rule = state.rule_for(&report.model).await?;
    let cost = rule.cost(report.usage).map_err(|e| ApiError::unprocessable("amount_overflow", e.to_string()))?;
    let tokens = |n: u64, field: &str| {
        i64::try_from(n).map_err(|_| ApiError::unprocessable("invalid_tokens", format!("{field} is too large")).with_field(field))
    };
    let unknown = report.usage.is_unknown();
    let draft = UsageDraft {
        app_id: app.id,
        message_id: report.message_id.clone(),
        fingerprint: fingerprint(&report),
        user_id,
        user_ref: Some(report.user.clone()),
        model: if rule.model == DEFAULT_RULE { report.model.clone() } else { rule.model.clone() },
        input_tokens: tokens(report.usage.input, "input_tokens")?,
        output_tokens: tokens(report.usage.output, "output_tokens")?,
        usage_source: UsageSource::Upstream.as_str().to_owned(),
        unknown,
        cost: if unknown { Amount::ZERO } else { cost },
        price_version: Some(rule.version),
        input_per_1k: Some(rule.input_per_1k.format(Asset::POINTS)),
        output_per_1k: Some(rule.output_per_1k.format(Asset::POINTS)),
        transfer_id: None,
        reservation_id: report.reservation_id.clone(),
        reported_price: report.reported_price.clone(),
        reported_currency: report.reported_currency.clone(),
        conversation_id: report.conversation_id.clone(),
    };
    match user {
        Some(user) if user.enabled => charge(&state, draft, &user, &report).await,
        _ => keep_unattributed(&state, &draft, &report).await,
    }
}

/// Charges an attributed report and answers with the stored event.
async fn charge(state: &AppState, draft: UsageDraft, user: &User, report: &UsageReport) -> Result<Json<WebhookResponse>, ApiError> {
    let draft = UsageDraft {
        transfer_id: (!draft.unknown && !draft.cost.is_zero()).then(|| charge_id(draft.app_id, &draft.message_id).0),
        ..draft
    };
    let outcome = submit_charge(state, &draft, user.id, true).await?;
    if let Some(event) = &outcome.recorded {
        state.metrics.usage_events.with_label_values(&[event.status.as_str()]).inc();
        state.metrics.points_charged.inc_by(u64::try_from(event.charged.units()).unwrap_or(u64::MAX));
        return Ok(respond(event));
    }
    // Not recorded: a concurrent report of this message was stored first.
    state.metrics.usage_events.with_label_values(&["replay"]).inc();
    let stored = state.store.usage_event(draft.app_id, &draft.message_id).await?;
    match (stored, &outcome.result) {
        // It was kept unattributed, yet this charge went through: attribute
        // the record to this user, so that it says what the ledger did.
        (Some(stored), Ok(_)) if stored.status == UNATTRIBUTED && first_difference(&stored, report, Some(user.id)).is_none() => {
            let note = "attributed by a concurrent report of the same message";
            let done = attribute(state, stored, user.id, None, note).await?;
            Ok(respond(&done))
        }
        (Some(stored), _) => replay(&stored, report, Some(user.id)),
        (None, Err(e)) => Err(ledger_refusal(e)),
        (None, Ok(_)) => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage_busy", "the usage record was not stored; retry")),
    }
}

/// Keeps a report whose user is unknown or disabled, charging nothing.
async fn keep_unattributed(state: &AppState, draft: &UsageDraft, report: &UsageReport) -> Result<Json<WebhookResponse>, ApiError> {
    let event = draft.unattributed(tollway_store::now_ms());
    if let Some(kept) = state.store.insert_usage_record(&event).await? {
        tracing::warn!(app_id = kept.draft.app_id, message_id = %kept.draft.message_id, user = %report.user,
            "usage of an unknown or disabled user kept unattributed");
        state.metrics.usage_events.with_label_values(&[UNATTRIBUTED]).inc();
        return Ok(respond(&kept));
    }
    state.metrics.usage_events.with_label_values(&["replay"]).inc();
    let stored = state.store.usage_event(draft.app_id, &draft.message_id).await?.ok_or_else(|| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage_busy", "the usage record was not stored; retry")
    })?;
    replay(&stored, report, draft.user_id)
}
