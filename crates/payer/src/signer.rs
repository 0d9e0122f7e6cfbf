//! The background signer of a paid stream: the reader hands it every
//! proposal and reads on; the signer reviews the newest one, persists the
//! receipt as the latest signed, and only then posts it. Proposals that
//! arrive while it is busy are coalesced: receipts are cumulative, so only
//! the newest is signed.

use crate::api::{base, call, ReceiptAck, CALL_TIMEOUT};
use crate::state::ChannelRecord;
use tollway_core::channel::wire::ReceiptSubmission;
use crate::error::PayerError;
use crate::review::{Allowance, Decision, Newest};
use crate::state::StateFile;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tollway_core::channel::wire::PaymentDue;
use tollway_core::channel::{ChannelId, SignedSubRav};
use tollway_core::Amount;

/// Where signed receipts go (the payee's `POST /api/channels/{id}/receipts`;
/// a fake in tests).
pub trait ReceiptSink: Send + Sync + 'static {
    /// Delivers one receipt; the payee's acknowledgement.
    fn post(&self, receipt: SignedSubRav) -> impl Future<Output = Result<ReceiptAck, PayerError>> + Send;
}

/// Posts receipts to a payee's `POST /api/channels/{id}/receipts`.
#[derive(Debug, Clone)]
pub struct HttpSink {
    http: reqwest::Client,
    url: String,
    /// The channel (a CKB channel's receipts carry their commitment).
    record: Arc<ChannelRecord>,
}

impl HttpSink {
    /// Posts to `record`'s payee with `http`.
    pub fn new(http: reqwest::Client, record: &ChannelRecord) -> HttpSink {
        HttpSink { http, url: format!("{}/api/channels/{}/receipts", base(&record.server), record.channel), record: Arc::new(record.clone()) }
    }
}

impl ReceiptSink for HttpSink {
    async fn post(&self, receipt: SignedSubRav) -> Result<ReceiptAck, PayerError> {
        let commitment = crate::state::commitment_for(&self.record, &receipt)?;
        let request = self.http.post(&self.url).timeout(CALL_TIMEOUT).json(&ReceiptSubmission { receipt, commitment });
        call(&self.url, request).await
    }
}

/// What a signer did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignerReport {
    /// Receipts signed.
    pub receipts: u64,
    /// What they added to the sub-channel's total.
    pub added: Amount,
    /// Proposals handled but not signed (already signed, or superseded).
    pub skipped: u64,
    /// Proposals never looked at because a newer one came first.
    pub coalesced: u64,
    /// The latest signed receipt at the end.
    pub latest_signed: Option<SignedSubRav>,
    /// The payee's latest acknowledgement.
    pub ack: Option<ReceiptAck>,
    /// Why the latest signed receipt is not confirmed, if it is not.
    pub unconfirmed: Option<String>,
}

struct Slot {
    newest: Newest,
    closed: bool,
}

struct Shared {
    slot: Mutex<Slot>,
    wake: Notify,
    /// The request's allowance: the reader counts what it received, the
    /// worker what it signed.
    allowance: Mutex<Allowance>,
}

/// A running signer for one request on one channel.
pub struct Signer {
    shared: Arc<Shared>,
    failed: watch::Receiver<bool>,
    task: JoinHandle<Result<SignerReport, PayerError>>,
}

impl Signer {
    /// Starts signing proposals for `channel` (whose record is in `state`)
    /// within the request's `allowance`.
    pub fn spawn<S: ReceiptSink>(state: StateFile, channel: ChannelId, allowance: Allowance, sink: S) -> Signer {
        let slot = Mutex::new(Slot { newest: Newest::new(), closed: false });
        let shared = Arc::new(Shared { slot, wake: Notify::new(), allowance: Mutex::new(allowance) });
        let (failed_tx, failed) = watch::channel(false);
        let worker = Worker { shared: shared.clone(), state, channel, sink, report: SignerReport::default(), confirmed: None };
        let task = tokio::spawn(async move {
            let result = worker.run().await;
            if result.is_err() {
                let _ = failed_tx.send(true);
            }
            result
        });
        Signer { shared, failed, task }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.shared.slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts content received (before handing over the proposal that
    /// came with it).
    pub fn receive(&self, content: &str) {
        self.shared.allowance().receive(content);
    }

    /// Hands over a proposal; returns at once.
    pub fn offer(&self, due: PaymentDue) {
        if self.slot().newest.offer(due) {
            self.shared.wake.notify_one();
        }
    }

    /// Resolves when the signer stopped on an error (a refusal, a receipt
    /// the payee refused, the state not writable); never otherwise.
    pub async fn failed(&mut self) {
        if self.failed.wait_for(|f| *f).await.is_err() {
            // The task ended without failing: wait forever.
            std::future::pending::<()>().await;
        }
    }

    /// Lets it sign the last proposal handed over, post anything not yet
    /// confirmed, and stop; its report, or the error that stopped it.
    pub async fn finish(self) -> Result<SignerReport, PayerError> {
        self.slot().closed = true;
        self.shared.wake.notify_one();
        self.task.await.map_err(|e| PayerError::Protocol(format!("the signer task failed: {e}")))?
    }
}

impl Shared {
    fn allowance(&self) -> std::sync::MutexGuard<'_, Allowance> {
        self.allowance.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

struct Worker<S> {
    shared: Arc<Shared>,
    state: StateFile,
    channel: ChannelId,
    sink: S,
    report: SignerReport,
    /// The latest receipt the payee acknowledged in this run.
    confirmed: Option<SignedSubRav>,
}

impl<S: ReceiptSink> Worker<S> {
    async fn run(mut self) -> Result<SignerReport, PayerError> {
        loop {
            let next = {
                let mut slot = self.shared.slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                self.report.coalesced = slot.newest.dropped();
                match slot.newest.take() {
                    Some(due) => Some(due),
                    None if slot.closed => break,
                    None => None,
                }
            };
            match next {
                Some(due) => self.handle(due).await?,
                None => self.shared.wake.notified().await,
            }
        }
        // Whatever was signed last must reach the payee.
        if let Some(latest) = self.report.latest_signed.filter(|l| Some(*l) != self.confirmed) {
            self.post(latest).await?;
        }
        if let Some(receipt) = self.confirmed {
            self.state.note_accepted(self.channel, receipt).await?;
        }
        Ok(self.report)
    }

    /// Reviews, persists, then posts one proposal.
    async fn handle(&mut self, due: PaymentDue) -> Result<(), PayerError> {
        let left = { self.shared.allowance().left() };
        let channel = self.channel;
        let (decision, latest) = self
            .state
            .update_async(move |s| {
                let record = s.get_mut(&channel)?;
                if !record.open {
                    return Err(PayerError::ChannelClosed(channel.to_string()));
                }
                let decision = record.decide(&due.proposal, left)?;
                if let Decision::Sign { receipt, .. } = decision {
                    // Durable before it leaves: never a second receipt for this nonce.
                    record.latest_signed = Some(receipt);
                }
                Ok((decision, record.latest_signed))
            })
            .await?;
        self.report.latest_signed = latest;
        match decision {
            Decision::Sign { receipt, delta } => {
                self.report.receipts += 1;
                self.report.added = {
                    let mut allowance = self.shared.allowance();
                    allowance.add(delta);
                    allowance.added()
                };
                self.post(receipt).await
            }
            Decision::AlreadySigned | Decision::Superseded => {
                self.report.skipped += 1;
                // The payee is still proposing from before our latest
                // receipt: make sure it got it (posting again is a no-op).
                match latest.filter(|l| Some(*l) != self.confirmed) {
                    Some(l) => self.post(l).await,
                    None => Ok(()),
                }
            }
        }
    }

    /// Posts a receipt, trying a transient failure again twice; one that
    /// persists is remembered (the next proposal, pause or the end tries
    /// again). A refusal by the payee stops the request.
    async fn post(&mut self, receipt: SignedSubRav) -> Result<(), PayerError> {
        let mut result = self.sink.post(receipt).await;
        for pause in [100, 400] {
            if !matches!(&result, Err(e) if e.is_transient()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            result = self.sink.post(receipt).await;
        }
        match result {
            Ok(ack) => {
                if ack.nonce >= receipt.rav.nonce {
                    self.confirmed = Some(receipt);
                }
                self.report.ack = Some(ack);
                self.report.unconfirmed = None;
                Ok(())
            }
            Err(e) if e.is_transient() => {
                self.report.unconfirmed = Some(e.to_string());
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::{generous, key, record, TempDir};
    use std::sync::atomic::{AtomicBool, Ordering};
    use tollway_core::channel::SubRav;

    /// Records what it is sent; waits on `gate` before answering so the
    /// test controls when the signer is busy; acts as the payee.
    #[derive(Clone)]
    struct FakePayee {
        posted: Arc<Mutex<Vec<SignedSubRav>>>,
        gate: Arc<tokio::sync::Semaphore>,
        fail_transiently: Arc<std::sync::atomic::AtomicU32>,
        refuse: Arc<AtomicBool>,
    }

    impl FakePayee {
        fn new(open: bool) -> FakePayee {
            let gate = Arc::new(tokio::sync::Semaphore::new(if open { 1_000_000 } else { 0 }));
            FakePayee { posted: Arc::default(), gate, fail_transiently: Arc::default(), refuse: Arc::default() }
        }

        fn posted(&self) -> Vec<(u64, u128)> {
            self.posted.lock().expect("lock").iter().map(|r| (r.rav.nonce, r.rav.accumulated.units())).collect()
        }
    }

    impl ReceiptSink for FakePayee {
        async fn post(&self, receipt: SignedSubRav) -> Result<ReceiptAck, PayerError> {
            let permit = self.gate.acquire().await.map_err(|e| PayerError::Protocol(e.to_string()))?;
            permit.forget();
            assert_eq!(receipt.verify(&key(1).public()), Ok(()), "signed with the payer's key");
            if self.refuse.load(Ordering::SeqCst) {
                return Err(PayerError::Api { status: 409, code: "channel_closed".into(), message: String::new() });
            }
            if self.fail_transiently.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                return Err(PayerError::Transport { url: "fake".into(), message: "reset".into() });
            }
            self.posted.lock().expect("lock").push(receipt);
            Ok(ReceiptAck { nonce: receipt.rav.nonce, accepted: receipt.rav.accumulated, replay: false })
        }
    }

    fn due(nonce: u64, amount: u128) -> PaymentDue {
        let proposal = SubRav { nonce, accumulated: Amount::new(amount), ..record(1).base() };
        PaymentDue { proposal, cost: Amount::new(amount), accepted: Amount::ZERO, required: None, stopped: None }
    }

    fn setup() -> (TempDir, StateFile) {
        let dir = TempDir::new();
        let state = StateFile::in_home(&dir.0);
        state
            .update(|s| {
                s.channels.push(record(1));
                Ok(())
            })
            .expect("state");
        (dir, state)
    }

    fn channel() -> ChannelId {
        record(1).channel
    }

    #[tokio::test]
    async fn the_newest_proposal_is_signed_and_older_ones_skipped() {
        let (_dir, state) = setup();
        let payee = FakePayee::new(false);
        let signer = Signer::spawn(state.clone(), channel(), generous(100), payee.clone());
        signer.offer(due(1, 10));
        // Let the signer take the first and block posting it.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        // While it is busy, three more (each with its own nonce): only
        // the newest is signed.
        signer.offer(due(2, 20));
        signer.offer(due(3, 30));
        signer.offer(due(4, 40));
        signer.offer(due(3, 35));
        assert_eq!(
            state.load().expect("state").channels[0].latest_signed.map(|s| s.rav.nonce),
            Some(1),
            "persisted before it was posted"
        );
        payee.gate.add_permits(1_000);
        let report = signer.finish().await.expect("report");
        assert_eq!(payee.posted(), vec![(1, 10), (4, 40)]);
        assert_eq!((report.receipts, report.added, report.coalesced), (2, Amount::new(40), 3));
        let record = &state.load().expect("state").channels[0];
        assert_eq!(record.latest_signed.map(|s| (s.rav.nonce, s.rav.accumulated)), Some((4, Amount::new(40))));
        assert_eq!(record.latest_accepted, record.latest_signed, "the acknowledged receipt is kept");
        assert_eq!(report.unconfirmed, None);
    }

    #[tokio::test]
    async fn a_proposal_already_signed_is_not_signed_again_and_a_lost_post_is_retried() {
        let (_dir, state) = setup();
        let payee = FakePayee::new(true);
        // Fails the first post and both of its retries.
        payee.fail_transiently.store(3, Ordering::SeqCst);
        let signer = Signer::spawn(state.clone(), channel(), generous(100), payee.clone());
        signer.offer(due(1, 10));
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        assert!(payee.posted().is_empty());
        // The post of nonce 1 failed; the payee, not having it, pauses and
        // asks for it again: not signed again, but posted again.
        signer.offer(PaymentDue { required: Some(Amount::new(10)), ..due(1, 10) });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(payee.posted(), vec![(1, 10)]);
        // The next proposal is signed and posted.
        signer.offer(due(2, 20));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let report = signer.finish().await.expect("report");
        assert_eq!(payee.posted(), vec![(1, 10), (2, 20)]);
        assert_eq!((report.receipts, report.skipped), (2, 1));
        assert_eq!(report.ack.map(|a| a.nonce), Some(2));
    }

    #[tokio::test]
    async fn a_refusal_stops_the_signer_before_anything_is_signed() {
        let (_dir, state) = setup();
        let payee = FakePayee::new(true);
        let mut signer = Signer::spawn(state.clone(), channel(), generous(100), payee.clone());
        signer.offer(due(1, 60));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        signer.offer(due(2, 161));
        tokio::time::timeout(std::time::Duration::from_secs(5), signer.failed()).await.expect("failed in time");
        let e = signer.finish().await.expect_err("refused");
        // 60 then 101 more: within the budget, but over what is left of
        // this request's max_amount (100 - 60 = 40).
        assert_eq!(e.code(), "over_max_amount");
        let record = &state.load().expect("state").channels[0];
        assert_eq!(record.latest_signed.map(|s| s.rav.nonce), Some(1), "the refused proposal was not signed");
        assert_eq!(payee.posted(), vec![(1, 10 * 6)]);
    }

    #[tokio::test]
    async fn over_budget_and_wrong_channel_are_refused() {
        for (proposal, code) in [
            (due(1, 1001), "over_budget"),
            (PaymentDue { proposal: SubRav { channel_id: ChannelId([9; 32]), ..due(1, 5).proposal }, ..due(1, 5) }, "wrong_channel"),
        ] {
            let (_dir, state) = setup();
            let payee = FakePayee::new(true);
            let signer = Signer::spawn(state.clone(), channel(), generous(5000), payee.clone());
            signer.offer(proposal);
            let e = signer.finish().await.expect_err("refused");
            assert_eq!(e.code(), code);
            assert_eq!(state.load().expect("state").channels[0].latest_signed, None);
            assert!(payee.posted().is_empty());
        }
    }

    #[tokio::test]
    async fn a_receipt_the_payee_refuses_stops_the_request() {
        let (_dir, state) = setup();
        let payee = FakePayee::new(true);
        payee.refuse.store(true, Ordering::SeqCst);
        let signer = Signer::spawn(state.clone(), channel(), generous(100), payee.clone());
        signer.offer(due(1, 10));
        assert_eq!(signer.finish().await.expect_err("refused").code(), "channel_closed");
    }
}
