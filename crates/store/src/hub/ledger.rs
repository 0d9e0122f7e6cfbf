//! The hub in the ledger (asset CKB, shannons), so the ledger audit covers
//! it: a committed payment moves each share from `hub/inflow/CKB` to the
//! party's `hub/party/{0x args}/CKB` (a wallet: it can never go negative);
//! a committed payout moves each party's amount on to `hub/outflow/CKB`;
//! a payment that buys points grants them in the same transaction. All
//! run inside the caller's write transaction.

use super::rows::HubPaymentRow;
use crate::ledger_io::write_accounts;
use crate::writer::execute_in_transaction;
use crate::{Dialect, StoreError};
use sqlx::AnyConnection;
use tollway_core::ckb::hub::Share;
use tollway_core::ckb::SighashArgs;
use tollway_core::ledger::{Account, AccountFlags, AccountId, Command, Grant, Links, Operation, Reason, TransferId, TransferRequest};
use tollway_core::{Amount, Asset};

/// Where committed payments come from (`hub/inflow/CKB`; no limits: its
/// balance is minus everything paid to the hub).
pub fn inflow_account() -> AccountId {
    AccountId(format!("hub/inflow/{}", Asset::CKB.code))
}

/// Where payouts go (`hub/outflow/CKB`; no limits).
pub fn outflow_account() -> AccountId {
    AccountId(format!("hub/outflow/{}", Asset::CKB.code))
}

/// What the hub owes `party` (`hub/party/{0x args}/CKB`): credited by the
/// shares of committed payments, debited by committed payouts; a wallet,
/// so it can never go negative.
pub fn party_account(party: &SighashArgs) -> AccountId {
    AccountId(format!("hub/party/{}/{}", party.to_hex(), Asset::CKB.code))
}

/// Creates the accounts the hub's transfers touch that do not exist yet.
async fn ensure(conn: &mut AnyConnection, dialect: Dialect, parties: impl Iterator<Item = SighashArgs>) -> Result<(), StoreError> {
    let mut accounts =
        vec![Account::new(inflow_account(), Asset::CKB, AccountFlags::NONE), Account::new(outflow_account(), Asset::CKB, AccountFlags::NONE)];
    accounts.extend(parties.map(|p| Account::new(party_account(&p), Asset::CKB, AccountFlags::WALLET)));
    write_accounts(conn, dialect, &accounts, false).await
}

/// Runs `commands`; any refusal is corrupt books (the hub's accounts are
/// created here and only ever debited by what credited them).
async fn run(conn: &mut AnyConnection, dialect: Dialect, what: &str, commands: &[Command]) -> Result<(), StoreError> {
    for result in execute_in_transaction(conn, dialect, commands).await? {
        if let Err(e) = result {
            return Err(StoreError::Corrupt(format!("the ledger refused {what}: {}", e.error)));
        }
    }
    Ok(())
}

fn transfer(id: String, debit: AccountId, credit: AccountId, amount: u64, reason: Reason, links: Links) -> TransferRequest {
    TransferRequest { id: TransferId(id), op: Operation::Transfer { debit, credit, amount: Amount::new(u128::from(amount)) }, reason, links }
}

/// Credits each share of a complete payment to its party (`hubpay:{id}:{n}`,
/// one linked chain) and grants the payment's points to its user
/// (`hubpoints:{id}`, reason `purchase`).
pub(super) async fn credit_payment(conn: &mut AnyConnection, dialect: Dialect, payment: &HubPaymentRow, shares: &[Share]) -> Result<(), StoreError> {
    ensure(conn, dialect, shares.iter().map(|s| s.party)).await?;
    let id = payment.id;
    let chain = shares
        .iter()
        .enumerate()
        .map(|(n, s)| {
            let links = Links {
                request_id: Some(format!("hubpay:{id}")),
                memo: Some(format!("hub payment {id}: {} share", s.role.name())),
                ..Links::default()
            };
            transfer(format!("hubpay:{id}:{n}"), inflow_account(), party_account(&s.party), s.amount, Reason::HubPayment, links)
        })
        .collect();
    let mut commands = vec![Command::Chain(chain)];
    if let (Some(user_id), Some(points)) = (payment.user_id, payment.points.filter(|p| *p > 0)) {
        commands.push(Command::Grant(Grant {
            id: TransferId(format!("hubpoints:{id}")),
            user_id,
            asset: Asset::POINTS,
            amount: Amount::new(points),
            reason: Reason::Purchase,
            links: Links {
                user_id: Some(user_id),
                request_id: Some(format!("hubpay:{id}")),
                memo: Some(format!("hub payment {id}: {} shannons", payment.amount)),
                ..Links::default()
            },
        }));
    }
    run(conn, dialect, &format!("hub payment {id}"), &commands).await
}

/// Moves what payout `payout` paid each party out of its account
/// (`hubout:{payout}:{0x args}`, one linked chain).
pub(super) async fn debit_payout(conn: &mut AnyConnection, dialect: Dialect, payout: i64, paid: &[(SighashArgs, u64)]) -> Result<(), StoreError> {
    ensure(conn, dialect, paid.iter().map(|(p, _)| *p)).await?;
    let chain = paid
        .iter()
        .map(|(party, amount)| {
            let links = Links { request_id: Some(format!("hubout:{payout}")), memo: Some(format!("hub payout {payout}")), ..Links::default() };
            transfer(format!("hubout:{payout}:{}", party.to_hex()), party_account(party), outflow_account(), *amount, Reason::HubPayout, links)
        })
        .collect();
    run(conn, dialect, &format!("hub payout {payout}"), &[Command::Chain(chain)]).await
}
