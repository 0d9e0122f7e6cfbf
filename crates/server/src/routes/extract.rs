//! Path and query extractors whose refusals are the API's JSON errors
//! (axum's own answer in plain text): 400 `invalid_path` / `invalid_query`.

use crate::ApiError;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::FromRequestParts;

/// `axum::extract::Path`, refused as 400 `invalid_path`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// `axum::extract::Query`, refused as 400 `invalid_query`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        ApiError::bad_request("invalid_path", e.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", e.body_text())
    }
}
