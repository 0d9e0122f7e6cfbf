//! A webhook report as the reporting app describes it: its sources (where
//! the user and the model are, [`tollway_core::usage_report`] decodes the
//! body), the decoder's refusals as API errors, and the comparison of a
//! retried report with the stored event, which names the first field that
//! differs.

use crate::{ApiError, AppState};
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tollway_core::ledger::{is_client_key, CLIENT_KEY_RULE};
use tollway_core::usage_report::{parse, ReportError, Source, Sources};
pub use tollway_core::usage_report::UsageReport;
use tollway_store::usage::UsageEvent;

/// Where an app's reports name the user and the model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppSources {
    /// The user: a body field, a header, or the built-in places.
    pub user: Source,
    /// The model: a body field, one fixed model, or the built-in places.
    pub model: Source,
}

impl AppSources {
    /// The app's sources as stored.
    pub async fn of(state: &AppState, app_id: i64) -> Result<AppSources, ApiError> {
        let stored = state.store.app_sources(app_id).await?.unwrap_or_default();
        let decode = |text: Option<&str>| {
            Source::decode(text).ok_or_else(|| {
                tracing::error!(app_id, source = ?text, "unreadable app source");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the app's configuration is unreadable")
            })
        };
        Ok(AppSources { user: decode(stored.user.as_deref())?, model: decode(stored.model.as_deref())? })
    }

    /// The user header's value when the app names the user in a header
    /// (`Some("")` when the header is absent or unreadable): it is signed
    /// with the body.
    pub fn signed_user<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        match &self.user {
            Source::Header(name) => Some(headers.get(name).and_then(|v| v.to_str().ok()).map_or("", str::trim)),
            _ => None,
        }
    }

    /// Decodes a report with these sources.
    pub fn read(&self, body: &Value, headers: &HeaderMap) -> Result<UsageReport, ApiError> {
        let user_header = self.signed_user(headers).filter(|v| !v.is_empty());
        parse(body, Sources { user: &self.user, model: &self.model, user_header }).map_err(report_error)
    }
}

/// The decoder's refusal: 400 for a body that is not an object, else 422,
/// naming the field.
fn report_error(e: ReportError) -> ApiError {
    let status = if e == ReportError::NotAnObject { StatusCode::BAD_REQUEST } else { StatusCode::UNPROCESSABLE_ENTITY };
    let field = e.field().map(str::to_owned);
    let error = ApiError::new(status, e.code(), e.to_string());
    match field {
        Some(f) => error.with_field(f),
        None => error,
    }
}

/// The report's reservation key, checked against the ledger's rule for
/// client keys (422 `invalid_field` otherwise).
pub fn reservation_key(report: &UsageReport) -> Result<Option<&str>, ApiError> {
    match report.reservation_id.as_deref() {
        Some(key) if !is_client_key(key) => Err(ApiError::unprocessable(
            "invalid_field",
            format!("reservation_id must be {CLIENT_KEY_RULE} (the id check-balance answered)"),
        )
        .with_field("reservation_id")),
        key => Ok(key),
    }
}

/// A digest of the fields a retry must repeat: equal digests are a replay.
pub fn fingerprint(r: &UsageReport) -> String {
    let canonical = serde_json::json!([
        r.user,
        r.model.to_ascii_lowercase(),
        r.usage.input,
        r.usage.output,
        r.reservation_id,
        r.conversation_id,
        r.reported_price,
        r.reported_currency
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// The first field in which `report` differs from the event stored under
/// its key, or `None` for a faithful retry. Compared: `user` (as
/// reported; on events stored before that was kept, the user it names),
/// `model` (ignoring ASCII case, as prices match), `input_tokens`,
/// `output_tokens`, `reservation_id`, `conversation_id`, `total_price`,
/// `currency`.
pub fn first_difference(stored: &UsageEvent, report: &UsageReport, user_id: Option<i64>) -> Option<&'static str> {
    let d = &stored.draft;
    if d.fingerprint == fingerprint(report) {
        return None;
    }
    let user_differs = match &d.user_ref {
        Some(reported) => *reported != report.user,
        None => d.user_id != user_id,
    };
    [
        (user_differs, "user"),
        (!d.model.eq_ignore_ascii_case(&report.model), "model"),
        (u64::try_from(d.input_tokens) != Ok(report.usage.input), "input_tokens"),
        (u64::try_from(d.output_tokens) != Ok(report.usage.output), "output_tokens"),
        (d.reservation_id != report.reservation_id, "reservation_id"),
        (d.conversation_id != report.conversation_id, "conversation_id"),
        (d.reported_price != report.reported_price, "total_price"),
        (d.reported_currency != report.reported_currency, "currency"),
    ]
    .into_iter()
    .find(|(differs, _)| *differs)
    .map(|(_, field)| field)
}
