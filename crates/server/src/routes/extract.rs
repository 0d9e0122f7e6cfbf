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

/// A JSON body, its rejection kept for [`body`].
pub type JsonBody<T> = Result<axum::Json<T>, axum::extract::rejection::JsonRejection>;

/// The body, or 400 `malformed_json`.
pub fn body<T>(b: JsonBody<T>) -> Result<T, ApiError> {
    b.map(|axum::Json(t)| t).map_err(|e| ApiError::bad_request("malformed_json", e.body_text()))
}

/// The caller when the request carries a bearer key (a present but bad
/// key is refused as without this extractor), `None` when it carries none.
pub struct MaybeCaller(pub Option<crate::auth::Caller>);

impl FromRequestParts<crate::AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &crate::AppState) -> Result<Self, Self::Rejection> {
        if parts.headers.get(axum::http::header::AUTHORIZATION).is_none() {
            return Ok(MaybeCaller(None));
        }
        crate::auth::Caller::from_request_parts(parts, state).await.map(|c| MaybeCaller(Some(c)))
    }
}

/// The client's IP address (from the connection; `None` when the router
/// runs without connection info, as in some tests).
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let info = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
        Ok(ClientIp(info.map(|c| c.0.ip())))
    }
}

/// Who made a request, for per-client limits: `key:{id}` when it carried
/// an API key, else `ip:{address}`.
pub fn client_label(caller: Option<&crate::auth::Caller>, ip: Option<std::net::IpAddr>) -> String {
    match (caller, ip) {
        (Some(c), _) => format!("key:{}", c.key.id),
        (None, Some(ip)) => format!("ip:{ip}"),
        (None, None) => "ip:unknown".into(),
    }
}
