//! `POST /api/v1/payments/{id}/process`: a buyer submits the hash of the
//! transaction that paid. The transaction is read from the chain now and
//! its Transfers to the deposit address are recorded with the watcher's
//! own matching: a transfer belongs to the session holding exactly its
//! amount, whoever submits it, so nobody can claim another buyer's
//! payment by submitting its hash. Submitting again changes nothing.

use super::extract::{body, JsonBody, Path};
use super::payments::{payment_view, session_or_404, PaymentPath};
use crate::evm::view::PaymentView;
use crate::evm::watcher::found_transfer;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use std::time::Instant;
use tollway_core::evm::{Hash32, TokenAmount};
use tollway_store::now_ms;
use utoipa::ToSchema;

/// The transaction to look at.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessRequest {
    /// `0x` + 64 hex digits.
    #[serde(alias = "tx_hash", alias = "transactionHash")]
    transaction_hash: String,
}

/// Looks at a transaction the buyer says paid this session, now (the
/// watcher would find it too; this is only sooner). Idempotent.
#[utoipa::path(post, path = "/api/v1/payments/{payment_id}/process", tag = "checkout", params(PaymentPath), request_body = ProcessRequest,
    responses((status = 200, body = PaymentView),
        (status = 400, description = "`malformed_json`, `invalid_tx_hash`", body = crate::error::ErrorBody),
        (status = 404, description = "`unknown_payment`, `transaction_not_found` (unknown, or not yet in a block)", body = crate::error::ErrorBody),
        (status = 409, description = "`transfer_for_another_payment`", body = crate::error::ErrorBody),
        (status = 422, description = "`transaction_failed`, `wrong_recipient`, `wrong_token`, `no_transfer`, `amount_mismatch`", body = crate::error::ErrorBody),
        (status = 502, description = "`rpc_unavailable` and other chain errors", body = crate::error::ErrorBody),
        (status = 503, description = "`checkout_disabled`", body = crate::error::ErrorBody)))]
pub async fn process_payment(State(s): State<AppState>, Path(p): Path<PaymentPath>, b: JsonBody<ProcessRequest>) -> Result<Json<PaymentView>, ApiError> {
    let evm = s.evm()?.clone();
    let started = Instant::now();
    let result = process(&s, &p.payment_id, body(b)?).await;
    evm.stats.validated(result.is_ok(), u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
    result.map(Json)
}

async fn process(s: &AppState, id: &str, req: ProcessRequest) -> Result<PaymentView, ApiError> {
    let evm = s.evm()?.clone();
    let session = session_or_404(s, id).await?;
    let hash: Hash32 = req.transaction_hash.trim().parse().map_err(|e| ApiError::bad_request("invalid_tx_hash", format!("{e}")))?;
    let network = evm.network(&session.network_id).cloned().ok_or_else(|| ApiError::unprocessable("unknown_network", "the payment's network is no longer configured"))?;
    let chain = |e: tollway_chain::evm::EvmError| ApiError::new(axum::http::StatusCode::BAD_GATEWAY, e.code(), e.to_string());
    let receipt = network
        .client
        .transaction(hash)
        .await
        .map_err(chain)?
        .ok_or_else(|| ApiError::not_found("transaction_not_found", "no such transaction in a block yet; try again once it is mined"))?;
    if !receipt.succeeded {
        return Err(ApiError::unprocessable("transaction_failed", "the transaction failed (reverted): it moved no tokens"));
    }
    let tokens: Vec<_> = network.tokens.iter().map(|t| t.contract_address).collect();
    let deposit = network.row.deposit_address;
    let to_us: Vec<_> = receipt.transfers.iter().filter(|t| t.to == deposit && tokens.contains(&t.token)).collect();
    if !to_us.iter().any(|t| t.token == session.token_address) {
        let code = if !to_us.is_empty() || receipt.transfers.iter().any(|t| t.to == deposit) {
            ("wrong_token", format!("the transaction sends no {} to the deposit address", session.token_symbol))
        } else if receipt.transfers.iter().any(|t| t.token == session.token_address) {
            ("wrong_recipient", format!("the transaction sends {} to another address, not to {deposit}", session.token_symbol))
        } else {
            ("no_transfer", "the transaction has no token transfer".to_owned())
        };
        return Err(ApiError::unprocessable(code.0, code.1));
    }
    let block = network.client.block(receipt.block_number).await.map_err(chain)?.filter(|b| b.hash == receipt.block_hash);
    let block = block.ok_or_else(|| ApiError::not_found("transaction_not_found", "the transaction's block is no longer on the chain; try again"))?;
    let found: Vec<_> = to_us.iter().map(|t| found_transfer(t, &block)).collect();
    let recorded = s.store.record_evm_transfers(&network.row, &found, "process", now_ms()).await?;
    for r in &recorded {
        if let Some(other) = &r.transfer.session_id {
            evm.hub.notify(other);
        }
    }
    let ours = recorded.iter().find(|r| r.transfer.session_id.as_deref() == Some(id) && r.transfer.token_address == session.token_address);
    if ours.is_none() {
        if recorded.iter().any(|r| r.transfer.session_id.is_some() && r.transfer.token_address == session.token_address) {
            return Err(ApiError::conflict("transfer_for_another_payment", "this transaction pays another payment, not this one"));
        }
        let sent: Vec<String> = recorded
            .iter()
            .filter(|r| r.transfer.token_address == session.token_address)
            .map(|r| r.transfer.value().map_or_else(|| r.transfer.value_units.clone(), |v| TokenAmount { units: v, decimals: session.decimals }.display()))
            .collect();
        return Err(ApiError::unprocessable(
            "amount_mismatch",
            format!(
                "the transaction sends {} {} but this payment asks for exactly {}; the transfer is kept for an admin to review",
                sent.join(" + "),
                session.token_symbol,
                TokenAmount { units: session.state.amount_due, decimals: session.decimals }.display()
            ),
        ));
    }
    let session = session_or_404(s, id).await?;
    payment_view(s, &evm, &session).await
}
