//! The payer: its channels at payees over HTTP, with the state file as
//! its memory.

use crate::api::{self, base, call, transport, ReceiptAck, RemoteChannel, RemoteSub, CALL_TIMEOUT};
use crate::error::PayerError;
use crate::signer::{HttpSink, ReceiptSink};
use crate::review::{Allowance, Decision};
use crate::state::{ChannelRecord, PayerState, Secret, StateFile};
use rand::RngCore;
use serde_json::{json, Value};
use std::time::Duration;
use tollway_core::channel::wire::{decode_header, encode_header, public_key_hex, PaymentData, PaymentDue, PAYMENT_HEADER};
use tollway_core::channel::{ChannelId, PayerKey, SignedSubRav, SubRav};
use tollway_core::channel::{prompt_bound, Entitlement, DEFAULT_SLACK_TOKENS};
use tollway_core::pricing::{Price, PriceRule};
use tollway_core::usage::TokenUsage;
use tollway_core::{Amount, Asset};

/// How long a whole (non-streamed) completion may take.
const COMPLETE_TIMEOUT: Duration = Duration::from_secs(600);

/// What opening a channel needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRequest {
    /// The payee's base URL (`http://host:port`).
    pub server: String,
    /// The owner's API key at the payee.
    pub api_key: String,
    /// Collateral moved from the wallet into the channel.
    pub deposit: Amount,
    /// The most the sub-channel may ever owe: no receipt above it is signed.
    pub budget: Amount,
    /// The default most one request may add.
    pub max_amount: Option<Amount>,
}

/// A channel seen from both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelView {
    /// The payer's record.
    pub local: ChannelRecord,
    /// The payee's.
    pub remote: RemoteChannel,
}

/// What [`Payer::recover`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryAction {
    /// Nothing signed on either side yet.
    NothingSigned,
    /// Both sides hold the same latest receipt.
    InSync,
    /// The payee held a newer receipt signed by this payer's key; it is
    /// now the local latest.
    Adopted,
    /// The payee had not accepted the local latest receipt; it was posted
    /// again and accepted.
    Reposted(ReceiptAck),
}

/// The outcome of [`Payer::recover`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// The channel.
    pub channel: ChannelId,
    /// What was done.
    pub action: RecoveryAction,
    /// The local latest signed receipt before.
    pub local_before: Option<SubRav>,
    /// The payee's latest accepted receipt before.
    pub remote_before: Option<SubRav>,
    /// The latest signed receipt now (both sides agree on it).
    pub latest: Option<SubRav>,
    /// The proposal the payee still waits to have signed (delivered but
    /// unpaid work; the next request's first proposal includes it).
    pub pending: Option<PaymentDue>,
}

/// The outcome of [`Payer::close`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The channel as the payee closed it (claimed, refunded).
    pub channel: RemoteChannel,
    /// The acknowledgement of a receipt that had not been confirmed and
    /// was posted before closing.
    pub flushed: Option<ReceiptAck>,
}

/// A whole (non-streamed) paid completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The response body.
    pub response: Value,
    /// The answer's text.
    pub text: String,
    /// The proposals signed for it, in order (work left unsigned by an
    /// earlier request first, if any, then the answer's).
    pub paid_for: Vec<SubRav>,
    /// What this request's receipts added to the sub-channel's total.
    pub paid: Amount,
}

/// The payer SDK: opens channels, pays for requests with signed receipts,
/// recovers after a crash. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Payer {
    pub(crate) state: StateFile,
    pub(crate) http: reqwest::Client,
}

/// A fresh random payer key.
fn fresh_key() -> Result<(PayerKey, [u8; 32]), PayerError> {
    for _ in 0..8 {
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        if let Ok(key) = PayerKey::from_bytes(secret) {
            return Ok((key, secret));
        }
    }
    Err(PayerError::Protocol("the random source gave no valid key".into()))
}

pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Output tokens a whole answer is paid for before it is seen, and the
/// default cap of a request, when the request sets no `max_tokens`.
pub const DEFAULT_MAX_TOKENS: u64 = 1024;

/// The request's `max_tokens` (or `max_completion_tokens`), if it sets one.
fn max_tokens(request: &Value) -> Option<u64> {
    request.get("max_tokens").or_else(|| request.get("max_completion_tokens")).and_then(Value::as_u64)
}

/// The allowance of one request on `record`: the pinned price of its
/// model, its prompt's bound, and its cap: `max_amount` if given, else
/// the record's default, else what the prompt and `max_tokens` (default
/// [`DEFAULT_MAX_TOKENS`]) cost at the pinned price; never more than is
/// left of the budget. A whole answer is paid before it is seen, so its
/// entitlement includes `max_tokens` of output at once.
pub(crate) fn allowance_for(record: &ChannelRecord, request: &Value, max_amount: Option<Amount>, whole: bool) -> Result<Allowance, PayerError> {
    let model = request.get("model").and_then(Value::as_str).ok_or_else(|| PayerError::InvalidArgument("the chat request names no model".into()))?;
    let rule = record.price_for(model)?;
    let messages = serde_json::to_vec(request.get("messages").unwrap_or(&Value::Null)).map_err(|e| PayerError::InvalidArgument(e.to_string()))?;
    let prompt = prompt_bound(&messages);
    let tokens = max_tokens(request).unwrap_or(DEFAULT_MAX_TOKENS);
    let mut entitlement = Entitlement::new(rule.clone(), prompt, record.slack_tokens);
    if whole {
        entitlement.prepay(tokens);
    }
    let priced = || rule.cost(TokenUsage { input: prompt, output: tokens.saturating_add(record.slack_tokens) }).unwrap_or(Amount::MAX);
    let cap = max_amount.or(record.max_amount).unwrap_or_else(priced);
    Ok(Allowance::new(cap.min(record.budget.saturating_sub(record.signed_total())), entitlement))
}

/// `request` as a JSON object with `stream` set.
pub(crate) fn with_stream(request: Value, stream: bool) -> Result<Value, PayerError> {
    let Value::Object(mut body) = request else {
        return Err(PayerError::InvalidArgument("the chat request must be a JSON object".into()));
    };
    body.insert("stream".into(), Value::Bool(stream));
    if stream && !body.contains_key("stream_options") {
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(Value::Object(body))
}

impl Payer {
    /// A payer keeping its state in `state`.
    pub fn new(state: StateFile) -> Result<Payer, PayerError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| PayerError::Protocol(format!("HTTP client: {e}")))?;
        Ok(Payer::with_client(state, http))
    }

    /// A payer using `http` for its requests.
    pub fn with_client(state: StateFile, http: reqwest::Client) -> Payer {
        Payer { state, http }
    }

    /// Where its state is kept.
    pub fn state(&self) -> &StateFile {
        &self.state
    }

    /// Every local channel and the default one.
    pub async fn list(&self) -> Result<PayerState, PayerError> {
        self.state.load_async().await
    }

    /// The local record of the channel `selector` names (a full id or a
    /// unique prefix; `None`: the default channel).
    pub async fn local(&self, selector: Option<&str>) -> Result<ChannelRecord, PayerError> {
        let state = self.state.load_async().await?;
        let id = state.resolve(selector)?;
        state.get(&id).cloned()
    }

    /// Makes the channel `selector` names the default one.
    pub async fn set_default(&self, selector: &str) -> Result<ChannelId, PayerError> {
        let selector = selector.to_owned();
        self.state
            .update_async(move |s| {
                let id = s.resolve(Some(&selector))?;
                s.default = Some(id);
                Ok(id)
            })
            .await
    }

    /// Opens a channel at `request.server`: a fresh key, `deposit` moved
    /// into escrow, the record saved (and made the default if there is no
    /// open default).
    pub async fn open(&self, request: OpenRequest) -> Result<ChannelRecord, PayerError> {
        let server = base(request.server.trim()).to_owned();
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(PayerError::InvalidArgument(format!("server {server:?} is not an http(s) URL")));
        }
        if request.deposit.is_zero() || request.budget.is_zero() {
            return Err(PayerError::InvalidArgument("deposit and budget must be above 0".into()));
        }
        if request.max_amount.is_some_and(|m| m.is_zero()) {
            return Err(PayerError::InvalidArgument("max_amount must be above 0".into()));
        }
        let prices = self.published_prices(&server, &request.api_key, None).await?;
        let (key, secret) = fresh_key()?;
        let url = format!("{server}/api/channels");
        let body = json!({"deposit": request.deposit.to_string(), "key": public_key_hex(&key.public())});
        let remote: RemoteChannel =
            call(&url, self.http.post(&url).timeout(CALL_TIMEOUT).bearer_auth(&request.api_key).json(&body)).await?;
        if remote.sub(&key.id()).is_none() {
            return Err(PayerError::Protocol(format!("channel {} was opened without this payer's key", remote.id)));
        }
        let record = ChannelRecord {
            server,
            api_key: Secret::new(request.api_key),
            channel: remote.id,
            chain_id: remote.chain_id,
            epoch: remote.epoch,
            asset: remote.asset.clone(),
            secret_key: Secret::new(format!("0x{}", hex::encode(secret))),
            sub_channel: key.id(),
            deposit: remote.collateral,
            budget: request.budget,
            max_amount: request.max_amount,
            latest_signed: None,
            latest_accepted: None,
            open: remote.open,
            opened_at: now_secs(),
            ckb: None,
            prices,
            slack_tokens: DEFAULT_SLACK_TOKENS,
        };
        self.save_new(record.clone()).await?;
        Ok(record)
    }

    /// Saves a newly opened channel, made the default if there is no open
    /// default.
    pub(crate) async fn save_new(&self, record: ChannelRecord) -> Result<(), PayerError> {
        self.state
            .update_async(move |s| {
                let default_open = s.default.and_then(|d| s.get(&d).ok()).is_some_and(|c| c.open);
                if !default_open {
                    s.default = Some(record.channel);
                }
                s.channels.push(record);
                Ok(())
            })
            .await
    }

    /// The channel as both sides see it.
    pub async fn show(&self, selector: Option<&str>) -> Result<ChannelView, PayerError> {
        let local = self.local(selector).await?;
        let remote = self.remote(&local).await?;
        Ok(ChannelView { local, remote })
    }

    /// The payee's view of the channel.
    pub async fn remote(&self, record: &ChannelRecord) -> Result<RemoteChannel, PayerError> {
        let url = format!("{}/api/channels/{}", base(&record.server), record.channel);
        call(&url, self.http.get(&url).timeout(CALL_TIMEOUT).bearer_auth(record.api_key.expose())).await
    }

    /// The payee's view of this payer's sub-channel (its latest accepted
    /// receipt and pending proposal).
    pub async fn remote_sub(&self, record: &ChannelRecord) -> Result<RemoteSub, PayerError> {
        let url = format!("{}/api/channels/{}/subs/{}", base(&record.server), record.channel, record.sub_channel);
        call(&url, self.http.get(&url).timeout(CALL_TIMEOUT).bearer_auth(record.api_key.expose())).await
    }

    /// Posts a signed receipt (again: the payee treats a replay as a no-op)
    /// and records it as accepted.
    pub async fn post_receipt(&self, record: &ChannelRecord, receipt: SignedSubRav) -> Result<ReceiptAck, PayerError> {
        let ack = HttpSink::new(self.http.clone(), record).post(receipt).await?;
        if ack.nonce >= receipt.rav.nonce {
            self.state.note_accepted(record.channel, receipt).await?;
        }
        Ok(ack)
    }

    /// Posts the latest signed receipt if the payee has not confirmed it.
    pub(crate) async fn flush(&self, record: &ChannelRecord) -> Result<Option<ReceiptAck>, PayerError> {
        match record.unconfirmed() {
            Some(receipt) => self.post_receipt(record, receipt).await.map(Some),
            None => Ok(None),
        }
    }

    /// Reconciles the local state with the payee's after a crash: a newer
    /// receipt the payee holds (verified to carry this payer's signature)
    /// is adopted; a newer local one is posted again. Afterwards both
    /// sides hold the same latest receipt.
    pub async fn recover(&self, selector: Option<&str>) -> Result<Recovery, PayerError> {
        let record = self.local(selector).await?;
        let remote = self.remote_sub(&record).await?;
        let key = record.key()?;
        if let Some(latest) = &remote.latest {
            let own = latest.rav.channel_id == record.channel
                && latest.rav.chain_id == record.chain_id
                && latest.rav.epoch == record.epoch
                && latest.verify(&key.public()).is_ok();
            if !own {
                return Err(PayerError::ForeignReceipt { nonce: latest.rav.nonce });
            }
        }
        let channel = record.channel;
        let theirs = remote.latest;
        // Decided and adopted under the state lock, against the file as it is now.
        let (ours, repost) = self
            .state
            .update_async(move |s| {
                let r = s.get_mut(&channel)?;
                let ours = r.latest_signed;
                let repost = match (ours, theirs) {
                    (None, None) => None,
                    (Some(l), None) => Some(l),
                    (None, Some(t)) => {
                        r.latest_signed = Some(t);
                        r.note_accepted(t);
                        None
                    }
                    (Some(l), Some(t)) if t.rav.nonce > l.rav.nonce => {
                        if t.rav.accumulated < l.rav.accumulated {
                            return Err(PayerError::Diverged { nonce: t.rav.nonce });
                        }
                        r.latest_signed = Some(t);
                        r.note_accepted(t);
                        None
                    }
                    (Some(l), Some(t)) if t.rav.nonce < l.rav.nonce => Some(l),
                    (Some(l), Some(t)) if l == t => {
                        r.note_accepted(t);
                        None
                    }
                    (Some(l), Some(_)) => return Err(PayerError::Diverged { nonce: l.rav.nonce }),
                };
                Ok((ours, repost))
            })
            .await?;
        let action = match (repost, ours, theirs) {
            (Some(receipt), _, _) => RecoveryAction::Reposted(self.post_receipt(&record, receipt).await?),
            (None, None, None) => RecoveryAction::NothingSigned,
            (None, Some(l), Some(t)) if l == t => RecoveryAction::InSync,
            (None, _, _) => RecoveryAction::Adopted,
        };
        let latest = self.local(Some(&channel.to_string())).await?.latest_signed.map(|s| s.rav);
        Ok(Recovery {
            channel,
            action,
            local_before: ours.map(|s| s.rav),
            remote_before: theirs.map(|s| s.rav),
            latest,
            pending: remote.pending,
        })
    }

    /// Closes the channel: posts a receipt the payee has not confirmed,
    /// then asks the payee to claim what it is owed and return the rest
    /// of the deposit to the wallet.
    pub async fn close(&self, selector: Option<&str>) -> Result<Closed, PayerError> {
        let record = self.local(selector).await?;
        let flushed = match self.flush(&record).await {
            Ok(ack) => ack,
            // Already closed at the payee: closing again just reports it.
            Err(e) if e.code() == "channel_closed" => None,
            Err(e) => return Err(e),
        };
        let url = format!("{}/api/channels/{}/close", base(&record.server), record.channel);
        let remote: RemoteChannel = call(&url, self.http.post(&url).timeout(CALL_TIMEOUT).bearer_auth(record.api_key.expose())).await?;
        let (channel, sub) = (record.channel, record.sub_channel);
        let theirs = remote.sub(&sub).and_then(|s| s.latest);
        let open = remote.open;
        self.state
            .update_async(move |s| {
                let r = s.get_mut(&channel)?;
                r.open = open;
                if let Some(t) = theirs.filter(|t| r.latest_signed == Some(*t)) {
                    r.note_accepted(t);
                }
                if s.default == Some(channel) && !open {
                    s.default = s.channels.iter().rev().find(|c| c.open).map(|c| c.channel);
                }
                Ok(())
            })
            .await?;
        Ok(Closed { channel: remote, flushed })
    }

    /// Reviews a proposal within `left` ([`Allowance::left`]) and, if it
    /// is to be signed, persists the receipt as the latest signed; the
    /// decision.
    pub(crate) async fn sign(&self, channel: ChannelId, proposal: SubRav, left: (Amount, Amount)) -> Result<Decision, PayerError> {
        self.state
            .update_async(move |s| {
                let r = s.get_mut(&channel)?;
                if !r.open {
                    return Err(PayerError::ChannelClosed(channel.to_string()));
                }
                let decision = r.decide(&proposal, left)?;
                if let Decision::Sign { receipt, .. } = decision {
                    r.latest_signed = Some(receipt);
                }
                Ok(decision)
            })
            .await
    }

    /// The payee's published prices (`GET /api/prices`), in the channel's
    /// asset: points, or `units_per_point` of a CKB channel's shannons.
    pub(crate) async fn published_prices(&self, server: &str, api_key: &str, units_per_point: Option<u64>) -> Result<Vec<PriceRule>, PayerError> {
        #[derive(serde::Deserialize)]
        struct Published {
            model: String,
            version: i64,
            input_per_1k: String,
            output_per_1k: String,
        }
        #[derive(serde::Deserialize)]
        struct List {
            prices: Vec<Published>,
        }
        let url = format!("{server}/api/prices");
        let list: List = call(&url, self.http.get(&url).timeout(CALL_TIMEOUT).bearer_auth(api_key)).await?;
        let price = |text: &str| Price::parse(text, Asset::POINTS).map_err(|e| PayerError::Protocol(format!("a published price {text:?}: {e}")));
        let mut rules = Vec::new();
        for p in list.prices {
            let rule = PriceRule { model: p.model, version: p.version, input_per_1k: price(&p.input_per_1k)?, output_per_1k: price(&p.output_per_1k)?, effective_from: 0, active: true };
            rules.push(match units_per_point {
                Some(rate) => rule.converted(rate).map_err(|e| PayerError::Protocol(format!("a published price in shannons: {e}")))?,
                None => rule,
            });
        }
        Ok(rules)
    }

    /// A whole (non-streamed) chat completion paid from the channel. The
    /// payee makes the answer and hands it over only once paid: the first
    /// response is 402 with the proposal for its cost (plus any work an
    /// earlier request left unsigned). The proposal is reviewed within the
    /// request's allowance (its cap, and the prompt plus `max_tokens` at
    /// the pinned price: a whole answer is paid before it is seen),
    /// signed, sent (in the header; on a CKB channel posted with its
    /// commitment first), and the same request sent again gets the
    /// answer. Every proposal signed counts against the same request's
    /// cap. A request without `max_tokens` gets [`DEFAULT_MAX_TOKENS`].
    pub async fn complete(&self, selector: Option<&str>, request: Value, max_amount: Option<Amount>) -> Result<Completion, PayerError> {
        let record = self.local(selector).await?;
        if !record.open {
            return Err(PayerError::ChannelClosed(record.channel.to_string()));
        }
        let mut body = with_stream(request, false)?;
        if max_tokens(&body).is_none() {
            body["max_tokens"] = json!(DEFAULT_MAX_TOKENS);
        }
        let mut allowance = allowance_for(&record, &body, max_amount, true)?;
        let url = format!("{}/v1/chat/completions", base(&record.server));
        let mut receipt = record.unconfirmed();
        let mut paid_for = Vec::new();
        for _ in 0..4 {
            // A CKB channel's receipt goes with its commitment to the receipts endpoint.
            if record.ckb.is_some() {
                if let Some(r) = receipt.take() {
                    self.post_receipt(&record, r).await?;
                }
            }
            let (max_left, entitled_left) = allowance.left();
            let data = PaymentData { channel: record.channel, sub_channel: record.sub_channel, max_amount: Some(max_left.min(entitled_left)), receipt };
            let response = self
                .http
                .post(&url)
                .timeout(COMPLETE_TIMEOUT)
                .bearer_auth(record.api_key.expose())
                .header(PAYMENT_HEADER, encode_header(&data))
                .json(&body)
                .send()
                .await
                .map_err(|e| transport(&url, e))?;
            let status = response.status().as_u16();
            if let (402, Some(due)) = (status, payment_due(&response)?) {
                receipt = match self.sign(record.channel, due.proposal, allowance.left()).await? {
                    Decision::Sign { receipt, delta } => {
                        allowance.add(delta);
                        paid_for.push(due.proposal);
                        Some(receipt)
                    }
                    // Signed before but not yet accepted: send it again.
                    Decision::AlreadySigned | Decision::Superseded => self.local(Some(&record.channel.to_string())).await?.latest_signed,
                };
                continue;
            }
            let bytes = response.bytes().await.map_err(|e| transport(&url, e))?;
            if !(200..300).contains(&status) {
                return Err(api::api_error(status, &bytes));
            }
            let response: Value = serde_json::from_slice(&bytes).map_err(|e| PayerError::Protocol(format!("{url}: {e}")))?;
            if let Some(sent) = receipt {
                // Answered: the payee accepted the receipt sent with it.
                self.state.note_accepted(record.channel, sent).await?;
            }
            let text = response["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_owned();
            return Ok(Completion { response, text, paid_for, paid: allowance.added() });
        }
        Err(PayerError::Protocol("the payee still asked for payment after four receipts".into()))
    }
}

/// The `X-Tollway-Channel` response header, if any.
fn payment_due(response: &reqwest::Response) -> Result<Option<PaymentDue>, PayerError> {
    match response.headers().get(PAYMENT_HEADER) {
        Some(value) => decode_header(value.as_bytes())
            .map(Some)
            .map_err(|e| PayerError::Protocol(format!("the {PAYMENT_HEADER} response header: {e}"))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_made_a_stream_with_usage() {
        let body = with_stream(json!({"model": "m", "messages": []}), true).expect("object");
        assert_eq!(body["stream"], true);
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(with_stream(json!({"stream": true}), false).expect("object")["stream"], false);
        assert_eq!(with_stream(json!([1]), true).map_err(|e| e.code().to_owned()), Err("invalid_argument".to_owned()));
    }

    #[test]
    fn a_fresh_key_is_random_and_valid() {
        let (a, sa) = fresh_key().expect("key");
        let (b, _) = fresh_key().expect("key");
        assert_ne!(a.id(), b.id());
        assert_eq!(PayerKey::from_bytes(sa).expect("valid").id(), a.id());
    }
}
