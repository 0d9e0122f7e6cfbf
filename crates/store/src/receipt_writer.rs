//! The receipt writer: one task per process that makes accepted channel
//! receipts durable, many per transaction (group commit, like the
//! [`LedgerWriter`](crate::LedgerWriter)). Each receipt is a
//! compare-and-set on its sub-channel's nonce, so a receipt checked
//! against a state another process has since moved on is not written, and
//! its caller reloads and checks again. The caller has verified the
//! receipt with the pure rules (`tollway_core::channel`); the writer only
//! persists it, and answers only after the commit.

use crate::channels::{hex_of, nonce_text};
use crate::ckb_channels::KeptCommitment;
use crate::codec::positional;
use crate::transaction::{begin_write, finish, retrying};
use crate::{now_ms, ChannelStoreError, Dialect, Store, StoreError, WriterConfig, WriterStats};
use sqlx::{AnyConnection, Row};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tollway_core::channel::{ChannelId, SignedSubRav};

/// Receipts per statement. Fixed, so SQLite prepares each statement once.
const ROWS_PER_STATEMENT: usize = 64;
/// Parameters per receipt row.
const ROW_PARAMS: usize = 6;

/// The compare-and-set of `rows` receipts, one statement: each
/// sub-channel's nonce must still be the one its receipt was checked
/// against, the new nonce above it, and the channel open. A pending
/// proposal the receipt covers is dropped. Returns the sub-channels written.
fn accept_sql(dialect: Dialect, rows: usize) -> String {
    let values: Vec<String> =
        (0..rows).map(|i| format!("({})", positional(dialect, i * ROW_PARAMS, ROW_PARAMS))).collect();
    format!(
        "WITH v (channel_id, key_id, prev_nonce, nonce, accumulated, latest) AS (VALUES {}) \
         UPDATE sub_channels SET nonce = v.nonce, accumulated = v.accumulated, latest = v.latest, updated_at = {}, \
         pending = CASE WHEN sub_channels.pending_nonce <= v.nonce THEN NULL ELSE sub_channels.pending END, \
         pending_nonce = CASE WHEN sub_channels.pending_nonce <= v.nonce THEN NULL ELSE sub_channels.pending_nonce END \
         FROM v WHERE sub_channels.channel_id = v.channel_id AND sub_channels.key_id = v.key_id \
         AND sub_channels.nonce = v.prev_nonce AND sub_channels.nonce < v.nonce \
         AND EXISTS (SELECT 1 FROM channels c WHERE c.id = v.channel_id AND c.open = 1) \
         RETURNING sub_channels.channel_id, sub_channels.key_id",
        values.join(", "),
        positional(dialect, rows * ROW_PARAMS, 1),
    )
}

/// An accepted receipt to persist, with a CKB channel's commitment.
#[derive(Debug, Clone)]
struct Receipt {
    channel: ChannelId,
    signed: SignedSubRav,
    prev_nonce: u64,
    commitment: Option<Arc<KeptCommitment>>,
}

struct Job {
    receipt: Receipt,
    reply: oneshot::Sender<Result<bool, StoreError>>,
}

#[derive(Debug, Default)]
struct Stats {
    batches: AtomicU64,
    receipts: AtomicU64,
}

/// Handle to the receipt writer task; cheap to clone.
#[derive(Clone)]
pub struct ReceiptWriter {
    tx: mpsc::Sender<Job>,
    stats: Arc<Stats>,
}

impl ReceiptWriter {
    /// Starts the writer task on the current tokio runtime.
    pub fn spawn(store: Store, config: WriterConfig) -> ReceiptWriter {
        let (tx, rx) = mpsc::channel(config.queue);
        let stats = Arc::new(Stats::default());
        tokio::spawn(run(store, rx, config, stats.clone()));
        ReceiptWriter { tx, stats }
    }

    /// Transactions so far and the receipts they carried.
    pub fn stats(&self) -> WriterStats {
        WriterStats { batches: self.stats.batches.load(Ordering::Relaxed), commands: self.stats.receipts.load(Ordering::Relaxed) }
    }

    /// Persists `signed` as its sub-channel's latest accepted receipt if
    /// the sub-channel's nonce is still `prev_nonce` and the channel is
    /// open; answers once committed. `false`: the sub-channel moved on (or
    /// the channel closed) meanwhile and nothing was written; reload and
    /// check again. A receipt naming another channel than `channel` is
    /// `channel_mismatch`.
    pub async fn accept(&self, channel: ChannelId, signed: SignedSubRav, prev_nonce: u64) -> Result<bool, StoreError> {
        self.accept_with_commitment(channel, signed, prev_nonce, None).await
    }

    /// [`ReceiptWriter::accept`], keeping a CKB channel's `commitment` in
    /// the same transaction when the receipt is written (if it pays more
    /// than the kept one): a receipt on a CKB channel is never durable
    /// without the commitment that settles it.
    pub async fn accept_with_commitment(&self, channel: ChannelId, signed: SignedSubRav, prev_nonce: u64, commitment: Option<KeptCommitment>) -> Result<bool, StoreError> {
        if signed.rav.channel_id != channel {
            return Err(ChannelStoreError::ChannelMismatch.into());
        }
        let (reply, answer) = oneshot::channel();
        let receipt = Receipt { channel, signed, prev_nonce, commitment: commitment.map(Arc::new) };
        self.tx.send(Job { receipt, reply }).await.map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>, config: WriterConfig, stats: Arc<Stats>) {
    while let Some(first) = rx.recv().await {
        // Let the callers the last commit answered queue their next
        // receipts first: fuller batches, fewer commits (fsyncs).
        tokio::task::yield_now().await;
        let mut jobs = vec![first];
        while jobs.len() < config.max_batch {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        // One row order for every writer (no deadlocks between processes on
        // PostgreSQL); the sort is stable, so each sub-channel's receipts
        // stay in arrival order and each compare-and-set sees the one before.
        jobs.sort_by_key(|j| (j.receipt.channel, j.receipt.signed.rav.sub_channel));
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.receipts.fetch_add(jobs.len() as u64, Ordering::Relaxed);
        let receipts: Vec<Receipt> = jobs.iter().map(|j| j.receipt.clone()).collect();
        match commit_with_retry(&store, &receipts).await {
            Ok(applied) => {
                for (job, applied) in jobs.into_iter().zip(applied) {
                    let _ = job.reply.send(Ok(applied));
                }
            }
            Err(e) if jobs.len() == 1 => {
                tracing::error!(error = %e, "receipt batch failed");
                let _ = jobs.remove(0).reply.send(Err(e));
            }
            Err(e) => {
                // Isolate the failure: a bad receipt must not fail others.
                tracing::warn!(error = %e, size = jobs.len(), "receipt batch failed; retrying receipts one by one");
                for job in jobs {
                    let result = commit_with_retry(&store, std::slice::from_ref(&job.receipt)).await;
                    let _ = job.reply.send(result.map(|applied| applied.first().copied().unwrap_or(false)));
                }
            }
        }
    }
}

async fn commit_with_retry(store: &Store, receipts: &[Receipt]) -> Result<Vec<bool>, StoreError> {
    retrying("receipt batch", || async {
        let mut conn = begin_write(store).await?;
        let result = write_receipts(&mut conn, store.dialect(), receipts).await;
        finish(conn, result).await
    })
    .await
}

/// Writes the receipts (sorted by sub-channel) in rounds: round `k` holds
/// each sub-channel's `k`-th receipt, so a receipt's compare-and-set sees
/// the one before it. True where a receipt was written.
async fn write_receipts(conn: &mut AnyConnection, dialect: Dialect, receipts: &[Receipt]) -> Result<Vec<bool>, StoreError> {
    let keys: Vec<(String, String)> =
        receipts.iter().map(|r| (r.channel.to_string(), r.signed.rav.sub_channel.to_string())).collect();
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    let mut round = 0;
    for i in 0..keys.len() {
        round = if i > 0 && keys[i - 1] == keys[i] { round + 1 } else { 0 };
        match rounds.get_mut(round) {
            Some(members) => members.push(i),
            None => rounds.push(vec![i]),
        }
    }
    let now = now_ms();
    let mut applied = vec![false; receipts.len()];
    for round in rounds {
        for chunk in round.chunks(ROWS_PER_STATEMENT) {
            let sql = accept_sql(dialect, chunk.len());
            let mut query = sqlx::query(&sql);
            for &i in chunk {
                let rav = &receipts[i].signed.rav;
                query = query
                    .bind(&keys[i].0)
                    .bind(&keys[i].1)
                    .bind(nonce_text(receipts[i].prev_nonce))
                    .bind(nonce_text(rav.nonce))
                    .bind(rav.accumulated.to_string())
                    .bind(hex_of(&receipts[i].signed.encode()));
            }
            let written: HashSet<(String, String)> = query
                .bind(now)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|row| Ok((row.try_get("channel_id")?, row.try_get("key_id")?)))
                .collect::<Result<_, sqlx::Error>>()?;
            for &i in chunk {
                applied[i] = written.contains(&keys[i]);
            }
        }
    }
    keep_commitments(conn, dialect, receipts, &applied, now).await?;
    Ok(applied)
}

/// Commitments per statement.
const COMMITMENTS_PER_STATEMENT: usize = 64;

/// Keeps, for each CKB channel of the batch, the commitment of its
/// highest written receipt (if it pays more than the kept one): one
/// statement per 64 channels.
async fn keep_commitments(conn: &mut AnyConnection, dialect: Dialect, receipts: &[Receipt], applied: &[bool], now: i64) -> Result<(), StoreError> {
    let mut best: std::collections::BTreeMap<ChannelId, &KeptCommitment> = std::collections::BTreeMap::new();
    for (receipt, _) in receipts.iter().zip(applied).filter(|(_, applied)| **applied) {
        if let Some(kept) = &receipt.commitment {
            let entry = best.entry(receipt.channel).or_insert(kept);
            if kept.cumulative > entry.cumulative {
                *entry = kept;
            }
        }
    }
    let rows: Vec<(&ChannelId, &&KeptCommitment)> = best.iter().collect();
    for chunk in rows.chunks(COMMITMENTS_PER_STATEMENT) {
        let values: Vec<String> = (0..chunk.len()).map(|i| format!("({})", positional(dialect, i * 3, 3))).collect();
        let sql = format!(
            "WITH v (id, cumulative, tx) AS (VALUES {}) \
             UPDATE ckb_channels SET latest_cumulative = v.cumulative, latest_commitment = v.tx, updated_at = {} \
             FROM v WHERE ckb_channels.id = v.id AND ckb_channels.latest_cumulative < v.cumulative",
            values.join(", "),
            positional(dialect, chunk.len() * 3, 1),
        );
        let mut query = sqlx::query(&sql);
        for (id, kept) in chunk {
            query = query.bind(id.to_string()).bind(nonce_text(kept.cumulative)).bind(hex_of(&kept.tx));
        }
        query.bind(now).execute(&mut *conn).await?;
    }
    Ok(())
}
