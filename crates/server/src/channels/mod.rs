//! The payee's side of payment channels on the ledger rail: each channel's
//! state is cached in memory behind its own lock, receipts are checked by
//! the pure rules (`tollway_core::channel`), made durable through the
//! group-commit receipt writer, and only then applied (LDK's order).
//! Persisting is a compare-and-set on the sub-channel's nonce, so a second
//! process sharing the database can never make this one accept a receipt
//! twice or over another: on a lost race the state is reloaded and checked
//! again.

mod errors;

pub use errors::ChannelError;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tollway_core::channel::{Accepted, Channel, ChannelId, KeyId, SignedSubRav, SubRav, Verdict};
use tollway_core::{Amount, Asset};
use tollway_store::channels::StoredChannel;
use tollway_store::{KeptCommitment, ReceiptWriter, Store};

/// What became of a submitted receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acceptance {
    /// The sub-channel's nonce now.
    pub nonce: u64,
    /// Its accepted total now.
    pub accepted: Amount,
    /// The receipt was the latest accepted one again (nothing changed).
    pub replay: bool,
}

/// The channel as cached: the pure state plus who owns it and a watch of
/// each sub-channel's accepted total (paused streams wait on it).
struct Loaded {
    channel: Channel,
    user_id: i64,
    asset: Asset,
    accepted: HashMap<KeyId, watch::Sender<Amount>>,
}

impl Loaded {
    fn new(stored: &StoredChannel) -> Loaded {
        let channel = stored.to_core();
        let accepted = channel.subs.iter().map(|(id, sub)| (*id, watch::Sender::new(sub.accumulated))).collect();
        Loaded { channel, user_id: stored.user_id, asset: stored.asset, accepted }
    }

    /// Takes a fresh read of the channel, keeping the watches (streams may
    /// be waiting on them) and any newer in-memory pending proposal.
    fn refresh(&mut self, stored: &StoredChannel) {
        let mut channel = stored.to_core();
        for (id, sub) in channel.subs.iter_mut() {
            let ours = self.channel.subs.get(id).and_then(|s| s.pending);
            if ours.is_some_and(|p| p.nonce > sub.nonce && sub.pending.is_none_or(|q| q.nonce <= p.nonce)) {
                sub.pending = ours;
            }
            let watch = self.accepted.entry(*id).or_insert_with(|| watch::Sender::new(sub.accumulated));
            watch.send_if_modified(|a| std::mem::replace(a, sub.accumulated) != sub.accumulated);
        }
        self.channel = channel;
        self.user_id = stored.user_id;
        self.asset = stored.asset;
    }

    fn accepted_of(&self, sub: &KeyId) -> Amount {
        self.channel.subs.get(sub).map_or(Amount::ZERO, |s| s.accumulated)
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Loaded>>>;

/// The payee's channels.
pub struct Channels {
    store: Store,
    receipts: ReceiptWriter,
    slots: Mutex<HashMap<ChannelId, Slot>>,
}

/// What [`Channels::propose_within`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proposed {
    /// The proposal was recorded as pending: the work may be delivered.
    Made {
        /// The proposal.
        proposal: SubRav,
        /// The accepted total when it was made.
        accepted: Amount,
    },
    /// Delivering it would leave more than the allowance unpaid: nothing
    /// was recorded; the accepted total must first reach `required`.
    Unpaid {
        /// The accepted total needed.
        required: Amount,
    },
}

impl Channels {
    /// The service over `store`, persisting receipts through `receipts`.
    pub fn new(store: Store, receipts: ReceiptWriter) -> Channels {
        Channels { store, receipts, slots: Mutex::new(HashMap::new()) }
    }

    fn slot(&self, id: &ChannelId) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        slots.entry(*id).or_default().clone()
    }

    /// Runs `f` on the channel's cached state (loaded on first use) under
    /// its lock; `unknown_channel` if it does not exist.
    async fn with<R>(&self, id: &ChannelId, f: impl AsyncFnOnce(&mut Loaded) -> Result<R, ChannelError>) -> Result<R, ChannelError> {
        let slot = self.slot(id);
        let mut guard = slot.lock().await;
        if guard.is_none() {
            match self.store.channel(id).await? {
                Some(stored) => *guard = Some(Loaded::new(&stored)),
                None => {
                    drop(guard);
                    self.forget_if_unloaded(id);
                    return Err(ChannelError::UnknownChannel);
                }
            }
        }
        match guard.as_mut() {
            Some(loaded) => f(loaded).await,
            None => Err(ChannelError::UnknownChannel),
        }
    }

    /// Drops an empty slot (an unknown id must not stay in memory).
    fn forget_if_unloaded(&self, id: &ChannelId) {
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if slots.get(id).is_some_and(|s| s.try_lock().is_ok_and(|g| g.is_none())) {
            slots.remove(id);
        }
    }

    /// Re-reads a channel after a change made directly in the store
    /// (a key added, a claim, a close).
    pub async fn reload(&self, id: &ChannelId) -> Result<(), ChannelError> {
        let stored = self.store.channel(id).await?.ok_or(ChannelError::UnknownChannel)?;
        let slot = self.slot(id);
        let mut guard = slot.lock().await;
        match guard.as_mut() {
            Some(loaded) => loaded.refresh(&stored),
            None => *guard = Some(Loaded::new(&stored)),
        }
        Ok(())
    }

    /// Runs `f` under the channel's lock (no receipt is accepted
    /// meanwhile), then re-reads the channel before letting go: for a
    /// change made in the store that must not race a receipt (a CKB
    /// settlement).
    pub async fn exclusively<R, E: From<ChannelError>>(&self, id: &ChannelId, f: impl AsyncFnOnce() -> Result<R, E>) -> Result<R, E> {
        let slot = self.slot(id);
        let mut guard = slot.lock().await;
        let result = f().await;
        let stored = self.store.channel(id).await.map_err(ChannelError::from)?.ok_or(ChannelError::UnknownChannel)?;
        match guard.as_mut() {
            Some(loaded) => loaded.refresh(&stored),
            None => *guard = Some(Loaded::new(&stored)),
        }
        result
    }

    /// The channel's owner, asset and whether it is open.
    pub async fn owner(&self, id: &ChannelId) -> Result<(i64, Asset, bool), ChannelError> {
        self.with(id, async |l| Ok((l.user_id, l.asset, l.channel.open))).await
    }

    /// Checks a signed receipt and, if it is new, makes it durable and
    /// applies it. Refusals change nothing.
    pub async fn accept(&self, signed: &SignedSubRav) -> Result<Acceptance, ChannelError> {
        self.accept_with(signed, None).await
    }

    /// [`Channels::accept`] for a CKB channel's receipt: its checked
    /// commitment is made durable in the same transaction.
    pub async fn accept_with(&self, signed: &SignedSubRav, commitment: Option<KeptCommitment>) -> Result<Acceptance, ChannelError> {
        let id = signed.rav.channel_id;
        for _ in 0..3 {
            let outcome = self
                .with(&id, async |l| {
                    let accepted = match l.channel.check(signed)? {
                        Verdict::Replay => return Ok(Some(Acceptance { nonce: signed.rav.nonce, accepted: signed.rav.accumulated, replay: true })),
                        Verdict::Accepted(a) => a,
                    };
                    let previous = l.channel.subs.get(&accepted.sub_channel).map_or(0, |s| s.nonce);
                    if !self.receipts.accept_with_commitment(id, *signed, previous, commitment.clone()).await? {
                        return Ok(None);
                    }
                    Ok(Some(apply(l, &accepted)))
                })
                .await?;
            match outcome {
                Some(acceptance) => return Ok(acceptance),
                // Another process moved the sub-channel on: read it again.
                None => self.reload(&id).await?,
            }
        }
        Err(ChannelError::Contended)
    }

    /// Proposes `cost` more on `sub`, recorded as pending only if the
    /// sub-channel then has at most `unpaid` proposed beyond its accepted
    /// total (a single cost dearer than `unpaid` needs only everything
    /// before it paid). Checked and recorded under the channel's lock, so
    /// concurrent streams on one sub-channel share one allowance: together
    /// they never deliver more than `unpaid` unpaid.
    pub async fn propose_within(&self, id: &ChannelId, sub: &KeyId, cost: Amount, unpaid: Amount) -> Result<Proposed, ChannelError> {
        self.with(id, async |l| {
            let proposal = l.channel.propose(*sub, cost)?;
            let accepted = l.accepted_of(sub);
            let before = l.channel.subs.get(sub).and_then(|s| s.pending).map_or(accepted, |p| p.accumulated.max(accepted));
            let required = proposal.accumulated.saturating_sub(unpaid).min(before);
            if accepted < required {
                return Ok(Proposed::Unpaid { required });
            }
            if let Some(s) = l.channel.subs.get_mut(sub) {
                s.pending = Some(proposal);
            }
            Ok(Proposed::Made { proposal, accepted })
        })
        .await
    }

    /// Proposes `cost` more on `sub` and records the proposal as pending
    /// (in memory; [`Channels::persist_pending`] writes it).
    pub async fn propose(&self, id: &ChannelId, sub: &KeyId, cost: Amount) -> Result<(SubRav, Amount), ChannelError> {
        self.with(id, async |l| {
            let proposal = l.channel.propose(*sub, cost)?;
            if let Some(s) = l.channel.subs.get_mut(sub) {
                s.pending = Some(proposal);
            }
            Ok((proposal, l.accepted_of(sub)))
        })
        .await
    }

    /// The pending proposal of `sub`, if any is above the accepted total.
    pub async fn pending(&self, id: &ChannelId, sub: &KeyId) -> Result<(Option<SubRav>, Amount), ChannelError> {
        self.with(id, async |l| {
            let accepted = l.accepted_of(sub);
            let pending = l.channel.subs.get(sub).and_then(|s| s.pending).filter(|p| p.accumulated > accepted);
            Ok((pending, accepted))
        })
        .await
    }

    /// Writes `sub`'s pending proposal to the store (so a payer who lost
    /// its state can fetch it after a restart of either side).
    pub async fn persist_pending(&self, id: &ChannelId, sub: &KeyId) -> Result<(), ChannelError> {
        let (pending, _) = self.pending(id, sub).await?;
        if let Some(p) = pending {
            self.store.set_pending(id, sub, Some(&p)).await?;
        }
        Ok(())
    }

    /// What the channel's collateral still covers beyond everything
    /// accepted or proposed.
    pub async fn room(&self, id: &ChannelId) -> Result<Amount, ChannelError> {
        self.with(id, async |l| {
            let committed = l.channel.subs.values().fold(Amount::ZERO, |sum, s| {
                let top = s.pending.map_or(s.accumulated, |p| p.accumulated.max(s.accumulated));
                sum.checked_add(top).unwrap_or(Amount::MAX)
            });
            Ok(l.channel.collateral.saturating_sub(committed))
        })
        .await
    }

    /// Closes the channel (claims what is owed, refunds the rest) under
    /// its lock, so no receipt is accepted meanwhile.
    pub async fn close(&self, id: &ChannelId) -> Result<StoredChannel, ChannelError> {
        self.with(id, async |l| {
            let closed = self.store.close_channel(id).await?;
            l.refresh(&closed);
            Ok(closed)
        })
        .await
    }

    /// A watch of `sub`'s accepted total.
    pub async fn watch(&self, id: &ChannelId, sub: &KeyId) -> Result<watch::Receiver<Amount>, ChannelError> {
        self.with(id, async |l| l.accepted.get(sub).map(watch::Sender::subscribe).ok_or(ChannelError::UnknownSubChannel)).await
    }

    /// Whether `sub` is a sub-channel of `id`.
    pub async fn has_sub(&self, id: &ChannelId, sub: &KeyId) -> Result<bool, ChannelError> {
        self.with(id, async |l| Ok(l.channel.subs.contains_key(sub))).await
    }
}

/// Applies a durable acceptance to the cache and wakes waiting streams.
fn apply(l: &mut Loaded, accepted: &Accepted) -> Acceptance {
    l.channel.apply(accepted);
    if let Some(w) = l.accepted.get(&accepted.sub_channel) {
        w.send_replace(accepted.accumulated);
    }
    Acceptance { nonce: accepted.nonce, accepted: accepted.accumulated, replay: false }
}
