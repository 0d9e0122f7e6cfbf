//! How an answer is paid for: from points (a hold on the wallet) or from a
//! payment channel (signed receipts).

use super::meter::{Meter, Shortage};
use super::paid::ChannelMeter;
use crate::ApiError;
use serde_json::{json, Value};
use tollway_store::requests::RequestRecord;

/// The payment behind one request.
pub enum Payment {
    /// Points held on the user's wallet.
    Points(Box<Meter>),
    /// A payment channel.
    Channel(Box<ChannelMeter>),
}

impl Payment {
    /// Makes sure `output` tokens are paid for (or may be delivered
    /// unpaid within a stream's window); `Err` names what stopped it.
    pub async fn cover(&mut self, output: u64) -> Result<Result<(), Shortage>, ApiError> {
        match self {
            Payment::Points(m) => m.cover(output).await,
            Payment::Channel(c) => c.cover(output).await,
        }
    }

    /// Cost of the prompt plus `output` tokens.
    pub fn cost(&self, output: u64) -> Result<tollway_core::Amount, ApiError> {
        match self {
            Payment::Points(m) => m.cost(output),
            Payment::Channel(c) => c.cost(output),
        }
    }

    /// The `tollway` field of a streamed channel chunk (the proposal to
    /// sign); `None` for points.
    pub fn chunk_due(&self) -> Option<Value> {
        match self {
            Payment::Points(_) => None,
            Payment::Channel(c) => c.chunk_due().map(|d| json!(d)),
        }
    }
}

/// Owns a payment while a handler may be dropped mid-request (the client
/// went away): a points hold neither settled nor voided is released at
/// once instead of waiting for its timeout, and the request recorded as
/// `disconnected`. Nothing was delivered, so nothing is charged (a whole
/// answer from a channel proposes nothing before it is complete).
pub struct PaymentGuard(Option<(Payment, RequestRecord)>);

impl PaymentGuard {
    /// Guards a payment; `record` is what is stored if the guard is dropped.
    pub fn new(payment: Payment, record: RequestRecord) -> Self {
        PaymentGuard(Some((payment, record)))
    }

    /// The payment, while guarded.
    pub fn payment(&mut self) -> Result<&mut Payment, ApiError> {
        self.0.as_mut().map(|(m, _)| m).ok_or_else(closed)
    }

    /// Takes the payment out to conclude it.
    pub fn take(mut self) -> Result<Payment, ApiError> {
        self.0.take().map(|(m, _)| m).ok_or_else(closed)
    }
}

fn closed() -> ApiError {
    ApiError::conflict("meter_closed", "the request's billing already ended")
}

impl Drop for PaymentGuard {
    fn drop(&mut self) {
        if let Some((Payment::Points(meter), mut record)) = self.0.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                record.status = "disconnected".into();
                runtime.spawn(async move {
                    let request = record.id.clone();
                    if let Err(e) = meter.void(record).await {
                        tracing::warn!(%request, error = %e.message, "could not release an abandoned hold; it expires");
                    }
                });
            }
        }
    }
}
