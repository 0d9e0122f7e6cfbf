//! `WebSocket /ws/payments/{id}`: live status of one payment. The first
//! message, `connection_ack`, carries the whole current view (a reconnect
//! loses nothing); then `payment_status_update` whenever the status,
//! confirmations or amounts change. A change is noticed from this
//! process's watcher at once, and from any process by re-reading the
//! session every 2 seconds. The server pings every `evm.ws_ping_secs`; a
//! client's `{"type":"ping"}` is answered with `pong`.

use super::extract::{ClientIp, Path};
use super::payments::{payment_view, session_or_404, PaymentPath};
use crate::evm::stats::now_text;
use crate::evm::Evm;
use crate::{ApiError, AppState};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// How often a connection re-reads its session without a wake-up.
const REREAD: Duration = Duration::from_secs(2);
/// Largest message a client may send.
const MAX_CLIENT_MESSAGE: usize = 4_096;

/// Live status of a payment over WebSocket (see the module doc).
#[utoipa::path(get, path = "/ws/payments/{payment_id}", tag = "checkout", params(PaymentPath),
    responses((status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "`websocket_required` (not a WebSocket upgrade)", body = crate::error::ErrorBody),
        (status = 404, description = "`unknown_payment`", body = crate::error::ErrorBody),
        (status = 429, description = "`too_many_connections`", body = crate::error::ErrorBody),
        (status = 503, description = "`checkout_disabled`", body = crate::error::ErrorBody)))]
pub async fn payment_socket(
    State(s): State<AppState>,
    Path(p): Path<PaymentPath>,
    ClientIp(ip): ClientIp,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let evm = s.evm()?.clone();
    let refused = |e: ApiError| {
        evm.stats.connection_error();
        e
    };
    let upgrade = upgrade.map_err(|e| refused(ApiError::bad_request("websocket_required", format!("open this path as a WebSocket: {e}"))))?;
    let session = session_or_404(&s, &p.payment_id).await.map_err(refused)?;
    let ip = ip.unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
    let admission = evm.hub.admit(ip, evm.config.ws_max_total, evm.config.ws_max_per_ip).ok_or_else(|| {
        refused(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_connections", "too many live connections; close one or try later"))
    })?;
    let id = session.id;
    Ok(upgrade.max_message_size(MAX_CLIENT_MESSAGE).on_upgrade(move |socket| async move {
        evm.stats.connected(&id);
        evm.stats.log("frontend", "connected", Some(&id), "in", json!({}));
        if let Err(e) = serve(&s, &evm, &id, socket).await {
            tracing::debug!(payment = %id, error = %e, "payment socket ended");
        }
        evm.stats.disconnected();
        evm.stats.log("frontend", "disconnected", Some(&id), "in", json!({}));
        drop(admission);
    }))
}

/// Why a connection ended early.
#[derive(Debug, thiserror::Error)]
enum SocketEnd {
    #[error("socket: {0}")]
    Socket(#[from] axum::Error),
    #[error("{0}")]
    Api(String),
}

async fn send(evm: &Evm, socket: &mut WebSocket, kind: &str, id: &str, data: Value) -> Result<(), SocketEnd> {
    let message = json!({ "type": kind, "paymentId": id, "data": data, "timestamp": now_text() });
    evm.stats.log("frontend", kind, Some(id), "out", data);
    socket.send(Message::Text(message.to_string().into())).await?;
    Ok(())
}

async fn serve(s: &AppState, evm: &Arc<Evm>, id: &str, mut socket: WebSocket) -> Result<(), SocketEnd> {
    let mut wake = evm.hub.subscribe();
    let view = current(s, evm, id).await?;
    let mut last = view.status_update();
    send(evm, &mut socket, "connection_ack", id, serde_json::to_value(&view).unwrap_or(Value::Null)).await?;
    let mut reread = tokio::time::interval(REREAD);
    let mut ping = tokio::time::interval(Duration::from_secs(evm.config.ws_ping_secs.max(1)));
    ping.tick().await;
    loop {
        let look = tokio::select! {
            woken = wake.recv() => match woken {
                Ok(changed) => changed == id,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
            },
            _ = reread.tick() => true,
            _ = ping.tick() => {
                send(evm, &mut socket, "ping", id, json!({})).await?;
                false
            }
            incoming = socket.recv() => match incoming {
                None | Some(Ok(Message::Close(_))) => return Ok(()),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(Message::Text(text))) => {
                    answer(evm, &mut socket, id, text.as_str()).await?;
                    false
                }
                Some(Ok(_)) => false,
            },
        };
        if look {
            let update = current(s, evm, id).await?.status_update();
            if update != last {
                send(evm, &mut socket, "payment_status_update", id, update.clone()).await?;
                last = update;
            }
        }
    }
}

/// Answers a client's message: `ping` with `pong`; anything else with an
/// `error`.
async fn answer(evm: &Evm, socket: &mut WebSocket, id: &str, text: &str) -> Result<(), SocketEnd> {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let kind = parsed.as_ref().and_then(|v| v.get("type")).and_then(Value::as_str).map(str::to_owned);
    evm.stats.log("frontend", kind.as_deref().unwrap_or("unknown"), Some(id), "in", parsed.clone().unwrap_or(Value::Null));
    match kind.as_deref() {
        Some("ping") => send(evm, socket, "pong", id, json!({})).await,
        Some("pong") => Ok(()),
        _ => {
            let data = json!({ "code": "unknown_message", "message": "send {\"type\":\"ping\"}; status arrives by itself" });
            send(evm, socket, "error", id, data).await
        }
    }
}

async fn current(s: &AppState, evm: &Evm, id: &str) -> Result<crate::evm::view::PaymentView, SocketEnd> {
    let session = session_or_404(s, id).await.map_err(|e| SocketEnd::Api(format!("{}: {}", e.code, e.message)))?;
    payment_view(s, evm, &session).await.map_err(|e| SocketEnd::Api(format!("{}: {}", e.code, e.message)))
}
