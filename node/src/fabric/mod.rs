//! The fabric: a kernel fanned out over many inputs. A job names a kernel
//! (a module of a docked sandbox, or wasm sent with the job), its inputs, a
//! width (inputs at once) and a tier (how each input runs). Results are kept
//! per input index and streamed as they complete; a failing input is
//! reported with its index and does not stop the job unless it is
//! `fail_fast`. Jobs live in memory on the node that accepted them.

pub mod container;
mod docker;
mod feed;
mod guest;
pub mod job;
mod local;
mod queue;
mod remote;
pub mod request;
pub mod wire;
pub mod worker;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tracing::info;

use crate::dataplane::DataPlane;
use crate::sandbox::SandboxManager;
use container::WorkerImage;
pub use guest::GuestFabric;
use job::JobHeader;
pub use job::{Job, JobState, JobStatus, ResultOrder};
use local::Local;
use nexus_errors::{Coded, ErrorCode, UserError};
use queue::InputQueue;
pub use request::{JobRequest, KernelOrigin, ResultLine};

/// How a job runs each input.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// A pool of `width` kernel instances on this node, each reused across
    /// inputs (the fast path; guest state may carry between inputs).
    #[default]
    Instance,
    /// A fresh instance (a fresh Store) per input, on this node: nothing
    /// carries from one input to the next.
    Process,
    /// Inputs spread over every node of the cluster (this one included),
    /// each pulling work as it has free slots; the module is shipped once
    /// by SHA-256. Kernels get in-memory data on every node.
    Node,
    /// Each worker in a throwaway Docker container on this node (no
    /// network, memory, CPU and process ceilings), from an image built
    /// locally from this node's binary; the module is shipped in. Kernels
    /// get in-memory data.
    Container,
}

impl Tier {
    /// Its name (`instance`, `process`, `node`).
    pub fn label(self) -> &'static str {
        match self {
            Tier::Instance => "instance",
            Tier::Process => "process",
            Tier::Node => "node",
            Tier::Container => "container",
        }
    }

    /// Whether the kernel runs away from the sandbox (its module's bytes
    /// are shipped and each instance gets in-memory data).
    fn ships_module(self) -> bool {
        matches!(self, Tier::Node | Tier::Container)
    }
}

/// The most jobs a node keeps (running and finished); the oldest finished
/// job is forgotten to make room.
pub const MAX_JOBS: usize = 64;
/// The most output bytes the finished jobs a node keeps hold in all; the
/// oldest are forgotten past it.
pub const MAX_KEPT_BYTES: u64 = 1 << 30;
/// The most jobs that run at once on a node.
pub const MAX_RUNNING_JOBS: usize = 8;

/// This node's jobs.
pub struct Fabric {
    node_id: u64,
    manager: Arc<SandboxManager>,
    dataplane: Option<Arc<DataPlane>>,
    image: WorkerImage,
    jobs: Mutex<VecDeque<Arc<Job>>>,
}

impl std::fmt::Debug for Fabric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fabric")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

impl Fabric {
    /// The fabric of node `node_id`, running kernels of `manager`'s
    /// sandboxes, reaching peers (the node tier) over `dataplane`.
    pub fn new(
        node_id: u64,
        manager: Arc<SandboxManager>,
        dataplane: Option<Arc<DataPlane>>,
    ) -> Fabric {
        Fabric {
            node_id,
            manager,
            dataplane,
            image: WorkerImage::default(),
            jobs: Mutex::new(VecDeque::new()),
        }
    }

    fn jobs(&self) -> MutexGuard<'_, VecDeque<Arc<Job>>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks `request`, makes the kernel's first instance (so a module
    /// that is not a kernel fails here, not once per input) and starts the
    /// job. Returns its status.
    pub async fn submit(&self, tenant: &str, request: JobRequest) -> Result<JobStatus, UserError> {
        let (width, tier, fail_fast) = (request.width, request.tier, request.fail_fast);
        let kernel = request.kernel.clone();
        let (origin, inputs) = request.decode()?;
        let mut source = match origin {
            KernelOrigin::Sandbox(id) => {
                self.manager
                    .sandbox_kernel(tenant, &id, &kernel, tier.ships_module())
                    .await?
            }
            KernelOrigin::Wasm(wasm, profile) => self.manager.wasm_kernel(&profile, wasm).await?,
        };
        if tier.ships_module() {
            source = source.without_data();
        }
        let first = source.instance().await.map_err(|e| {
            let error = e.to_user_error();
            UserError::new(
                error.code,
                format!("kernel `{kernel}` cannot run: {}", error.message),
            )
        })?;
        let image = match tier {
            Tier::Container => Some(self.image.ensure().await?),
            _ => None,
        };
        let header = JobHeader {
            id: job_id(self.node_id),
            tenant: tenant.to_owned(),
            kernel,
            sha256: source.sha256().to_owned(),
            tier,
            width,
            total: inputs.len(),
            fail_fast,
        };
        let job = Job::new(header);
        self.admit(job.clone())?;
        info!(
            job = job.id(),
            inputs = job.total(),
            ?tier,
            width,
            "fabric job started"
        );
        let local = Local {
            job: job.clone(),
            queue: Arc::new(InputQueue::new(inputs.len())),
            inputs: Arc::new(inputs),
            source: Arc::new(source),
            node: self.node_id,
            metrics: self.manager.metrics().clone(),
            tier: tier.label(),
        };
        tokio::spawn(close_when_ended(job.clone(), local.queue.clone()));
        let dataplane = self.dataplane.clone();
        tokio::spawn(async move {
            let job = local.job.clone();
            match tier {
                Tier::Instance => local::run(local, width, true, Some(first)).await,
                Tier::Process => local::run(local, width, false, Some(first)).await,
                Tier::Node => remote::run(local, dataplane, width, first).await,
                Tier::Container => {
                    drop(first);
                    let image = image.unwrap_or_default();
                    container::run(local, image, width).await
                }
            }
            // Workers stop when the queue is drained: every input has a
            // result unless a worker died (a panic).
            job.finish(
                JobState::Failed,
                Some("the job's workers stopped before every input had a result".into()),
            );
            let status = job.status();
            info!(job = status.id, state = ?status.state, done = status.done, failed = status.failed, "fabric job ended");
        });
        Ok(job.status())
    }

    /// Adds `job` to the table, forgetting the oldest finished jobs while
    /// the table is full or their results hold too much; refuses with
    /// `FABRIC_BUSY` when too many run.
    fn admit(&self, job: Arc<Job>) -> Result<(), UserError> {
        let mut jobs = self.jobs();
        let running = jobs.iter().filter(|j| j.is_running()).count();
        if running >= MAX_RUNNING_JOBS {
            return Err(UserError::new(
                ErrorCode::FabricBusy,
                format!("this node already runs {running} fabric jobs, its limit"),
            ));
        }
        let kept = |jobs: &VecDeque<Arc<Job>>| -> u64 {
            jobs.iter()
                .filter(|j| !j.is_running())
                .map(|j| j.output_bytes())
                .sum()
        };
        while jobs.len() >= MAX_JOBS || kept(&jobs) > MAX_KEPT_BYTES {
            let Some(oldest) = jobs.iter().position(|j| !j.is_running()) else {
                break;
            };
            jobs.remove(oldest);
        }
        jobs.push_back(job);
        Ok(())
    }

    /// Job `id` of `tenant`.
    pub fn get(&self, tenant: &str, id: &str) -> Result<Arc<Job>, UserError> {
        self.jobs()
            .iter()
            .find(|j| j.id() == id && j.tenant() == tenant)
            .cloned()
            .ok_or_else(|| {
                UserError::new(
                    ErrorCode::FabricJobNotFound,
                    format!("fabric job {id} is not on this node"),
                )
            })
    }

    /// The statuses of `tenant`'s jobs, oldest first.
    pub fn list(&self, tenant: &str) -> Vec<JobStatus> {
        self.jobs()
            .iter()
            .filter(|j| j.tenant() == tenant)
            .map(|j| j.status())
            .collect()
    }

    /// Cancels job `id`: inputs not started never run; results so far stay.
    pub fn cancel(&self, tenant: &str, id: &str) -> Result<JobStatus, UserError> {
        let job = self.get(tenant, id)?;
        job.finish(JobState::Cancelled, None);
        Ok(job.status())
    }
}

/// Closes `queue` once `job` ends (done, failed or cancelled), so workers
/// waiting on it stop.
async fn close_when_ended(job: Arc<Job>, queue: Arc<InputQueue>) {
    job.ended().await;
    queue.close();
}

/// A new job id: `job_NODE_RANDOM`, naming the node that runs it.
fn job_id(node: u64) -> String {
    format!("job_{node}_{:012x}", rand::random::<u64>() >> 16)
}

/// The node a job id names, if it is one.
pub fn node_of_job(id: &str) -> Option<u64> {
    let rest = id.strip_prefix("job_")?;
    let (node, _) = rest.split_once('_')?;
    node.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::{job_id, node_of_job};

    #[test]
    fn a_job_id_names_its_node() {
        assert_eq!(node_of_job(&job_id(7)), Some(7));
        assert_eq!(node_of_job("job_x_1"), None);
        assert_eq!(node_of_job("sb_1"), None);
    }
}
