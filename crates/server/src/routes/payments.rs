//! The stablecoin checkout's API (docs/stablecoin.md): products, tokens,
//! networks, creating and reading payment sessions, and checking a
//! transaction hash a buyer submits.

use super::extract::{body, ClientIp, JsonBody, MaybeCaller, Path};
use crate::evm::view::PaymentView;
use crate::evm::{Evm, Network};
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use tollway_core::evm::{amount_candidates, points_for, AmountError, TokenAmount};
use tollway_store::evm::{NewSession, SessionRow, TokenRow};
use tollway_store::now_ms;
use utoipa::ToSchema;

/// Largest metadata, bytes of JSON.
const MAX_METADATA_BYTES: usize = 4_096;

/// A network as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkView {
    id: String,
    name: String,
    chain_id: u64,
    /// The first JSON-RPC endpoint (a wallet may add the network with it).
    rpc_url: String,
    websocket_url: Option<String>,
    confirmations: u64,
    deposit_address: String,
    is_active: bool,
}

/// A token as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    symbol: String,
    name: String,
    network: String,
    chain_id: u64,
    contract_address: String,
    decimals: u8,
    is_active: bool,
}

/// A product as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductView {
    id: String,
    name: String,
    description: String,
    /// Price in whole tokens (US dollars).
    price: String,
    currency: &'static str,
    /// Points a signed-in buyer is credited.
    points: String,
}

/// Networks payments are accepted on (the `networks` table).
#[utoipa::path(get, path = "/api/v1/networks", tag = "checkout", responses((status = 200, body = [NetworkView]),
    (status = 503, description = "`checkout_disabled`", body = crate::error::ErrorBody)))]
pub async fn networks(State(s): State<AppState>) -> Result<Json<Vec<NetworkView>>, ApiError> {
    s.evm()?;
    let rows = s.store.networks().await?;
    Ok(Json(
        rows.into_iter()
            .map(|n| NetworkView {
                rpc_url: n.rpc_urls.first().cloned().unwrap_or_default(),
                id: n.id,
                name: n.name,
                chain_id: n.chain_id,
                websocket_url: n.websocket_url,
                confirmations: n.confirmations,
                deposit_address: n.deposit_address.to_string(),
                is_active: n.is_active,
            })
            .collect(),
    ))
}

/// Tokens accepted (the `tokens` table).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "checkout", responses((status = 200, body = [TokenView]),
    (status = 503, description = "`checkout_disabled`", body = crate::error::ErrorBody)))]
pub async fn tokens(State(s): State<AppState>) -> Result<Json<Vec<TokenView>>, ApiError> {
    s.evm()?;
    let networks = s.store.networks().await?;
    let chain = |id: &str| networks.iter().find(|n| n.id == id).map_or(0, |n| n.chain_id);
    Ok(Json(
        s.store
            .tokens()
            .await?
            .into_iter()
            .map(|t| TokenView {
                chain_id: chain(&t.network_id),
                symbol: t.symbol,
                name: t.name,
                network: t.network_id,
                contract_address: t.contract_address.to_string(),
                decimals: t.decimals,
                is_active: t.is_active,
            })
            .collect(),
    ))
}

/// What the checkout sells.
#[utoipa::path(get, path = "/api/v1/products", tag = "checkout", responses((status = 200, body = [ProductView]),
    (status = 503, description = "`checkout_disabled`", body = crate::error::ErrorBody)))]
pub async fn products(State(s): State<AppState>) -> Result<Json<Vec<ProductView>>, ApiError> {
    let evm = s.evm()?;
    let views = evm
        .config
        .products
        .iter()
        .map(|p| {
            let units = TokenAmount::parse(&p.price, 18, u128::MAX).map_err(|e| ApiError::unprocessable("invalid_product", e.to_string()))?.units;
            let points = points_for(units, 18, u128::from(evm.config.points_per_token)).map_err(|e| ApiError::unprocessable("invalid_product", e.to_string()))?;
            Ok(ProductView {
                id: p.id.clone(),
                name: p.name.clone(),
                description: p.description.clone(),
                price: p.price.clone(),
                currency: "USD",
                points: points.to_string(),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Json(views))
}

/// A payment session to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    /// A product's id (or give `amount`).
    product_id: Option<String>,
    /// An amount in whole tokens, a decimal string (or give `product_id`).
    amount: Option<String>,
    /// Token symbol (`USDT`, `USDC`, `BUSD`).
    #[serde(alias = "token_symbol")]
    token: String,
    /// Network id; may be left out when there is one network.
    #[serde(alias = "network_id")]
    network: Option<String>,
    /// Free JSON object kept with the session (at most 4 KB).
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
    /// The user whose points the payment buys (needs a key: a user's key
    /// names itself, an admin's anyone).
    user: Option<String>,
    /// The merchant's webhook (needs an admin key).
    webhook_url: Option<String>,
}

/// Creates a payment session: a unique amount to pay to the deposit
/// address within the expiry.
#[utoipa::path(post, path = "/api/v1/payments", tag = "checkout", request_body = NewPayment, security((), ("api_key" = [])),
    responses((status = 201, body = PaymentView),
        (status = 400, description = "`malformed_json`", body = crate::error::ErrorBody),
        (status = 401, description = "`api_key_missing` (`user` needs a key), `api_key_invalid`", body = crate::error::ErrorBody),
        (status = 403, description = "`not_your_user`, `admin_required` (webhooks)", body = crate::error::ErrorBody),
        (status = 404, description = "`unknown_user`", body = crate::error::ErrorBody),
        (status = 422, description = "`unknown_network`, `network_required`, `unknown_token`, `unknown_product`, `amount_required`, \
            `invalid_field`, `invalid_amount`, `amount_not_positive`, `amount_too_large`, `invalid_metadata`, `invalid_webhook_url`, \
            `webhooks_not_configured`", body = crate::error::ErrorBody),
        (status = 429, description = "`too_many_open_payments`", body = crate::error::ErrorBody),
        (status = 503, description = "`checkout_disabled`, `no_free_amount`", body = crate::error::ErrorBody)))]
pub async fn create_payment(
    State(s): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ClientIp(ip): ClientIp,
    b: JsonBody<NewPayment>,
) -> Result<(StatusCode, Json<PaymentView>), ApiError> {
    let evm = s.evm()?.clone();
    let req = body(b)?;
    let network = pick_network(&evm, req.network.as_deref())?;
    let token = network
        .tokens
        .iter()
        .find(|t| t.symbol.eq_ignore_ascii_case(&req.token) && t.is_active)
        .cloned()
        .ok_or_else(|| ApiError::unprocessable("unknown_token", format!("no token {:?} on network {}", cut(&req.token), network.row.id)))?;
    let (requested, product_id, description) = requested_amount(&evm, &req, &token)?;
    let metadata = metadata_text(req.metadata)?;
    let user = match &req.user {
        None => None,
        Some(handle) => Some(credited_user(&s, caller.as_ref(), handle).await?),
    };
    let webhook_url = match req.webhook_url {
        None => None,
        Some(url) => Some(webhook(&evm, caller.as_ref(), url)?),
    };
    let points = match user {
        Some(_) => Some(points_for(requested.units, token.decimals, u128::from(evm.config.points_per_token)).map_err(amount_error)?),
        None => None,
    };
    let step = 10u128.pow(u32::from(token.decimals.saturating_sub(evm.config.amount_step_digits)));
    let candidates = amount_candidates(requested.units, step, evm.config.amount_slots.max(1)).map_err(amount_error)?;
    let now = now_ms();
    let ttl = i64::try_from(evm.config.session_ttl_secs.saturating_mul(1_000)).unwrap_or(i64::MAX / 4);
    let grace = i64::try_from(evm.config.late_grace_secs.saturating_mul(1_000)).unwrap_or(i64::MAX / 4);
    let creator = super::extract::client_label(caller.as_ref(), ip);
    let mut id_bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut id_bytes);
    let new = NewSession {
        id: format!("pay_{}", hex::encode(id_bytes)),
        network: network.row.clone(),
        token,
        product_id,
        description,
        requested,
        candidates,
        user_id: user.as_ref().map(|u| u.id),
        points,
        webhook_url,
        metadata,
        creator,
        max_open_per_creator: evm.config.max_open_per_client,
        now,
        expires_at: now + ttl,
        release_at: now + ttl + grace,
    };
    let session = s.store.create_payment_session(&new).await?;
    let view = PaymentView::new(&session, &[], evm.hub.head(&session.network_id), user.map(|u| u.handle));
    Ok((StatusCode::CREATED, Json(view)))
}

/// A payment session's id in a path.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PaymentPath {
    /// `pay_` + 32 hex digits.
    pub payment_id: String,
}

/// A payment session.
#[utoipa::path(get, path = "/api/v1/payments/{payment_id}", tag = "checkout", params(PaymentPath),
    responses((status = 200, body = PaymentView), (status = 404, description = "`unknown_payment`", body = crate::error::ErrorBody),
        (status = 503, description = "`checkout_disabled`", body = crate::error::ErrorBody)))]
pub async fn get_payment(State(s): State<AppState>, Path(p): Path<PaymentPath>) -> Result<Json<PaymentView>, ApiError> {
    let evm = s.evm()?;
    let session = session_or_404(&s, &p.payment_id).await?;
    Ok(Json(payment_view(&s, evm, &session).await?))
}

/// The session `id`, or 404 `unknown_payment`.
pub async fn session_or_404(s: &AppState, id: &str) -> Result<SessionRow, ApiError> {
    s.store.payment_session(id).await?.ok_or_else(|| ApiError::not_found("unknown_payment", format!("no payment {:?}", cut(id))))
}

/// The view of `session` now.
pub async fn payment_view(s: &AppState, evm: &Evm, session: &SessionRow) -> Result<PaymentView, ApiError> {
    let transfers = s.store.session_transfers(&session.id).await?;
    let user = match session.user_id {
        Some(id) => s.store.user(id).await?.map(|u| u.handle),
        None => None,
    };
    Ok(PaymentView::new(session, &transfers, evm.hub.head(&session.network_id), user))
}

fn pick_network(evm: &Evm, id: Option<&str>) -> Result<Arc<Network>, ApiError> {
    match id {
        Some(id) => evm
            .network(id)
            .filter(|n| n.row.is_active)
            .cloned()
            .ok_or_else(|| ApiError::unprocessable("unknown_network", format!("no network {:?}; see GET /api/v1/networks", cut(id)))),
        None if evm.networks.len() == 1 => evm.networks.values().next().cloned().ok_or_else(|| ApiError::unprocessable("network_required", "name a network")),
        None => Err(ApiError::unprocessable("network_required", "several networks are configured: name one (GET /api/v1/networks)")),
    }
}

/// A client's text quoted in an error, cut to 64 characters.
fn cut(text: &str) -> String {
    text.chars().take(64).collect()
}

fn amount_error(e: AmountError) -> ApiError {
    match e {
        AmountError::NotDecimal(..) => ApiError::unprocessable("invalid_amount", e.to_string()),
        AmountError::Zero => ApiError::unprocessable("amount_not_positive", e.to_string()),
        AmountError::TooLarge { .. } | AmountError::Overflow => ApiError::unprocessable("amount_too_large", e.to_string()),
    }
}

/// The amount asked for, the product and the description.
fn requested_amount(evm: &Evm, req: &NewPayment, token: &TokenRow) -> Result<(TokenAmount, Option<String>, String), ApiError> {
    let max_whole = TokenAmount::parse(&evm.config.max_amount, 0, u128::MAX).map_err(|e| ApiError::unprocessable("invalid_amount", e.to_string()))?;
    let max = max_whole.units.saturating_mul(10u128.pow(u32::from(token.decimals)));
    match (&req.product_id, &req.amount) {
        (Some(_), Some(_)) => Err(ApiError::unprocessable("invalid_field", "give product_id or amount, not both")),
        (None, None) => Err(ApiError::unprocessable("amount_required", "give product_id or amount")),
        (Some(id), None) => {
            let product = evm
                .config
                .products
                .iter()
                .find(|p| &p.id == id)
                .ok_or_else(|| ApiError::unprocessable("unknown_product", format!("no product {:?}; see GET /api/v1/products", cut(id))))?;
            let amount = TokenAmount::parse(&product.price, token.decimals, max).map_err(amount_error)?;
            Ok((amount, Some(product.id.clone()), product.name.clone()))
        }
        (None, Some(text)) => {
            let amount = TokenAmount::parse(text, token.decimals, max).map_err(amount_error)?;
            Ok((amount, None, format!("{} {}", amount.display(), token.symbol)))
        }
    }
}

fn metadata_text(metadata: Option<Value>) -> Result<String, ApiError> {
    let value = metadata.unwrap_or_else(|| Value::Object(Default::default()));
    if !value.is_object() {
        return Err(ApiError::unprocessable("invalid_metadata", "metadata must be a JSON object"));
    }
    let text = value.to_string();
    if text.len() > MAX_METADATA_BYTES {
        return Err(ApiError::unprocessable("invalid_metadata", format!("metadata is {} bytes; at most {MAX_METADATA_BYTES}", text.len())));
    }
    Ok(text)
}

/// The user `handle` names, if the caller may credit them.
async fn credited_user(s: &AppState, caller: Option<&crate::auth::Caller>, handle: &str) -> Result<tollway_store::directory::User, ApiError> {
    let caller = caller.ok_or_else(|| ApiError::unauthorized("api_key_missing", "naming a user needs that user's key (Authorization: Bearer)"))?;
    if !caller.user.is_admin() && caller.user.handle != handle {
        return Err(ApiError::forbidden("not_your_user", "a user's key may only buy points for that user"));
    }
    s.store.user_by_handle(handle).await?.ok_or_else(|| ApiError::not_found("unknown_user", format!("no user {:?}", cut(handle))))
}

/// A merchant's webhook URL, checked.
fn webhook(evm: &Evm, caller: Option<&crate::auth::Caller>, url: String) -> Result<String, ApiError> {
    if !caller.is_some_and(|c| c.user.is_admin()) {
        return Err(ApiError::forbidden("admin_required", "a webhook URL needs the merchant's (admin) key"));
    }
    if evm.config.webhook_secret.is_none() {
        return Err(ApiError::unprocessable("webhooks_not_configured", "set evm.webhook_secret to sign webhooks"));
    }
    let valid = url.len() <= 2_048 && (url.starts_with("https://") || url.starts_with("http://")) && !url.contains(char::is_whitespace);
    if !valid {
        return Err(ApiError::unprocessable("invalid_webhook_url", "webhook_url must be an http(s) URL of at most 2,048 characters"));
    }
    Ok(url)
}
