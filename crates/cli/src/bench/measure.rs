//! What the benchmarks share: the backend flag, error and key helpers, and
//! latency percentiles.

use std::time::Duration;
use tollway_core::channel::PayerKey;
use tollway_server::ApiError;
use tollway_store::testing::Backend;

/// The backend named on the command line.
pub fn backend(name: &str) -> anyhow::Result<Backend> {
    match name {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" => Ok(Backend::Postgres),
        other => anyhow::bail!("unknown backend {other:?}: sqlite or postgres"),
    }
}

/// An API error as an `anyhow` error.
pub fn api(e: ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", e.code, e.message)
}

/// The value at fraction `p` of a sorted sample, milliseconds (NaN when empty).
pub fn pct_ms(sorted: &[Duration], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
}

/// "p50 x ms, p99 y ms, max z ms" of a sample (sorted here).
pub fn summary(sample: &mut [Duration]) -> String {
    sample.sort();
    format!("p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms", pct_ms(sample, 0.50), pct_ms(sample, 0.99), pct_ms(sample, 1.0))
}

/// A new random payer key.
pub fn random_key() -> anyhow::Result<PayerKey> {
    for _ in 0..8 {
        if let Ok(key) = PayerKey::from_bytes(rand::random()) {
            return Ok(key);
        }
    }
    anyhow::bail!("no valid secret key in 8 random tries")
}
