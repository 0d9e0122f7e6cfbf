//! `POST /api/dify/webhook`: usage reported by a Dify relay, charged once
//! per (app, message id).

use super::signature::{verify, KEY_HEADER};
use super::usage_report::{parse, UsageReport};
use crate::{ApiError, AppState};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tollway_core::ledger::{Charge, Command, Links, TransferError, TransferId};
use tollway_core::usage::UsageSource;
use tollway_core::{Amount, Asset};
use tollway_store::directory::App;
use tollway_store::usage::{UsageDraft, UsageEvent};
use tollway_store::{Record, Submission};
use utoipa::ToSchema;

/// The webhook's answer; a replay gets the same answer as the original.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookResponse {
    /// True when the event was recorded (charged or stored as unknown).
    success: bool,
    /// Human-readable outcome.
    message: String,
    /// The recorded consumption.
    data: Consumption,
}

/// A recorded usage event.
#[derive(Debug, Serialize, ToSchema)]
pub struct Consumption {
    /// Stable id of the consumption record.
    consumption_id: String,
    /// The reported message id.
    message_id: String,
    /// `charged`, `arrears` (part of the cost booked as debt) or `usage_unknown`.
    status: String,
    /// Points taken from the balance (decimal string).
    points_deducted: String,
    /// Part of the cost the balance could not cover, now owed (decimal string).
    shortfall: String,
    /// Full cost under the applied price (decimal string).
    cost: String,
    /// Balance right after this charge (decimal string).
    balance: String,
    /// Input plus output tokens.
    tokens_used: i64,
    /// Input tokens.
    input_tokens: i64,
    /// Output tokens.
    output_tokens: i64,
    /// Model charged.
    model: String,
    /// Price rule version applied.
    price_version: Option<i64>,
    /// Its input price per 1,000 tokens (decimal string).
    input_per_1k: Option<String>,
    /// Its output price per 1,000 tokens (decimal string).
    output_per_1k: Option<String>,
    /// Where token counts came from.
    usage_source: String,
    /// Reservation settled, if any.
    reservation_id: Option<String>,
}

fn respond(e: &UsageEvent) -> Json<WebhookResponse> {
    let f = &e.draft;
    let message = match e.status.as_str() {
        "usage_unknown" => "usage was all zero: recorded as unknown for review, nothing charged",
        "arrears" => "charged what the balance held; the rest is owed as arrears",
        _ => "token consumption processed successfully",
    };
    Json(WebhookResponse {
        success: true,
        message: message.to_owned(),
        data: Consumption {
            consumption_id: format!("cons_{}", e.seq),
            message_id: f.message_id.clone(),
            status: e.status.clone(),
            points_deducted: e.charged.to_string(),
            shortfall: e.shortfall.to_string(),
            cost: f.cost.to_string(),
            balance: e.balance_after.to_string(),
            tokens_used: f.input_tokens + f.output_tokens,
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

fn fingerprint(r: &UsageReport) -> String {
    let canonical = serde_json::json!([r.user, r.model, r.usage.input, r.usage.output, r.reservation_id]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// The stored event for this key if it matches the report, a conflict if
/// it does not, or `None` if there is none.
fn replay(existing: Option<UsageEvent>, fp: &str) -> Result<Option<Json<WebhookResponse>>, ApiError> {
    match existing {
        Some(e) if e.draft.fingerprint == fp => Ok(Some(respond(&e))),
        Some(_) => Err(ApiError::conflict(
            "idempotency_conflict",
            "this message id was already reported with different usage",
        )),
        None => Ok(None),
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
    request_body(content = serde_json::Value, description = "Dify `message_end` event (usage under `metadata.usage`, plus `user` and `model` added by the relay) or the relay shape `{event, data:{message_id, user_id, model_name, input_tokens, output_tokens, …}, request_id}`"),
    params(
        ("X-Tollway-Key" = String, Header, description = "The app's API key"),
        ("X-Tollway-Timestamp" = i64, Header, description = "Unix seconds; refused if more than 5 minutes off"),
        ("X-Tollway-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256(signing secret, \"timestamp.body\")>"),
    ),
    responses(
        (status = 200, description = "Charged, or recorded as unknown usage; replays get the original answer", body = WebhookResponse),
        (status = 400, description = "Malformed JSON", body = crate::error::ErrorBody),
        (status = 401, description = "Missing or wrong key, signature or timestamp", body = crate::error::ErrorBody),
        (status = 404, description = "Unknown user", body = crate::error::ErrorBody),
        (status = 409, description = "Same message id with different usage", body = crate::error::ErrorBody),
        (status = 413, description = "Body too large", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid field, token count, price or unknown model", body = crate::error::ErrorBody),
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
    let now_secs = tollway_store::now_ms() / 1000;
    verify(&headers, &bytes, &app.signing_secret, now_secs, state.config.webhook_tolerance_secs)?;
    let json: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("malformed_json", format!("body is not valid JSON: {e}")))?;
    let report = parse(&json)?;
    let fp = fingerprint(&report);
    if let Some(answer) = replay(state.store.usage_event(app.id, &report.message_id).await?, &fp)? {
        state.metrics.usage_events.with_label_values(&["replay"]).inc();
        return Ok(answer);
    }
    let user = state
        .store
        .user_by_handle(&report.user)
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_user", format!("no user with handle {:?}", report.user)))?;
    if !user.enabled {
        return Err(ApiError::forbidden("user_disabled", "this user is disabled"));
    }
    let rule = state.rule_for(&report.model).await?;
    let cost = rule.cost(report.usage).map_err(|e| ApiError::unprocessable("amount_overflow", e.to_string()))?;
    let charge_id = format!("dify:{}:{}", app.id, &hex::encode(Sha256::digest(report.message_id.as_bytes()))[..40]);
    let unknown = report.usage.is_unknown();
    let draft = UsageDraft {
        app_id: app.id,
        message_id: report.message_id.clone(),
        fingerprint: fp.clone(),
        user_id: user.id,
        model: report.model.clone(),
        input_tokens: i64::try_from(report.usage.input).unwrap_or(i64::MAX),
        output_tokens: i64::try_from(report.usage.output).unwrap_or(i64::MAX),
        usage_source: UsageSource::Upstream.as_str().to_owned(),
        unknown,
        cost: if unknown { Amount::ZERO } else { cost },
        price_version: Some(rule.version),
        input_per_1k: Some(rule.input_per_1k.format(Asset::POINTS)),
        output_per_1k: Some(rule.output_per_1k.format(Asset::POINTS)),
        transfer_id: (!unknown && !cost.is_zero()).then(|| charge_id.clone()),
        reservation_id: report.reservation_id.clone(),
        reported_price: report.reported_price.clone(),
        reported_currency: report.reported_currency.clone(),
        conversation_id: report.conversation_id.clone(),
    };
    // Unknown usage charges nothing and leaves any reservation to expire
    // (it is for review, not free); a zero-cost call still settles its
    // reservation. A zero charge still names the wallet, so the stored
    // event records the real balance.
    let command = Command::Charge(Charge {
        id: TransferId(charge_id),
        user_id: user.id,
        asset: Asset::POINTS,
        amount: if unknown { Amount::ZERO } else { cost },
        reservation: if unknown { None } else { report.reservation_id.as_deref().and_then(|key| TransferId::reservation(user.id, key)) },
        links: Links {
            user_id: Some(user.id),
            model: Some(report.model.clone()),
            request_id: Some(report.message_id.clone()),
            price_version: Some(rule.version),
            memo: None,
        },
    });
    let outcome = state.writer.submit(Submission { command, record: Some(Record::Usage(draft)) }).await?;
    if let Err(e) = &outcome.result {
        if !matches!(e.error, TransferError::ExistsWithDifferentFields { .. }) {
            return Err(ApiError::conflict(e.error.code(), e.error.to_string()));
        }
    }
    if let Some(event) = &outcome.recorded {
        state.metrics.usage_events.with_label_values(&[event.status.as_str()]).inc();
        state.metrics.points_charged.inc_by(u64::try_from(event.charged.units()).unwrap_or(u64::MAX));
        return Ok(respond(event));
    }
    // Someone else recorded this message first: answer from their record.
    state.metrics.usage_events.with_label_values(&["replay"]).inc();
    let stored = state.store.usage_event(app.id, &report.message_id).await?;
    replay(stored, &fp)?
        .ok_or_else(|| ApiError::conflict("idempotency_conflict", "this message id conflicts with an earlier charge"))
}
