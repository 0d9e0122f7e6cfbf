//! Operations shared by the admin API and the `tollway admin` commands.

use crate::ApiError;
use tollway_core::ledger::{
    AccountId, ChainError, Command, Grant, Links, Operation, Reason, TransferError, TransferId, TransferRequest,
    CLIENT_KEY_RULE,
};
use tollway_core::pricing::Price;
use tollway_core::{Amount, Asset};
use tollway_store::directory::User;
use tollway_store::prices::{NewRule, StoredRule};
use tollway_store::{LedgerWriter, Store, Submission};

const P: Asset = Asset::POINTS;

/// A fresh random API key: `tw_` and 32 alphanumerics.
pub fn new_secret(prefix: &str) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let body: String = (0..32).map(|_| char::from(rng.sample(rand::distributions::Alphanumeric))).collect();
    format!("{prefix}{body}")
}

/// Creates a user and a first API key; returns the key in plain text (the
/// only time it is shown).
pub async fn create_user(store: &Store, handle: &str, admin: bool) -> Result<(User, String), ApiError> {
    let valid = !handle.is_empty()
        && handle.len() <= 64
        && handle.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@'));
    if !valid {
        return Err(ApiError::unprocessable("invalid_field", "handle must be 1-64 of [A-Za-z0-9_.@-]"));
    }
    let user = store.create_user(handle, admin).await?;
    let key = new_secret("tw_");
    store.add_api_key(user.id, &key, "initial").await?;
    Ok((user, key))
}

/// Registers a reporting app; returns (id, api key, signing secret).
pub async fn create_app(store: &Store, name: &str) -> Result<(i64, String, String), ApiError> {
    if name.is_empty() || name.len() > 64 {
        return Err(ApiError::unprocessable("invalid_field", "name must be 1-64 characters"));
    }
    let key = new_secret("twapp_");
    let secret = new_secret("twsig_");
    let id = store.create_app(name, &key, &secret).await?;
    Ok((id, key, secret))
}

/// Parses a whole-points amount.
pub fn parse_points(text: &str, field: &str) -> Result<Amount, ApiError> {
    P.parse(text).map_err(|e| ApiError::unprocessable("invalid_amount", format!("{field}: {e}")))
}

/// 409 for an operator's key reused for a different change, naming the
/// request field that differs.
fn change_conflict(field: &'static str) -> ApiError {
    let (field, what) = match field {
        "user_id" | "debit" | "credit" => ("user", "user"),
        "memo" => ("reason", "reason"),
        "reason" => ("kind", "kind of change (grant or adjust)"),
        _ => ("amount", "amount"),
    };
    ApiError::conflict("idempotency_conflict", format!("id was already used for a change with a different {what}"))
        .with_field(field)
}

/// Adds points to a user (repaying arrears first) or, for a negative
/// `delta`, removes them. `key` (the operator's idempotency key, in the
/// operators' id namespace: `op/{key}`) makes the call idempotent: the same
/// key with the same change is the original result, with any other field
/// it is 409 `idempotency_conflict`.
pub async fn adjust_points(
    store: &Store,
    writer: &LedgerWriter,
    user: &User,
    delta: &str,
    memo: &str,
    key: &str,
    reason: Reason,
) -> Result<(Amount, Amount), ApiError> {
    if memo.trim().is_empty() {
        return Err(ApiError::unprocessable("invalid_field", "a reason is required"));
    }
    let id = TransferId::operator(key)
        .ok_or_else(|| ApiError::unprocessable("invalid_field", format!("id must be {CLIENT_KEY_RULE}")))?;
    let links = Links { user_id: Some(user.id), memo: Some(memo.to_owned()), ..Links::default() };
    let command = match delta.strip_prefix('-') {
        Some(abs) => {
            let amount = parse_points(abs, "amount")?;
            Command::Chain(vec![TransferRequest {
                id,
                op: Operation::Transfer {
                    debit: AccountId::user_wallet(user.id, P),
                    credit: AccountId::issuance(P),
                    amount,
                },
                reason,
                links,
            }])
        }
        None => {
            let amount = parse_points(delta.strip_prefix('+').unwrap_or(delta), "amount")?;
            Command::Grant(Grant { id, user_id: user.id, asset: P, amount, reason, links })
        }
    };
    let outcome = writer.submit(Submission { command, record: None }).await?;
    match outcome.result {
        Ok(_) => {}
        Err(e) if e.error == TransferError::ExceedsCredits => {
            return Err(ApiError::conflict("insufficient_points", "the balance cannot cover this deduction"))
        }
        Err(e) if e.error == TransferError::AmountZero => {
            return Err(ApiError::unprocessable("invalid_amount", "amount must not be zero"))
        }
        Err(ChainError { error: TransferError::ExistsWithDifferentFields { field }, .. }) => {
            return Err(change_conflict(field))
        }
        Err(e) => return Err(ApiError::conflict(e.error.code(), e.error.to_string())),
    }
    let wallet = store.account(&AccountId::user_wallet(user.id, P)).await?;
    let owed = store.account(&AccountId::user_arrears(user.id, P)).await?;
    Ok((wallet.map(|w| w.balance()).unwrap_or_default(), owed.map(|a| a.owed()).unwrap_or_default()))
}

/// Records a new price version for a model (`active = false` withdraws it).
#[allow(clippy::too_many_arguments)]
pub async fn set_price(
    store: &Store,
    model: &str,
    input: &str,
    output: &str,
    effective_from: Option<i64>,
    active: bool,
    note: &str,
    changed_by: Option<i64>,
) -> Result<StoredRule, ApiError> {
    if model.is_empty() || model.len() > 200 {
        return Err(ApiError::unprocessable("invalid_field", "model must be 1-200 characters"));
    }
    let parse = |text: &str, field: &str| {
        Price::parse(text, P).map_err(|e| ApiError::unprocessable("invalid_price", format!("{field}: {e}")))
    };
    let rule = NewRule {
        model: model.to_owned(),
        asset: P.code.to_owned(),
        input_per_1k: parse(input, "input_per_1k")?,
        output_per_1k: parse(output, "output_per_1k")?,
        effective_from,
        active,
        note: note.to_owned(),
        changed_by,
    };
    Ok(store.add_price_version(&rule).await?)
}
