//! Live figures of the checkout, measured in this process: WebSocket
//! connections and their message log, what the watcher detected and how
//! late, and how transaction checks went. `/api/v1/stats/*` reads them.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;
use utoipa::ToSchema;

/// Messages kept in the log (newest replace oldest).
const LOG_CAPACITY: usize = 2_000;
/// Payments remembered for counting reconnects.
const WATCHED_CAPACITY: usize = 100_000;

/// One logged message.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogMessage {
    /// `frontend` (a browser's WebSocket) or `blockchain` (the chain).
    pub source: &'static str,
    /// `connection_ack`, `payment_status_update`, `ping`, `pong`, `error`,
    /// `connected`, `disconnected`, `transfer_event`, `logs_scan`,
    /// `reorg`, `endpoint_failover`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The payment it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// `in` or `out` (from this server's side).
    pub direction: &'static str,
    /// The message's data.
    #[schema(value_type = Object)]
    pub data: Value,
    /// When (RFC 3339).
    pub timestamp: String,
}

/// Counters of browser connections.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FrontendCounters {
    /// Connections accepted since start.
    pub total_connections: u64,
    /// Refused (limits, unknown payment) or failed connections.
    pub connection_errors: u64,
    /// Connections for a payment that had one before (a reconnect).
    pub reconnect_attempts: u64,
    /// Last accepted connection.
    pub last_connection_time: Option<String>,
    /// Last closed connection.
    pub last_disconnection_time: Option<String>,
}

#[derive(Default)]
struct Inner {
    log: VecDeque<LogMessage>,
    frontend: FrontendCounters,
    watched: std::collections::HashSet<String>,
    events_detected: u64,
    latency_ms_total: u128,
    latency_samples: u64,
    validations: u64,
    validations_ok: u64,
    validation_ms_total: u128,
}

/// See the module doc.
pub struct Stats {
    started: Instant,
    inner: Mutex<Inner>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats { started: Instant::now(), inner: Mutex::default() }
    }
}

/// `part / whole` as a percentage with one decimal, computed in integers
/// (0 when `whole` is 0).
pub fn percent(part: u128, whole: u128) -> Value {
    if whole == 0 {
        return json!(0);
    }
    let tenths = part.saturating_mul(1_000) / whole;
    decimal_number(tenths, 1)
}

/// `units / 10^scale` as a JSON number (exact decimal text, parsed).
pub fn decimal_number(units: u128, scale: u8) -> Value {
    let text = tollway_core::money::format_decimal(units, scale);
    text.parse::<serde_json::Number>().map(Value::Number).unwrap_or(Value::Null)
}

/// Now, RFC 3339 with milliseconds.
pub fn now_text() -> String {
    rfc3339(Utc::now())
}

/// `t` as RFC 3339 with milliseconds.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Stats {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Seconds since the server started.
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Logs a message.
    pub fn log(&self, source: &'static str, kind: &str, payment_id: Option<&str>, direction: &'static str, data: Value) {
        let message = LogMessage { source, kind: kind.to_owned(), payment_id: payment_id.map(str::to_owned), direction, data, timestamp: now_text() };
        self.with(|i| {
            if i.log.len() == LOG_CAPACITY {
                i.log.pop_front();
            }
            i.log.push_back(message);
        });
    }

    /// The newest `limit` messages, newest first.
    pub fn messages(&self, limit: usize) -> Vec<LogMessage> {
        self.with(|i| i.log.iter().rev().take(limit).cloned().collect())
    }

    /// A browser connected to `payment_id`.
    pub fn connected(&self, payment_id: &str) {
        self.with(|i| {
            i.frontend.total_connections += 1;
            // Bounded: past this many payments, reconnects are counted anew.
            if i.watched.len() >= WATCHED_CAPACITY {
                i.watched.clear();
            }
            if !i.watched.insert(payment_id.to_owned()) {
                i.frontend.reconnect_attempts += 1;
            }
            i.frontend.last_connection_time = Some(now_text());
        });
    }

    /// A browser's connection closed.
    pub fn disconnected(&self) {
        self.with(|i| i.frontend.last_disconnection_time = Some(now_text()));
    }

    /// A connection was refused or failed.
    pub fn connection_error(&self) {
        self.with(|i| i.frontend.connection_errors += 1);
    }

    /// Browser connection counters.
    pub fn frontend(&self) -> FrontendCounters {
        self.with(|i| i.frontend.clone())
    }

    /// The watcher recorded a transfer `latency_ms` after its block's time.
    pub fn detected(&self, latency_ms: u64) {
        self.with(|i| {
            i.events_detected += 1;
            i.latency_ms_total += u128::from(latency_ms);
            i.latency_samples += 1;
        });
    }

    /// Transfers detected, and the mean detection latency (ms) if any.
    pub fn detection(&self) -> (u64, Option<u64>) {
        self.with(|i| {
            let mean = (i.latency_samples > 0).then(|| u64::try_from(i.latency_ms_total / u128::from(i.latency_samples)).unwrap_or(u64::MAX));
            (i.events_detected, mean)
        })
    }

    /// A submitted transaction was checked in `ms`, with success or not.
    pub fn validated(&self, ok: bool, ms: u64) {
        self.with(|i| {
            i.validations += 1;
            i.validations_ok += u64::from(ok);
            i.validation_ms_total += u128::from(ms);
        });
    }

    /// Checks made, those that succeeded, and their total time (ms).
    pub fn validations(&self) -> (u64, u64, u128) {
        self.with(|i| (i.validations, i.validations_ok, i.validation_ms_total))
    }
}
