//! Workers on this node: each pulls the next input from the job's queue
//! and runs it on a kernel instance — kept between inputs (`instance` and
//! `node` tiers) or made fresh per input, a fresh Store (`process`).

use std::sync::Arc;

use tokio::task::JoinSet;

use super::job::{Job, Outcome};
use super::queue::InputQueue;
use crate::metrics::Metrics;
use crate::sandbox::KernelSource;
use nexus_engine::{CallError, KernelInstance};
use nexus_errors::Coded;

/// What local workers share.
#[derive(Clone)]
pub struct Local {
    /// The job they work for.
    pub job: Arc<Job>,
    /// Where inputs come from.
    pub queue: Arc<InputQueue>,
    /// The inputs' bytes, by index.
    pub inputs: Arc<Vec<Vec<u8>>>,
    /// The kernel.
    pub source: Arc<KernelSource>,
    /// This node's id (results name it).
    pub node: u64,
    /// Where inputs run here are counted.
    pub metrics: Arc<Metrics>,
    /// The job's tier, for the metric.
    pub tier: &'static str,
}

/// Runs `workers` workers until the queue is drained; `reuse` keeps each
/// worker's instance between inputs. `first` (an instance already made)
/// goes to the first worker.
pub async fn run(local: Local, workers: usize, reuse: bool, first: Option<KernelInstance>) {
    let mut tasks = JoinSet::new();
    let mut first = first;
    for _ in 0..workers.max(1) {
        tasks.spawn(work(local.clone(), reuse, first.take()));
    }
    while tasks.join_next().await.is_some() {}
}

async fn work(local: Local, reuse: bool, mut instance: Option<KernelInstance>) {
    while let Some(index) = local.queue.next().await {
        if let Some(input) = local.inputs.get(index) {
            let outcome = run_input(&local.source, &mut instance, reuse, input).await;
            local.metrics.fabric_input(local.tier, &outcome.label());
            local.job.record(index, outcome, local.node);
        }
        local.queue.done();
    }
}

/// Runs `input` on `instance` (made first when there is none), keeping the
/// instance for the next input when `reuse`.
pub async fn run_input(
    source: &KernelSource,
    instance: &mut Option<KernelInstance>,
    reuse: bool,
    input: &[u8],
) -> Outcome {
    let live = match instance.take() {
        Some(live) => live,
        None => match source.instance().await {
            Ok(live) => live,
            Err(e) => return outcome_of(Err(e)),
        },
    };
    let output = live.call(input).await;
    if reuse {
        *instance = Some(live);
    }
    outcome_of(output)
}

/// A kernel call's result as a job outcome.
fn outcome_of(result: Result<Vec<u8>, CallError>) -> Outcome {
    match result {
        Ok(output) => Outcome::Output(output),
        Err(e) => Outcome::Error(e.to_user_error()),
    }
}
