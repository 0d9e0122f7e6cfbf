//! Per-key request and token rate limits, kept in this process (each
//! process enforces them on its own; see docs/architecture.md).

use crate::ApiError;
use std::collections::HashMap;
use std::sync::Mutex;
use tollway_core::rate::MinuteBucket;
use tollway_store::directory::ApiKey;

/// The buckets of every key that has limits.
#[derive(Default)]
pub struct KeyLimiter {
    buckets: Mutex<HashMap<i64, KeyBuckets>>,
}

#[derive(Default)]
struct KeyBuckets {
    requests: Option<MinuteBucket>,
    tokens: Option<MinuteBucket>,
}

/// `bucket` with `limit`, created full or re-created when the limit changed.
fn bucket(slot: &mut Option<MinuteBucket>, limit: Option<u64>, now_ms: i64) -> Option<&mut MinuteBucket> {
    match limit {
        None => {
            *slot = None;
            None
        }
        Some(limit) => {
            if slot.as_ref().map(MinuteBucket::limit) != Some(limit) {
                *slot = Some(MinuteBucket::new(limit, now_ms));
            }
            slot.as_mut()
        }
    }
}

fn refused(what: &'static str, limit: u64, wait_ms: u64) -> ApiError {
    let secs = wait_ms.div_ceil(1000).max(1);
    ApiError::too_many_requests(
        what,
        format!("this API key allows {limit} {} per minute; retry in {secs} s", if what == "rate_limit_requests" { "requests" } else { "tokens" }),
        secs,
    )
}

impl KeyLimiter {
    /// Admits one request of about `prompt_tokens` for `key`, or 429 with
    /// `Retry-After`. Takes nothing when refused.
    pub fn admit(&self, key: &ApiKey, prompt_tokens: u64, now_ms: i64) -> Result<(), ApiError> {
        if key.rpm_limit.is_none() && key.tpm_limit.is_none() {
            return Ok(());
        }
        let mut all = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = all.entry(key.id).or_default();
        let rpm = key.rpm_limit.map(u64::from);
        let mut requests = bucket(&mut b.requests, rpm, now_ms).cloned();
        if let Some(r) = requests.as_mut() {
            r.try_take(1, now_ms).map_err(|wait| refused("rate_limit_requests", r.limit(), wait))?;
        }
        if let Some(t) = bucket(&mut b.tokens, key.tpm_limit, now_ms) {
            t.try_take(prompt_tokens, now_ms).map_err(|wait| refused("rate_limit_tokens", t.limit(), wait))?;
        }
        b.requests = requests;
        Ok(())
    }

    /// Counts tokens learned after admission (the output, and any prompt
    /// tokens beyond the estimate) against the key's per-minute tokens.
    pub fn record(&self, key: &ApiKey, extra_tokens: u64, now_ms: i64) {
        if key.tpm_limit.is_none() || extra_tokens == 0 {
            return;
        }
        let mut all = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = bucket(&mut all.entry(key.id).or_default().tokens, key.tpm_limit, now_ms) {
            t.charge(extra_tokens, now_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(rpm: Option<u32>, tpm: Option<u64>) -> ApiKey {
        ApiKey {
            id: 7,
            user_id: 1,
            prefix: "tw_".into(),
            label: "test".into(),
            rpm_limit: rpm,
            tpm_limit: tpm,
            spend_cap: None,
            created_at: 0,
            revoked_at: None,
            expires_at: None,
        }
    }

    #[test]
    fn requests_per_minute() {
        let limiter = KeyLimiter::default();
        let k = key(Some(2), None);
        assert!(limiter.admit(&k, 10, 0).is_ok());
        assert!(limiter.admit(&k, 10, 0).is_ok());
        let e = limiter.admit(&k, 10, 0).expect_err("third request in the minute");
        assert_eq!((e.status.as_u16(), e.code, e.retry_after), (429, "rate_limit_requests", Some(30)));
        assert!(limiter.admit(&k, 10, 30_000).is_ok());
    }

    #[test]
    fn tokens_per_minute_count_output_after_the_fact() {
        let limiter = KeyLimiter::default();
        let k = key(Some(100), Some(1_000));
        assert!(limiter.admit(&k, 400, 0).is_ok());
        limiter.record(&k, 1_000, 0);
        let e = limiter.admit(&k, 100, 0).expect_err("over the token budget");
        assert_eq!((e.code, e.retry_after), ("rate_limit_tokens", Some(30)));
        assert!(limiter.admit(&k, 100, 30_000).is_ok());
    }

    #[test]
    fn a_refused_request_uses_up_nothing() {
        let limiter = KeyLimiter::default();
        let k = key(Some(2), Some(10));
        assert!(limiter.admit(&k, 10, 0).is_ok());
        for _ in 0..3 {
            // Had these taken a request, the second would be refused for requests.
            assert_eq!(limiter.admit(&k, 5, 0).expect_err("no tokens left").code, "rate_limit_tokens");
        }
    }

    #[test]
    fn keys_without_limits_are_never_refused() {
        let limiter = KeyLimiter::default();
        let k = key(None, None);
        for _ in 0..1_000 {
            assert!(limiter.admit(&k, 1_000_000, 0).is_ok());
        }
    }

    #[test]
    fn a_changed_limit_takes_effect() {
        let limiter = KeyLimiter::default();
        assert!(limiter.admit(&key(Some(1), None), 0, 0).is_ok());
        assert!(limiter.admit(&key(Some(1), None), 0, 0).is_err());
        assert!(limiter.admit(&key(Some(5), None), 0, 0).is_ok(), "a raised limit starts a full bucket");
    }
}
