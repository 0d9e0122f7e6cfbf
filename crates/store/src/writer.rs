//! The ledger writer: one task per process that group-commits concurrent
//! commands. Each batch is one database transaction: load what the batch
//! touches (locking accounts on PostgreSQL, holding SQLite's write lock),
//! run the pure engine, persist its changes and any records, commit,
//! and only then answer the callers. Several processes may share one
//! PostgreSQL: row locks taken in id order serialise them safely.

use crate::ledger_io::{load_accounts, load_transfers, persist};
use crate::requests::{insert_request, RequestRecord};
use crate::usage::{insert_usage_event, UsageDraft, UsageEvent};
use crate::transaction::{begin_write, finish, retrying};
use crate::{now_ms, Dialect, Store, StoreError};
use sqlx::AnyConnection;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tollway_core::ledger::{Account, AccountId, Applied, Batch, ChainError, Command, TransferId, TransferKind};

/// Tuning of the writer.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Most commands committed in one transaction.
    pub max_batch: usize,
    /// Commands waiting before submitters wait for room.
    pub queue: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig { max_batch: 512, queue: 8192 }
    }
}

/// A record stored in the same transaction as its command, when the
/// command succeeds; ignored if a record with its key exists.
#[derive(Debug, Clone)]
pub enum Record {
    /// A usage event, keyed by (app, message id); the stored event is
    /// returned in [`CommandOutcome::recorded`].
    Usage(UsageDraft),
    /// A gateway request, keyed by its request id.
    Request(RequestRecord),
}

/// A command and, optionally, the record committed with it.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The ledger command.
    pub command: Command,
    /// What to store with the command when it succeeds.
    pub record: Option<Record>,
}

/// What happened to one command.
#[derive(Debug, Clone)]
pub struct CommandOutcome {
    /// The engine's result.
    pub result: Result<Vec<Applied>, ChainError>,
    /// The accounts the command touches, as they stood right after it.
    pub accounts: Vec<Account>,
    /// The usage event this command stored (`None` for a replay of an
    /// existing key, or without a record).
    pub recorded: Option<UsageEvent>,
}

struct Job {
    submission: Submission,
    reply: oneshot::Sender<Result<CommandOutcome, StoreError>>,
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct LedgerWriter {
    tx: mpsc::Sender<Job>,
    stats: Arc<Stats>,
}

/// Counters of the writer's work.
#[derive(Debug, Default)]
struct Stats {
    batches: AtomicU64,
    commands: AtomicU64,
}

/// A snapshot of the writer's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions committed (or failed).
    pub batches: u64,
    /// Commands they carried.
    pub commands: u64,
}

impl LedgerWriter {
    /// Starts the writer task on the current tokio runtime.
    pub fn spawn(store: Store, config: WriterConfig) -> LedgerWriter {
        let (tx, rx) = mpsc::channel(config.queue);
        let stats = Arc::new(Stats::default());
        tokio::spawn(run(store, rx, config, stats.clone()));
        LedgerWriter { tx, stats }
    }

    /// Batches and commands so far.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            batches: self.stats.batches.load(Ordering::Relaxed),
            commands: self.stats.commands.load(Ordering::Relaxed),
        }
    }

    /// Submits one command and waits until it is committed (or refused).
    pub async fn submit(&self, submission: Submission) -> Result<CommandOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Job { submission, reply }).await.map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>, config: WriterConfig, stats: Arc<Stats>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < config.max_batch {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.commands.fetch_add(jobs.len() as u64, Ordering::Relaxed);
        let subs: Vec<&Submission> = jobs.iter().map(|j| &j.submission).collect();
        match commit_with_retry(&store, &subs).await {
            Ok(outcomes) => {
                for (job, outcome) in jobs.into_iter().zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(e) if jobs.len() == 1 => {
                tracing::error!(error = %e, "ledger batch failed");
                let _ = jobs.remove(0).reply.send(Err(e));
            }
            Err(e) => {
                // Isolate the failure: a bad command must not fail others.
                tracing::warn!(error = %e, size = jobs.len(), "ledger batch failed; retrying commands one by one");
                for job in jobs {
                    let result = commit_with_retry(&store, &[&job.submission]).await;
                    let _ = job.reply.send(result.map(|mut o| o.remove(0)));
                }
            }
        }
    }
}

async fn commit_with_retry(store: &Store, subs: &[&Submission]) -> Result<Vec<CommandOutcome>, StoreError> {
    retrying("ledger batch", || commit_batch(store, subs)).await
}

async fn commit_batch(store: &Store, subs: &[&Submission]) -> Result<Vec<CommandOutcome>, StoreError> {
    let mut conn = begin_write(store).await?;
    let result = apply_and_persist(&mut conn, store.dialect(), subs).await;
    finish(conn, result).await
}

/// Runs ledger commands inside the caller's open write transaction: loads
/// what they touch (locking the accounts on PostgreSQL), applies them in
/// order and persists the changes. A refused command changes nothing; the
/// others still apply.
pub(crate) async fn execute_in_transaction(
    conn: &mut AnyConnection,
    dialect: Dialect,
    commands: &[Command],
) -> Result<Vec<Result<Vec<Applied>, ChainError>>, StoreError> {
    let needs: Vec<Needs> = commands.iter().map(Command::needs).collect();
    let mut batch = load_batch(conn, dialect, &needs).await?;
    let results = commands.iter().map(|c| c.execute(&mut batch)).collect();
    persist(conn, dialect, &batch.into_changes()).await?;
    Ok(results)
}

/// What each command touches, computed once per batch.
type Needs = (BTreeSet<AccountId>, BTreeSet<TransferId>);

async fn load_batch(conn: &mut AnyConnection, dialect: Dialect, needs: &[Needs]) -> Result<Batch, StoreError> {
    let mut accounts: BTreeSet<AccountId> = needs.iter().flat_map(|(a, _)| a.iter().cloned()).collect();
    let transfer_ids: Vec<String> = needs
        .iter()
        .flat_map(|(_, t)| t.iter().map(|id| id.0.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut loaded = load_transfers(conn, dialect, &transfer_ids).await?;
    // Posts, voids and expiries touch the accounts of the holds they resolve.
    for (t, _) in loaded.iter().filter(|(t, _)| matches!(t.kind, TransferKind::Pending { .. })) {
        accounts.insert(t.debit.clone());
        accounts.insert(t.credit.clone());
    }
    let account_ids: Vec<String> = accounts.into_iter().map(|a| a.0).collect();
    let mut batch = Batch::new(now_ms());
    for a in load_accounts(conn, dialect, &account_ids).await? {
        batch.load_account(a);
    }
    if dialect == Dialect::Postgres {
        // Read again now that the accounts are locked, so a commit by
        // another process between the two reads is seen.
        loaded = load_transfers(conn, dialect, &transfer_ids).await?;
    }
    for (t, s) in loaded {
        batch.load_transfer(t, s);
    }
    Ok(batch)
}

/// A record to write once the batch's ledger changes are persisted.
enum Pending<'a> {
    /// A completed usage event, for the outcome at this index.
    Usage(usize, Box<UsageEvent>),
    /// A request record.
    Request(&'a RequestRecord),
}

/// What a command's record becomes, given the command's outcome (nothing
/// when the command failed).
fn pending<'a>(record: &'a Record, index: usize, outcome: &CommandOutcome, now: i64) -> Option<Pending<'a>> {
    let applied = outcome.result.as_ref().ok()?;
    Some(match record {
        Record::Usage(draft) => Pending::Usage(index, Box::new(draft.complete(applied, &outcome.accounts, now))),
        Record::Request(request) => Pending::Request(request),
    })
}

async fn apply_and_persist(
    conn: &mut AnyConnection,
    dialect: Dialect,
    subs: &[&Submission],
) -> Result<Vec<CommandOutcome>, StoreError> {
    let needs: Vec<Needs> = subs.iter().map(|s| s.command.needs()).collect();
    let mut batch = load_batch(conn, dialect, &needs).await?;
    let mut outcomes = Vec::with_capacity(subs.len());
    let mut records = Vec::new();
    for (s, (touched, _)) in subs.iter().zip(&needs) {
        let result = s.command.execute(&mut batch);
        let accounts: Vec<Account> = touched.iter().filter_map(|id| batch.account(id).cloned()).collect();
        let outcome = CommandOutcome { result, accounts, recorded: None };
        records.extend(s.record.as_ref().and_then(|r| pending(r, outcomes.len(), &outcome, batch.now())));
        outcomes.push(outcome);
    }
    persist(conn, dialect, &batch.into_changes()).await?;
    for record in records {
        match record {
            Pending::Usage(index, event) => outcomes[index].recorded = insert_usage_event(conn, &event).await?,
            Pending::Request(request) => insert_request(conn, request).await?,
        }
    }
    Ok(outcomes)
}
