//! Sends merchant webhooks from the outbox: the raw body signed with
//! HMAC-SHA256 under `evm.webhook_secret` (header `Tollway-Signature:
//! sha256=<hex>`), retried with exponential backoff (5 s, 10 s, 20 s, …,
//! at most an hour apart) until a 2xx answer or `webhook_max_attempts`.
//! Each attempt is claimed by compare-and-set, so two server processes
//! never send the same attempt.

use crate::AppState;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;
use tollway_store::evm::WebhookDelivery;
use tollway_store::now_ms;

/// How long a claimed attempt is reserved for its sender.
const LEASE_MS: i64 = 60_000;

/// The signature header's value for `body`.
pub fn signature(secret: &str, body: &str) -> String {
    // HMAC accepts a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Delay before attempt `attempts + 1`.
fn backoff(attempts: i64) -> i64 {
    let exponent = u32::try_from(attempts.clamp(0, 10)).unwrap_or(10);
    (5_000i64 << exponent).min(3_600_000)
}

/// Starts the sender.
pub fn spawn(state: AppState) {
    let Some(evm) = state.evm.clone() else { return };
    let Some(secret) = evm.config.webhook_secret.clone() else { return };
    tokio::spawn(async move {
        let client = match reqwest::Client::builder().timeout(Duration::from_secs(10)).build() {
            Ok(c) => c,
            Err(e) => return tracing::error!(error = %e, "webhook client"),
        };
        loop {
            if let Err(e) = send_due(&state, &client, &secret, evm.config.webhook_max_attempts).await {
                tracing::warn!(error = %e, "webhook run failed");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
}

async fn send_due(state: &AppState, client: &reqwest::Client, secret: &str, max_attempts: u32) -> Result<(), tollway_store::StoreError> {
    for d in state.store.due_webhooks(now_ms(), 50).await? {
        if !state.store.claim_webhook(&d, LEASE_MS, now_ms()).await? {
            continue;
        }
        let (status, error) = send(client, secret, &d).await;
        let delivered = status.is_some_and(|s| (200..300).contains(&s));
        let next = (!delivered && d.attempts + 1 < i64::from(max_attempts)).then(|| now_ms() + backoff(d.attempts));
        state.store.record_webhook_attempt(&d, status, error.as_deref(), delivered, next, now_ms()).await?;
    }
    Ok(())
}

async fn send(client: &reqwest::Client, secret: &str, d: &WebhookDelivery) -> (Option<i64>, Option<String>) {
    let result = client
        .post(&d.url)
        .header("content-type", "application/json")
        .header("tollway-signature", signature(secret, &d.body))
        .header("tollway-event", &d.event)
        .header("tollway-delivery", d.id.to_string())
        .body(d.body.clone())
        .send()
        .await;
    match result {
        Ok(r) => {
            let status = i64::from(r.status().as_u16());
            let error = (!r.status().is_success()).then(|| format!("HTTP {status}"));
            (Some(status), error)
        }
        Err(e) => (None, Some(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_rfc4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0), 5_000);
        assert_eq!(backoff(1), 10_000);
        assert_eq!(backoff(3), 40_000);
        assert_eq!(backoff(30), 3_600_000);
    }
}
