//! One fabric job's progress: each input's outcome as it completes, in
//! input order and in completion order, its counts, and its end.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use nexus_errors::UserError;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::Tier;
use crate::clock::now_ms;

/// The most output bytes one job keeps (results live in memory until the
/// job is forgotten); past it the job fails.
pub const MAX_RESULT_BYTES: u64 = 256 << 20;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Inputs are still running or waiting.
    Running,
    /// Every input has a result (some may be errors).
    Done,
    /// Stopped early: `--fail-fast` saw an error, or the results outgrew
    /// the job's bound (see `error`).
    Failed,
    /// Cancelled by a client.
    Cancelled,
}

/// What one input gave.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The kernel's output.
    Output(Vec<u8>),
    /// Why the input has no output.
    Error(UserError),
}

impl Outcome {
    /// Its metric label: `ok` or the error code.
    pub fn label(&self) -> String {
        match self {
            Outcome::Output(_) => "ok".to_owned(),
            Outcome::Error(e) => crate::metrics::outcome_of(e.code),
        }
    }
}

/// One completed input, as reported to clients.
#[derive(Debug, Clone)]
pub struct Completed {
    /// The input's index.
    pub index: usize,
    /// What it gave.
    pub outcome: Outcome,
    /// Which node ran it.
    pub node: u64,
}

/// A job's status: `GET /v1/fabric/jobs/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobStatus {
    /// The job's id.
    pub id: String,
    /// Where it is.
    pub state: JobState,
    /// The kernel's module name.
    pub kernel: String,
    /// The SHA-256 of the kernel's module.
    pub sha256: String,
    /// How inputs run.
    pub tier: Tier,
    /// How many inputs run at once.
    pub width: usize,
    /// How many inputs the job has.
    pub total: usize,
    /// How many have a result (outputs and errors).
    pub done: usize,
    /// How many of those are errors.
    pub failed: usize,
    /// Completed inputs per node id.
    pub per_node: BTreeMap<u64, usize>,
    /// Output bytes kept.
    pub output_bytes: u64,
    /// When the job started (ms since the Unix epoch).
    pub started_ms: u64,
    /// When it ended, if it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_ms: Option<u64>,
    /// Why a failed job stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A job: what it runs and how far it got. Shared by its workers, the
/// job table and the clients streaming its results.
pub struct Job {
    id: String,
    tenant: String,
    kernel: String,
    sha256: String,
    tier: Tier,
    width: usize,
    total: usize,
    fail_fast: bool,
    started_ms: u64,
    progress: Mutex<Progress>,
    /// Bumped on every completion and on the end, for streaming readers.
    changes: watch::Sender<u64>,
}

struct Progress {
    results: Vec<Option<Completed>>,
    /// Indexes in the order they completed.
    completion_order: Vec<usize>,
    failed: usize,
    output_bytes: u64,
    per_node: BTreeMap<u64, usize>,
    state: JobState,
    finished_ms: Option<u64>,
    error: Option<String>,
}

/// What a new job is, before it runs.
#[derive(Debug, Clone)]
pub struct JobHeader {
    /// The job's id.
    pub id: String,
    /// The tenant that made it.
    pub tenant: String,
    /// The kernel's module name.
    pub kernel: String,
    /// The kernel module's SHA-256.
    pub sha256: String,
    /// How inputs run.
    pub tier: Tier,
    /// How many at once.
    pub width: usize,
    /// How many inputs.
    pub total: usize,
    /// Whether the first failed input stops the job.
    pub fail_fast: bool,
}

impl Job {
    /// A running job with no results yet.
    pub fn new(header: JobHeader) -> Arc<Job> {
        let total = header.total;
        let job = Job {
            id: header.id,
            tenant: header.tenant,
            kernel: header.kernel,
            sha256: header.sha256,
            tier: header.tier,
            width: header.width,
            total,
            fail_fast: header.fail_fast,
            started_ms: now_ms(),
            progress: Mutex::new(Progress {
                results: vec![None; total],
                completion_order: Vec::new(),
                failed: 0,
                output_bytes: 0,
                per_node: BTreeMap::new(),
                state: JobState::Running,
                finished_ms: None,
                error: None,
            }),
            changes: watch::channel(0).0,
        };
        let job = Arc::new(job);
        if total == 0 {
            job.finish(JobState::Done, None);
        }
        job
    }

    /// The job's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The tenant that made it.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// How many inputs it has.
    pub fn total(&self) -> usize {
        self.total
    }

    fn progress(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Output bytes kept so far.
    pub fn output_bytes(&self) -> u64 {
        self.progress().output_bytes
    }

    /// Whether the job still wants results.
    pub fn is_running(&self) -> bool {
        self.progress().state == JobState::Running
    }

    /// Whether input `index` still needs a result (a retried input whose
    /// first attempt also finished is not counted twice).
    pub fn needs(&self, index: usize) -> bool {
        let progress = self.progress();
        progress.state == JobState::Running
            && progress.results.get(index).is_some_and(Option::is_none)
    }

    /// Records input `index`'s outcome, once: a second outcome for the same
    /// index (a retry that raced its first attempt) is dropped. Returns
    /// whether it was recorded.
    pub fn record(&self, index: usize, outcome: Outcome, node: u64) -> bool {
        let mut progress = self.progress();
        if progress.state != JobState::Running {
            return false;
        }
        let Some(slot @ None) = progress.results.get_mut(index) else {
            return false;
        };
        let failed = matches!(outcome, Outcome::Error(_));
        let bytes = match &outcome {
            Outcome::Output(out) => out.len() as u64,
            Outcome::Error(_) => 0,
        };
        *slot = Some(Completed {
            index,
            outcome,
            node,
        });
        progress.completion_order.push(index);
        progress.output_bytes += bytes;
        progress.failed += usize::from(failed);
        *progress.per_node.entry(node).or_default() += 1;
        let ended = if progress.output_bytes > MAX_RESULT_BYTES {
            let why = format!(
                "the results outgrew the job's {} MiB bound",
                MAX_RESULT_BYTES >> 20
            );
            Some((JobState::Failed, Some(why)))
        } else if failed && self.fail_fast {
            let why = format!("input {index} failed and the job runs with fail_fast");
            Some((JobState::Failed, Some(why)))
        } else if progress.completion_order.len() == self.total {
            Some((JobState::Done, None))
        } else {
            None
        };
        if let Some((state, why)) = ended {
            end(&mut progress, state, why);
        }
        drop(progress);
        self.changes.send_modify(|n| *n += 1);
        true
    }

    /// Ends a running job as `state` (no-op once it ended).
    pub fn finish(&self, state: JobState, why: Option<String>) {
        let mut progress = self.progress();
        if progress.state == JobState::Running {
            end(&mut progress, state, why);
        }
        drop(progress);
        self.changes.send_modify(|n| *n += 1);
    }

    /// Its status now.
    pub fn status(&self) -> JobStatus {
        let progress = self.progress();
        JobStatus {
            id: self.id.clone(),
            state: progress.state,
            kernel: self.kernel.clone(),
            sha256: self.sha256.clone(),
            tier: self.tier,
            width: self.width,
            total: self.total,
            done: progress.completion_order.len(),
            failed: progress.failed,
            per_node: progress.per_node.clone(),
            output_bytes: progress.output_bytes,
            started_ms: self.started_ms,
            finished_ms: progress.finished_ms,
            error: progress.error.clone(),
        }
    }

    /// The `position`-th result in `order`: ready, still to come, or never
    /// (the job ended first).
    pub fn result_at(&self, order: ResultOrder, position: usize) -> ResultAt {
        let progress = self.progress();
        let found = match order {
            ResultOrder::Completion => progress
                .completion_order
                .get(position)
                .and_then(|i| progress.results.get(*i)),
            ResultOrder::Input => progress.results.get(position),
        };
        match found.cloned().flatten() {
            Some(completed) => ResultAt::Ready(completed),
            None if position >= self.total || progress.state != JobState::Running => {
                ResultAt::Never
            }
            None => ResultAt::Pending,
        }
    }

    /// Wakes on the next completion or the job's end.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Returns once the job has ended (done, failed or cancelled).
    pub async fn ended(&self) {
        let mut changes = self.subscribe();
        while self.is_running() {
            if changes.changed().await.is_err() {
                break;
            }
        }
    }
}

fn end(progress: &mut Progress, state: JobState, why: Option<String>) {
    progress.state = state;
    progress.finished_ms = Some(now_ms());
    progress.error = why;
}

/// Where a job is at one position of its results.
#[derive(Debug)]
pub enum ResultAt {
    /// The result is there.
    Ready(Completed),
    /// It will come: the job still runs.
    Pending,
    /// It will not: the job ended, or the position is past its inputs.
    Never,
}

/// In which order a client reads results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResultOrder {
    /// As they complete (each carries its index).
    #[default]
    Completion,
    /// By input index: a result waits for every earlier one.
    Input,
}
