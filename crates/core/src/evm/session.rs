//! A payment session's state machine: one `apply(session, event, now)`
//! with the whole transition table in one `match` (Fiber's shape).
//!
//! waiting → confirming → paid, or expired, or failed; exceptions like
//! BTCPay's: paid late (a transfer in a block after the expiry), partial
//! (less than due confirmed), over (more than due confirmed). The caller
//! persists the returned session and carries out its effects in the same
//! database transaction.

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Nothing received in a block yet (or only a partial payment).
    Waiting,
    /// A matching transfer is in a block, short of the confirmations.
    Confirming,
    /// Confirmed in full: points credited, webhook sent. Final.
    Paid,
    /// Its time ran out with nothing in a block.
    Expired,
    /// Invalidated by an admin. Final.
    Failed,
}

impl Status {
    /// The name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::Confirming => "confirming",
            Status::Paid => "paid",
            Status::Expired => "expired",
            Status::Failed => "failed",
        }
    }

    /// The status named `name`.
    pub fn parse(name: &str) -> Option<Status> {
        [Status::Waiting, Status::Confirming, Status::Paid, Status::Expired, Status::Failed].into_iter().find(|s| s.as_str() == name)
    }
}

/// Something unusual about how a session was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exception {
    /// Paid, by a transfer in a block after the session expired.
    PaidLate,
    /// Less than due was confirmed.
    PaidPartial,
    /// More than due was confirmed.
    PaidOver,
}

impl Exception {
    /// The name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Exception::PaidLate => "paid_late",
            Exception::PaidPartial => "paid_partial",
            Exception::PaidOver => "paid_over",
        }
    }

    /// The exception named `name`.
    pub fn parse(name: &str) -> Option<Exception> {
        [Exception::PaidLate, Exception::PaidPartial, Exception::PaidOver].into_iter().find(|e| e.as_str() == name)
    }
}

/// What the state machine needs to know about a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Where it stands.
    pub status: Status,
    /// Anything unusual.
    pub exception: Option<Exception>,
    /// What it asks for, token units.
    pub amount_due: u128,
    /// In blocks, not yet confirmed.
    pub seen: u128,
    /// Confirmed.
    pub confirmed: u128,
    /// Whether a transfer counted for it was in a block after the expiry.
    pub late: bool,
    /// When it expires, ms since the epoch.
    pub expires_at_ms: i64,
}

impl Session {
    /// A new session.
    pub fn new(amount_due: u128, expires_at_ms: i64) -> Session {
        Session { status: Status::Waiting, exception: None, amount_due, seen: 0, confirmed: 0, late: false, expires_at_ms }
    }
}

/// Something that happened to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A transfer for it is in a block (timestamp `block_time_ms`).
    Seen {
        /// Token units.
        value: u128,
        /// The block's timestamp.
        block_time_ms: i64,
    },
    /// A transfer it had seen has its confirmations.
    Confirmed {
        /// Token units.
        value: u128,
    },
    /// A reorg dropped a transfer it had counted.
    Dropped {
        /// Token units.
        value: u128,
        /// Whether it had been confirmed (a reorg deeper than the
        /// confirmations).
        was_confirmed: bool,
    },
    /// The expiry sweep looked at it.
    Expire,
    /// An admin marked it invalid.
    Invalidate,
}

/// What the caller must do besides saving the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Credit the session's points (it just became paid; happens once).
    CreditPoints,
    /// Tell its watchers (WebSocket, webhook) the new state.
    Notify,
    /// A confirmed transfer of a paid session was dropped by a reorg
    /// deeper than the confirmations: an operator must look.
    Alert,
}

/// The session after an event, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The new state.
    pub session: Session,
    /// Effects, in order.
    pub effects: Vec<Effect>,
}

/// Why an event cannot apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Confirming or dropping more than was counted: the caller's books
    /// disagree with the session's.
    #[error("the session has counted less than this transfer: its books disagree")]
    Inconsistent,
    /// A paid session cannot be invalidated (its points are credited).
    #[error("a paid session cannot be invalidated")]
    AlreadyPaid,
    /// An amount overflowed.
    #[error("amount overflow")]
    Overflow,
}

/// The one transition function.
pub fn apply(session: &Session, event: Event, now_ms: i64) -> Result<Transition, SessionError> {
    let mut next = session.clone();
    let mut effects = Vec::new();
    match (session.status, event) {
        (Status::Failed, Event::Invalidate) => {}
        (Status::Paid, Event::Invalidate) => return Err(SessionError::AlreadyPaid),
        (_, Event::Invalidate) => {
            next.status = Status::Failed;
            effects.push(Effect::Notify);
        }
        (Status::Waiting, Event::Expire) if now_ms >= session.expires_at_ms => {
            next.status = Status::Expired;
            effects.push(Effect::Notify);
        }
        (_, Event::Expire) => {}
        (status, Event::Seen { value, block_time_ms }) => {
            next.seen = session.seen.checked_add(value).ok_or(SessionError::Overflow)?;
            next.late |= block_time_ms > session.expires_at_ms;
            if matches!(status, Status::Waiting | Status::Expired) {
                next.status = Status::Confirming;
            }
            effects.push(Effect::Notify);
        }
        (status, Event::Confirmed { value }) => {
            next.seen = session.seen.checked_sub(value).ok_or(SessionError::Inconsistent)?;
            next.confirmed = session.confirmed.checked_add(value).ok_or(SessionError::Overflow)?;
            if status != Status::Paid && status != Status::Failed && next.confirmed >= session.amount_due {
                next.status = Status::Paid;
                effects.push(Effect::CreditPoints);
            } else if status != Status::Paid && status != Status::Failed {
                next.status = unpaid_status(&next, now_ms);
            }
            next.exception = exception(&next);
            effects.push(Effect::Notify);
        }
        (status, Event::Dropped { value, was_confirmed }) => {
            if was_confirmed {
                next.confirmed = session.confirmed.checked_sub(value).ok_or(SessionError::Inconsistent)?;
            } else {
                next.seen = session.seen.checked_sub(value).ok_or(SessionError::Inconsistent)?;
            }
            if status == Status::Paid {
                if was_confirmed {
                    effects.push(Effect::Alert);
                }
            } else if status != Status::Failed {
                next.status = unpaid_status(&next, now_ms);
                next.exception = exception(&next);
            }
            effects.push(Effect::Notify);
        }
    }
    Ok(Transition { session: next, effects })
}

/// Where an unpaid session stands by its amounts and the clock.
fn unpaid_status(s: &Session, now_ms: i64) -> Status {
    if s.seen > 0 {
        Status::Confirming
    } else if now_ms >= s.expires_at_ms && s.confirmed == 0 {
        Status::Expired
    } else {
        Status::Waiting
    }
}

/// The exception its amounts and lateness call for.
fn exception(s: &Session) -> Option<Exception> {
    if s.status == Status::Paid && s.late {
        Some(Exception::PaidLate)
    } else if s.confirmed > s.amount_due {
        Some(Exception::PaidOver)
    } else if s.confirmed > 0 && s.confirmed < s.amount_due {
        Some(Exception::PaidPartial)
    } else {
        None
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
