//! The task log: one `task_runs` row (migration 0004) per run of a
//! background task (the CKB jobs, say), with when it ran, whether it
//! succeeded and what it did or why it failed.

use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

/// One run of a background task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRun {
    /// The task's name (`ckb_track`, say).
    pub task: String,
    /// When it started (Unix ms).
    pub started_at: i64,
    /// When it finished (Unix ms).
    pub finished_at: i64,
    /// Whether it succeeded.
    pub ok: bool,
    /// What it did, or why it failed.
    pub detail: String,
}

fn from_row(row: &AnyRow) -> Result<TaskRun, StoreError> {
    Ok(TaskRun {
        task: row.try_get("task")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        ok: row.try_get::<i64, _>("ok")? != 0,
        detail: row.try_get("detail")?,
    })
}

impl Store {
    /// Adds a run to the task log.
    pub async fn record_task_run(&self, run: &TaskRun) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO task_runs (task, started_at, finished_at, ok, detail) VALUES ($1, $2, $3, $4, $5)")
            .bind(&run.task)
            .bind(run.started_at)
            .bind(run.finished_at)
            .bind(i64::from(run.ok))
            .bind(&run.detail)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The latest `limit` runs, of `task` only if given, newest first (by
    /// start; runs that started in the same millisecond, last recorded
    /// first).
    pub async fn task_runs(&self, task: Option<&str>, limit: u32) -> Result<Vec<TaskRun>, StoreError> {
        let query = match task {
            Some(task) => sqlx::query(
                "SELECT task, started_at, finished_at, ok, detail FROM task_runs WHERE task = $1 \
                 ORDER BY started_at DESC, id DESC LIMIT $2",
            )
            .bind(task),
            None => sqlx::query(
                "SELECT task, started_at, finished_at, ok, detail FROM task_runs ORDER BY started_at DESC, id DESC LIMIT $1",
            ),
        };
        let rows = query.bind(i64::from(limit)).fetch_all(self.pool()).await?;
        rows.iter().map(from_row).collect()
    }
}
