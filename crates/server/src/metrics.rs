//! Prometheus metrics, rendered at `/metrics` for admins and the
//! configured scraper.

use crate::auth::{bearer, Admin};
use crate::{ApiError, AppState};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use prometheus::{Encoder, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};
use sha2::{Digest, Sha256};

/// Who may read `/metrics`: a bearer equal to `metrics_token` (what
/// Prometheus sends with `authorization.credentials`), or an admin key.
pub struct MetricsReader;

impl FromRequestParts<AppState> for MetricsReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let (Some(token), Some(sent)) = (state.config.metrics_token.as_deref(), bearer(parts)) {
            // Compared as digests: the time taken says nothing about the token.
            if !token.is_empty() && Sha256::digest(token.as_bytes()) == Sha256::digest(sent.as_bytes()) {
                return Ok(MetricsReader);
            }
        }
        Admin::from_request_parts(parts, state).await.map(|_| MetricsReader)
    }
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    /// Requests by route and status.
    pub requests: IntCounterVec,
    /// Usage events by outcome (`charged`, `arrears`, `usage_unknown`, `replay`).
    pub usage_events: IntCounterVec,
    /// Points charged (minor units).
    pub points_charged: IntCounter,
    /// Holds released by the expiry job.
    pub holds_expired: IntCounter,
    /// Time spent answering requests, microseconds (with `requests`, the
    /// mean response time).
    pub request_micros: IntCounter,
    /// Answers with a 5xx status.
    pub server_errors: IntCounter,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("tollway_http_requests_total", "HTTP requests by route and status"),
            &["route", "status"],
        )
        .unwrap_or_else(|e| panic!("metric definition: {e}"));
        let usage_events = IntCounterVec::new(
            Opts::new("tollway_usage_events_total", "Usage events by outcome"),
            &["outcome"],
        )
        .unwrap_or_else(|e| panic!("metric definition: {e}"));
        let points_charged = IntCounter::new("tollway_points_charged_total", "Points charged")
            .unwrap_or_else(|e| panic!("metric definition: {e}"));
        let holds_expired = IntCounter::new("tollway_holds_expired_total", "Holds released by timeout")
            .unwrap_or_else(|e| panic!("metric definition: {e}"));
        let request_micros = IntCounter::new("tollway_http_request_microseconds_total", "Time spent answering HTTP requests")
            .unwrap_or_else(|e| panic!("metric definition: {e}"));
        let server_errors = IntCounter::new("tollway_http_server_errors_total", "HTTP answers with a 5xx status")
            .unwrap_or_else(|e| panic!("metric definition: {e}"));
        for m in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(usage_events.clone()),
            Box::new(points_charged.clone()),
            Box::new(holds_expired.clone()),
            Box::new(request_micros.clone()),
            Box::new(server_errors.clone()),
        ] {
            registry.register(m).unwrap_or_else(|e| panic!("metric registration: {e}"));
        }
        Metrics { registry, requests, usage_events, points_charged, holds_expired, request_micros, server_errors }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
