use crate::channel::ChannelId;
use crate::money::{Amount, Asset, MoneyError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A ledger account id, a readable path such as `user/42` or
/// `system/revenue/POINTS`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub String);

impl AccountId {
    /// The points wallet of a user.
    pub fn user_wallet(user_id: i64, asset: Asset) -> Self {
        AccountId(format!("user/{user_id}/{}", asset.code))
    }
    /// What a user owes after a charge exceeded the balance.
    pub fn user_arrears(user_id: i64, asset: Asset) -> Self {
        AccountId(format!("user/{user_id}/{}/arrears", asset.code))
    }
    /// Where granted value comes from (its balance goes negative).
    pub fn issuance(asset: Asset) -> Self {
        AccountId(format!("system/issuance/{}", asset.code))
    }
    /// Where charges go.
    pub fn revenue(asset: Asset) -> Self {
        AccountId(format!("system/revenue/{}", asset.code))
    }
    /// What an API key may still spend under its spending cap (a wallet:
    /// every charge through the key also debits it, so it can never be
    /// overspent).
    pub fn key_allowance(key_id: i64, asset: Asset) -> Self {
        AccountId(format!("key/{key_id}/{}/allowance", asset.code))
    }
    /// Cap taken back from a key's allowance when its cap is lowered or
    /// removed (so the allowance's debits minus these are what it spent).
    pub fn key_released(key_id: i64, asset: Asset) -> Self {
        AccountId(format!("key/{key_id}/{}/released", asset.code))
    }
    /// The collateral of a payment channel on the ledger rail
    /// (`channel/0x…/POINTS/escrow`): the deposit moved out of the payer's
    /// wallet when the channel opens, paid out to revenue by claims and
    /// back to the wallet when it closes. A wallet (it can never go
    /// negative), so no claim can ever take more than was deposited.
    pub fn channel_escrow(channel: &ChannelId, asset: Asset) -> Self {
        AccountId(format!("channel/{channel}/{}/escrow", asset.code))
    }
    /// Where key caps come from and key spending goes (its balance is
    /// negative: caps granted, not yet spent).
    pub fn key_caps(asset: Asset) -> Self {
        AccountId(format!("system/key-caps/{}", asset.code))
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Balance limits an account enforces on every transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AccountFlags {
    /// Pending plus posted debits may never exceed posted credits: the
    /// account can never go negative (user wallets).
    pub debits_must_not_exceed_credits: bool,
    /// Pending plus posted credits may never exceed posted debits (arrears:
    /// nobody can repay more than they owe).
    pub credits_must_not_exceed_debits: bool,
}

impl AccountFlags {
    /// A wallet that can never go negative.
    pub const WALLET: AccountFlags =
        AccountFlags { debits_must_not_exceed_credits: true, credits_must_not_exceed_debits: false };
    /// A debt that can never be overpaid.
    pub const DEBT: AccountFlags =
        AccountFlags { debits_must_not_exceed_credits: false, credits_must_not_exceed_debits: true };
    /// No limits (system accounts).
    pub const NONE: AccountFlags =
        AccountFlags { debits_must_not_exceed_credits: false, credits_must_not_exceed_debits: false };
}

/// An account and its four running totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// Code of the asset it holds; transfers never cross assets.
    pub asset: String,
    /// Its balance limits.
    pub flags: AccountFlags,
    /// Debits reserved by holds not yet resolved.
    pub debits_pending: Amount,
    /// Debits that happened.
    pub debits_posted: Amount,
    /// Credits reserved by holds not yet resolved.
    pub credits_pending: Amount,
    /// Credits that happened.
    pub credits_posted: Amount,
}

impl Account {
    /// A new account with zero totals.
    pub fn new(id: AccountId, asset: Asset, flags: AccountFlags) -> Self {
        Account {
            id,
            asset: asset.code.to_owned(),
            flags,
            debits_pending: Amount::ZERO,
            debits_posted: Amount::ZERO,
            credits_pending: Amount::ZERO,
            credits_posted: Amount::ZERO,
        }
    }

    /// Posted credits minus posted debits, for credit-normal accounts
    /// (wallets); zero if debits exceed credits.
    pub fn balance(&self) -> Amount {
        self.credits_posted.saturating_sub(self.debits_posted)
    }

    /// What can still be spent: balance minus pending debits, floored at 0.
    pub fn available(&self) -> Amount {
        self.balance().saturating_sub(self.debits_pending)
    }

    /// Posted debits minus posted credits, for debit-normal accounts
    /// (arrears); zero if credits exceed debits.
    pub fn owed(&self) -> Amount {
        self.debits_posted.saturating_sub(self.credits_posted)
    }

    pub(crate) fn add(total: &mut Amount, amount: Amount) -> Result<(), MoneyError> {
        *total = total.checked_add(amount)?;
        Ok(())
    }
}
