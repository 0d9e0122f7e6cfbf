//! What the payee's channel API answers (docs/channels.md, "HTTP API"),
//! and the HTTP plumbing shared by every call.

use crate::error::PayerError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;
use tollway_core::channel::wire::PaymentDue;
use tollway_core::channel::{ChannelId, KeyId, SignedSubRav};
use tollway_core::Amount;

/// How long a plain API call may take.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A channel as the payee shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteChannel {
    /// Its id.
    pub id: ChannelId,
    /// Its chain (ledger) id.
    pub chain_id: u64,
    /// Its epoch.
    pub epoch: u64,
    /// The collateral's asset.
    pub asset: String,
    /// The collateral (the deposit).
    pub collateral: Amount,
    /// False once closed.
    pub open: bool,
    /// Everything accepted on it.
    pub owed: Amount,
    /// What the payee claimed of it.
    pub claimed: Amount,
    /// What went back to the owner's wallet at closing.
    pub refunded: Amount,
    /// When it was opened.
    #[serde(default)]
    pub created_at: Value,
    /// When it was closed.
    #[serde(default)]
    pub closed_at: Value,
    /// Its sub-channels.
    #[serde(default)]
    pub subs: Vec<RemoteSub>,
}

impl RemoteChannel {
    /// The sub-channel `id`.
    pub fn sub(&self, id: &KeyId) -> Option<&RemoteSub> {
        self.subs.iter().find(|s| s.sub_channel == *id)
    }
}

/// A sub-channel as the payee shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteSub {
    /// Its id (the payer key's id).
    pub sub_channel: KeyId,
    /// The payer's public key, `0x` hex.
    pub key: String,
    /// Nonce of the latest accepted receipt.
    pub nonce: u64,
    /// The accepted total.
    pub accumulated: Amount,
    /// What the payee claimed of it.
    pub claimed: Amount,
    /// The latest accepted signed receipt.
    #[serde(default)]
    pub latest: Option<SignedSubRav>,
    /// The proposal waiting for a signature.
    #[serde(default)]
    pub pending: Option<PaymentDue>,
}

/// The payee's answer to a posted receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptAck {
    /// The sub-channel's nonce now.
    pub nonce: u64,
    /// Its accepted total now.
    pub accepted: Amount,
    /// The receipt was already the latest accepted one.
    pub replay: bool,
}

/// The error body every Tollway endpoint answers with.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    #[serde(default)]
    message: String,
}

/// The channel's base URL without a trailing slash.
pub(crate) fn base(server: &str) -> &str {
    server.trim_end_matches('/')
}

pub(crate) fn transport(url: &str, e: impl std::fmt::Display) -> PayerError {
    PayerError::Transport { url: url.to_owned(), message: e.to_string() }
}

/// An error status and its body as a [`PayerError::Api`].
pub(crate) fn api_error(status: u16, body: &[u8]) -> PayerError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => PayerError::Api { status, code: b.error.code, message: b.error.message },
        Err(_) => {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            PayerError::Api { status, code: format!("http_{status}"), message: text }
        }
    }
}

/// Reads a JSON answer: the value on success, the server's error otherwise.
pub(crate) async fn read_json<T: DeserializeOwned>(url: &str, response: reqwest::Response) -> Result<T, PayerError> {
    let status = response.status();
    let body = response.bytes().await.map_err(|e| transport(url, e))?;
    if !status.is_success() {
        return Err(api_error(status.as_u16(), &body));
    }
    serde_json::from_slice(&body).map_err(|e| PayerError::Protocol(format!("{url}: {e}")))
}

/// Sends `request` and reads its JSON answer.
pub(crate) async fn call<T: DeserializeOwned>(url: &str, request: reqwest::RequestBuilder) -> Result<T, PayerError> {
    let response = request.send().await.map_err(|e| transport(url, e))?;
    read_json(url, response).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_keep_the_servers_code() {
        let e = api_error(409, br#"{"error":{"code":"nonce_stale","message":"old"}}"#);
        assert_eq!((e.code(), e.to_string().contains("old")), ("nonce_stale", true));
        assert_eq!(api_error(502, b"<html>").code(), "http_502");
    }

    #[test]
    fn a_channel_reads_with_null_receipts() {
        let id = format!("0x{}", "ab".repeat(32));
        let sub = format!("0x{}", "cd".repeat(20));
        let json = serde_json::json!({
            "id": id, "chain_id": 7, "epoch": 1, "asset": "POINTS", "collateral": "100", "open": true,
            "owed": "0", "claimed": "0", "refunded": "0", "created_at": 5, "closed_at": null,
            "subs": [{"sub_channel": sub, "key": "0x02", "nonce": 0, "accumulated": "0", "claimed": "0", "latest": null, "pending": null}],
            "later_field": 1
        });
        let c: RemoteChannel = serde_json::from_value(json).expect("channel");
        assert_eq!(c.subs.len(), 1);
        assert!(c.subs[0].latest.is_none());
    }
}
