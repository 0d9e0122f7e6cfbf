//! The one place errors become HTTP: `{"error":{"code","message"}}` with a
//! stable snake_case code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tollway_store::{ChannelStoreError, StoreError};

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// Seconds to send in `Retry-After` (429, and 1 by default on 503).
    pub retry_after: Option<u64>,
    /// The request field at fault, sent as `error.field` when known
    /// (absent otherwise, so older clients see the same body).
    pub field: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable code, e.g. `signature_invalid`.
    code: String,
    /// Explanation for humans.
    message: String,
    /// The request field at fault, when one is (e.g. the field that differs
    /// in an `idempotency_conflict`).
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None, field: None }
    }
    /// The same error naming the request field at fault.
    pub fn with_field(self, field: impl Into<String>) -> Self {
        ApiError { field: Some(field.into()), ..self }
    }
    /// 429 with `Retry-After`.
    pub fn too_many_requests(code: &'static str, message: impl Into<String>, retry_after_secs: u64) -> Self {
        ApiError { retry_after: Some(retry_after_secs), ..Self::new(StatusCode::TOO_MANY_REQUESTS, code, message) }
    }
    /// 400.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    /// 401.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
    /// 403.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }
    /// 404.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    /// 409.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    /// 422.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::Conflict(_) => ApiError::conflict("already_exists", e.to_string()),
            StoreError::NotFound(_) => ApiError::not_found("not_found", e.to_string()),
            StoreError::Channel(c) => {
                let status = match c {
                    ChannelStoreError::InsufficientPoints => StatusCode::PAYMENT_REQUIRED,
                    ChannelStoreError::ZeroDeposit | ChannelStoreError::ChannelMismatch => StatusCode::BAD_REQUEST,
                    ChannelStoreError::UnknownChannel => StatusCode::NOT_FOUND,
                    ChannelStoreError::ChannelExists | ChannelStoreError::ChannelClosed | ChannelStoreError::CkbChannel | ChannelStoreError::Ledger(_) => StatusCode::CONFLICT,
                };
                ApiError::new(status, c.code(), c.to_string())
            }
            StoreError::Evm(c) => {
                use tollway_store::evm::EvmStoreError as E;
                let status = match c {
                    E::NoFreeAmount => StatusCode::SERVICE_UNAVAILABLE,
                    E::TooManyOpen => StatusCode::TOO_MANY_REQUESTS,
                    E::UnknownPayment => StatusCode::NOT_FOUND,
                    E::CursorMoved => StatusCode::CONFLICT,
                    E::Session(_) => StatusCode::INTERNAL_SERVER_ERROR,
                };
                ApiError::new(status, c.code(), c.to_string())
            }
            StoreError::Hub(h) => {
                use tollway_store::hub::HubStoreError as H;
                let status = match h {
                    H::TooManyOpen => StatusCode::TOO_MANY_REQUESTS,
                    H::PoolCellTaken | H::SenderCellTaken => StatusCode::SERVICE_UNAVAILABLE,
                    H::UnknownPayment | H::UnknownPayout | H::UnknownCell => StatusCode::NOT_FOUND,
                    H::PayoutConflict(_) => StatusCode::CONFLICT,
                    H::SharesMismatch { .. } | H::Invalid(_) => StatusCode::INTERNAL_SERVER_ERROR,
                };
                ApiError::new(status, h.code(), h.to_string())
            }
            _ if e.is_retryable() => {
                tracing::warn!(error = %e, "retryable storage error");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage_busy", "storage is busy; retry")
            }
            _ => {
                tracing::error!(error = %e, "storage error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal storage error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_owned(), message: self.message, field: self.field } };
        let mut response = (self.status, Json(body)).into_response();
        let retry_after = self.retry_after.or((self.status == StatusCode::SERVICE_UNAVAILABLE).then_some(1));
        if let Some(secs) = retry_after {
            response.headers_mut().insert("retry-after", axum::http::HeaderValue::from(secs));
        }
        response
    }
}
