//! The payment view the API, the WebSocket and the pages show.

use super::stats::rfc3339;
use chrono::{TimeZone, Utc};
use serde::Serialize;
use serde_json::Value;
use tollway_core::evm::{payment_uri, TokenAmount};
use tollway_store::evm::{SessionRow, TransferRow, TransferState};
use utoipa::ToSchema;

/// The transfer that pays a session (the latest counted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TransactionView {
    /// Transaction hash.
    pub hash: String,
    /// Log index of the Transfer in its block.
    pub log_index: u64,
    /// Its block.
    pub block_number: u64,
    /// Its block's hash.
    pub block_hash: String,
    /// The payer.
    pub from: String,
    /// Display amount.
    pub amount: String,
    /// Token units.
    pub amount_units: String,
    /// Blocks on top of it, its own included.
    pub confirmations: u64,
}

/// A payment session as the API shows it (docs/stablecoin.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PaymentView {
    /// `pay_` + 32 hex digits.
    pub id: String,
    /// `waiting`, `confirming`, `paid`, `expired`, `failed`.
    pub status: String,
    /// `paid_late`, `paid_partial`, `paid_over`, or null.
    pub exception: Option<String>,
    /// The product bought, if any.
    pub product_id: Option<String>,
    /// What is bought.
    pub description: String,
    /// The network's id.
    pub network: String,
    /// Its chain id.
    pub chain_id: u64,
    /// Token symbol.
    pub token: String,
    /// Token contract.
    pub token_address: String,
    /// Token decimals.
    pub decimals: u8,
    /// Where to pay.
    pub deposit_address: String,
    /// Exactly what to pay, display form.
    pub amount: String,
    /// Exactly what to pay, token units.
    pub amount_units: String,
    /// What was asked for, before the unique offset.
    pub requested_amount: String,
    /// Confirmed so far, display form.
    pub amount_received: String,
    /// Confirmed so far, token units.
    pub amount_received_units: String,
    /// Points credited when paid (to `user`).
    pub points: Option<String>,
    /// The user credited, by handle.
    pub user: Option<String>,
    /// EIP-681 link for wallets and the QR code.
    pub payment_uri: String,
    /// Confirmations a transfer needs.
    pub confirmations_required: u64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub expires_at: String,
    /// RFC 3339, once paid.
    pub paid_at: Option<String>,
    /// The latest transfer counted for it.
    pub transaction: Option<TransactionView>,
    /// The creator's metadata.
    #[schema(value_type = Object)]
    pub metadata: Value,
}

fn time(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms).single().map(rfc3339).unwrap_or_default()
}

fn display(units: u128, decimals: u8) -> String {
    TokenAmount { units, decimals }.display()
}

impl PaymentView {
    /// The view of `s`, with its transfers and the network's latest head
    /// (for confirmations), and its user's handle.
    pub fn new(s: &SessionRow, transfers: &[TransferRow], head: Option<u64>, user: Option<String>) -> PaymentView {
        let latest = transfers.iter().rev().find(|t| t.state != TransferState::Dropped);
        PaymentView {
            id: s.id.clone(),
            status: s.state.status.as_str().into(),
            exception: s.state.exception.map(|e| e.as_str().into()),
            product_id: s.product_id.clone(),
            description: s.description.clone(),
            network: s.network_id.clone(),
            chain_id: s.chain_id,
            token: s.token_symbol.clone(),
            token_address: s.token_address.to_string(),
            decimals: s.decimals,
            deposit_address: s.deposit_address.to_string(),
            amount: display(s.state.amount_due, s.decimals),
            amount_units: s.state.amount_due.to_string(),
            requested_amount: display(s.requested_units, s.decimals),
            amount_received: display(s.state.confirmed, s.decimals),
            amount_received_units: s.state.confirmed.to_string(),
            points: s.points.map(|p| p.to_string()),
            user,
            payment_uri: payment_uri(&s.token_address, s.chain_id, &s.deposit_address, s.state.amount_due),
            confirmations_required: s.confirmations_required,
            created_at: time(s.created_at),
            expires_at: time(s.state.expires_at_ms),
            paid_at: s.paid_at.map(time),
            transaction: latest.map(|t| TransactionView {
                hash: t.tx_hash.to_string(),
                log_index: t.log_index,
                block_number: t.block_number,
                block_hash: t.block_hash.to_string(),
                from: t.from.to_string(),
                amount: t.value().map(|v| display(v, s.decimals)).unwrap_or_else(|| t.value_units.clone()),
                amount_units: t.value_units.clone(),
                confirmations: confirmations(t, head, s.confirmations_required),
            }),
            metadata: serde_json::from_str(&s.metadata).unwrap_or(Value::Null),
        }
    }

    /// The data of a `payment_status_update` message (the seed's shape,
    /// with the exception and the amount received added).
    pub fn status_update(&self) -> Value {
        serde_json::json!({
            "status": self.status,
            "exception": self.exception,
            "transactionHash": self.transaction.as_ref().map(|t| &t.hash),
            "blockNumber": self.transaction.as_ref().map(|t| t.block_number),
            "confirmations": self.transaction.as_ref().map_or(0, |t| t.confirmations),
            "amount": self.amount,
            "amountReceived": self.amount_received,
            "token": self.token,
        })
    }
}

/// Confirmations of `t` at `head`: a confirmed transfer has at least the
/// required number, whatever this process's head says.
fn confirmations(t: &TransferRow, head: Option<u64>, required: u64) -> u64 {
    let counted = head.map_or(0, |h| (h + 1).saturating_sub(t.block_number));
    if t.state == TransferState::Confirmed {
        counted.max(required)
    } else {
        counted
    }
}
