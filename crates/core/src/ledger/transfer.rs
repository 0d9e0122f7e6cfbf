use super::AccountId;
use crate::money::Amount;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Milliseconds since the Unix epoch. Callers pass the clock in; the engine
/// never reads it.
pub type Timestamp = i64;

/// A transfer id supplied by the client: the idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TransferId(pub String);

impl TransferId {
    /// True when the id is 1-128 bytes of `[A-Za-z0-9._:/-]`.
    pub fn is_valid(&self) -> bool {
        let s = self.0.as_bytes();
        !s.is_empty()
            && s.len() <= 128
            && s.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'/' | b'-'))
    }
}

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why value moved. Stored with every transfer; history filters on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Points granted by an operator.
    Grant,
    /// An operator's correction, either direction.
    Adjust,
    /// Payment for usage.
    Charge,
    /// A reservation held before usage.
    Reservation,
    /// The part of a charge the balance could not cover, booked as debt.
    Arrears,
    /// Repayment of arrears out of new funds.
    ArrearsRepayment,
    /// A hold released by its timeout.
    Expiry,
    /// Points bought with a payment (a stablecoin checkout session).
    Purchase,
    /// A party's share of a committed CKB hub payment, credited to its
    /// hub account.
    HubPayment,
    /// A party's hub balance paid out on chain.
    HubPayout,
}

impl Reason {
    /// Every reason, for parsing and documentation.
    pub const ALL: [Reason; 10] = [
        Reason::Grant,
        Reason::Adjust,
        Reason::Charge,
        Reason::Reservation,
        Reason::Arrears,
        Reason::ArrearsRepayment,
        Reason::Expiry,
        Reason::Purchase,
        Reason::HubPayment,
        Reason::HubPayout,
    ];

    /// Stable storage and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Grant => "grant",
            Reason::Adjust => "adjust",
            Reason::Charge => "charge",
            Reason::Reservation => "reservation",
            Reason::Arrears => "arrears",
            Reason::ArrearsRepayment => "arrears_repayment",
            Reason::Expiry => "expiry",
            Reason::Purchase => "purchase",
            Reason::HubPayment => "hub_payment",
            Reason::HubPayout => "hub_payout",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What a transfer is linked to, for audit and history.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Links {
    /// The user whose usage or funds this is.
    pub user_id: Option<i64>,
    /// The model priced.
    pub model: Option<String>,
    /// The request or message that caused it.
    pub request_id: Option<String>,
    /// The price rule version applied.
    pub price_version: Option<i64>,
    /// Free text: an operator's reason, for instance.
    pub memo: Option<String>,
}

/// What a request asks the ledger to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    /// Move `amount` now.
    Transfer {
        /// Account debited.
        debit: AccountId,
        /// Account credited.
        credit: AccountId,
        /// How much.
        amount: Amount,
    },
    /// Reserve `amount` until posted, voided or expired.
    Hold {
        /// Account debited.
        debit: AccountId,
        /// Account credited.
        credit: AccountId,
        /// How much.
        amount: Amount,
        /// Seconds until the hold expires.
        timeout_secs: u32,
    },
    /// Resolve a hold by moving `amount` (all of it when `None`) and
    /// releasing the rest.
    Post {
        /// The hold.
        pending_id: TransferId,
        /// How much to move; `None` for the whole hold.
        amount: Option<Amount>,
    },
    /// Release a hold entirely.
    Void {
        /// The hold.
        pending_id: TransferId,
    },
    /// Release a hold whose timeout has passed.
    Expire {
        /// The hold.
        pending_id: TransferId,
    },
}

/// A request to the ledger, keyed by its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRequest {
    /// The idempotency key.
    pub id: TransferId,
    /// What to do.
    pub op: Operation,
    /// Why.
    pub reason: Reason,
    /// Links for audit.
    pub links: Links,
}

/// The kind of a recorded transfer, with what its kind needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransferKind {
    /// A plain transfer.
    Single,
    /// A hold.
    Pending {
        /// Seconds it was held for.
        timeout_secs: u32,
        /// When it expires.
        expires_at: Timestamp,
    },
    /// The posting of a hold.
    Post {
        /// The hold.
        pending_id: TransferId,
        /// The amount asked for, `None` meaning the whole hold.
        requested: Option<Amount>,
    },
    /// The voiding of a hold.
    Void {
        /// The hold.
        pending_id: TransferId,
    },
    /// The expiry of a hold.
    Expire {
        /// The hold.
        pending_id: TransferId,
    },
}

impl TransferKind {
    /// Stable storage name.
    pub fn as_str(&self) -> &'static str {
        match self {
            TransferKind::Single => "single",
            TransferKind::Pending { .. } => "pending",
            TransferKind::Post { .. } => "post",
            TransferKind::Void { .. } => "void",
            TransferKind::Expire { .. } => "expire",
        }
    }

    /// The hold this resolves, if any.
    pub fn pending_id(&self) -> Option<&TransferId> {
        match self {
            TransferKind::Post { pending_id, .. }
            | TransferKind::Void { pending_id }
            | TransferKind::Expire { pending_id } => Some(pending_id),
            TransferKind::Single | TransferKind::Pending { .. } => None,
        }
    }
}

/// State of a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingStatus {
    /// Still reserved.
    Pending,
    /// Resolved by a post.
    Posted,
    /// Resolved by a void.
    Voided,
    /// Resolved by its timeout.
    Expired,
}

impl PendingStatus {
    /// Stable storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            PendingStatus::Pending => "pending",
            PendingStatus::Posted => "posted",
            PendingStatus::Voided => "voided",
            PendingStatus::Expired => "expired",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<PendingStatus> {
        [PendingStatus::Pending, PendingStatus::Posted, PendingStatus::Voided, PendingStatus::Expired]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// An immutable record of value that moved (or was reserved).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// Its id.
    pub id: TransferId,
    /// Account debited.
    pub debit: AccountId,
    /// Account credited.
    pub credit: AccountId,
    /// How much moved; for a post, the posted amount; for a void or expiry,
    /// the amount released.
    pub amount: Amount,
    /// Asset code.
    pub asset: String,
    /// Its kind.
    pub kind: TransferKind,
    /// Why.
    pub reason: Reason,
    /// Links for audit.
    pub links: Links,
    /// When it was applied.
    pub timestamp: Timestamp,
}

impl Transfer {
    /// True when `req` asks for exactly this transfer again (an idempotent
    /// retry), false when it reuses the id for something else.
    pub fn matches(&self, req: &TransferRequest) -> bool {
        self.mismatch(req).is_none()
    }

    /// The first field in which `req` differs from this transfer, or `None`
    /// when it asks for exactly this transfer again. The reason and the
    /// links are compared first (they say what the transfer is for), then
    /// the operation's own fields.
    pub fn mismatch(&self, req: &TransferRequest) -> Option<&'static str> {
        let first = |checks: &[(bool, &'static str)]| checks.iter().find(|(same, _)| !same).map(|(_, f)| *f);
        let op = match (&req.op, &self.kind) {
            (Operation::Transfer { debit, credit, amount }, TransferKind::Single) => first(&[
                (*debit == self.debit, "debit"),
                (*credit == self.credit, "credit"),
                (*amount == self.amount, "amount"),
            ]),
            (Operation::Hold { debit, credit, amount, timeout_secs }, TransferKind::Pending { timeout_secs: t, .. }) => {
                first(&[
                    (*debit == self.debit, "debit"),
                    (*credit == self.credit, "credit"),
                    (*amount == self.amount, "amount"),
                    (timeout_secs == t, "timeout_secs"),
                ])
            }
            (Operation::Post { pending_id, amount }, TransferKind::Post { pending_id: p, requested }) => {
                first(&[(pending_id == p, "pending_id"), (amount == requested, "amount")])
            }
            (Operation::Void { pending_id }, TransferKind::Void { pending_id: p })
            | (Operation::Expire { pending_id }, TransferKind::Expire { pending_id: p }) => {
                first(&[(pending_id == p, "pending_id")])
            }
            _ => Some("op"),
        };
        first(&[(self.reason == req.reason, "reason")]).or_else(|| self.links.mismatch(&req.links)).or(op)
    }
}

impl Links {
    /// The first field in which `other` differs from these links.
    pub fn mismatch(&self, other: &Links) -> Option<&'static str> {
        [
            (self.user_id == other.user_id, "user_id"),
            (self.model == other.model, "model"),
            (self.request_id == other.request_id, "request_id"),
            (self.price_version == other.price_version, "price_version"),
            (self.memo == other.memo, "memo"),
        ]
        .into_iter()
        .find(|(same, _)| !same)
        .map(|(_, field)| field)
    }
}
