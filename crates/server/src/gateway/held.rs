//! Whole answers paid from a channel are handed over only once paid
//! (docs/channels.md, "Paying for chat completions"): the answer is made,
//! kept in the store under the request's hash, and answered with 402
//! `payment_required` and the proposal for its cost. The same request sent
//! again once a receipt brought the accepted total to that proposal gets
//! the answer, from whichever server process it reaches. Nothing is
//! delivered unpaid, so a payer who never signs got nothing.

use crate::{ApiError, AppState};
use axum::http::{header, HeaderValue, StatusCode};
use axum::Json;
use serde_json::json;
use tollway_core::channel::wire::{encode_header, PAYMENT_HEADER};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tollway_core::channel::wire::PaymentDue;
use tollway_core::channel::{ChannelId, KeyId};
use tollway_core::Amount;

/// 402 `payment_required` with the proposal to sign in the header.
pub fn payment_required(due: &PaymentDue) -> Response {
    let body = json!({"error": {"code": "payment_required", "message": "sign the pending proposal (in the X-Tollway-Channel header) and send it with the request"}});
    let mut response = (StatusCode::PAYMENT_REQUIRED, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&encode_header(due)) {
        response.headers_mut().insert(PAYMENT_HEADER, value);
    }
    response
}

/// The hash a held answer is kept under: SHA-256 of the request body as
/// JSON (object keys sorted, so formatting does not matter).
pub fn request_hash(raw: &Value) -> String {
    hex::encode(Sha256::digest(raw.to_string().as_bytes()))
}

/// An answer held for a request.
pub enum Held {
    /// Paid: hand it over.
    Paid(Response),
    /// Not yet paid: the sub-channel total that pays for it.
    Waiting(Amount),
}

fn made_after(state: &AppState) -> i64 {
    let ttl = i64::try_from(state.config.channels.held_answer_secs.saturating_mul(1_000)).unwrap_or(i64::MAX);
    tollway_store::now_ms().saturating_sub(ttl)
}

/// The answer held for `request_hash` on `sub` of `channel`, given the
/// sub-channel's accepted total.
pub async fn lookup(state: &AppState, channel: &ChannelId, sub: &KeyId, request_hash: &str, accepted: Amount) -> Result<Option<Held>, ApiError> {
    let Some(held) = state.store.held_answer(channel, sub, request_hash, made_after(state)).await? else { return Ok(None) };
    if accepted < held.total {
        return Ok(Some(Held::Waiting(held.total)));
    }
    let mut response = (StatusCode::OK, held.body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(Some(Held::Paid(response)))
}

/// Keeps `body`, the answer to `request_hash`, until `due` is paid, and
/// answers 402 with `due` to sign.
pub async fn hold(state: &AppState, (channel, sub): (ChannelId, KeyId), request_hash: &str, due: &PaymentDue, body: &Value) -> Result<Response, ApiError> {
    let total = due.proposal.accumulated;
    state.store.hold_answer(&channel, &sub, request_hash, total, &body.to_string(), made_after(state)).await?;
    let mut response = payment_required(due);
    *response.body_mut() = axum::body::Body::from(
        serde_json::json!({
            "error": {"code": "payment_required", "message": "the answer is ready: sign the proposal in the X-Tollway-Channel header and send the same request again (or post the receipt first)"},
            "tollway": due,
        })
        .to_string(),
    );
    Ok(response)
}
