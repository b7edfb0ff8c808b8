//! `nexus bench`: the node's own benchmarks, run in-process on a temporary
//! data dir, printed beside the performance targets (or as JSON).

mod cluster;
mod dataplane;
mod density;
mod fabric;
mod report;
mod scenarios;
mod volumes;

use std::path::Path;
use std::sync::Arc;

pub use dataplane::DataPlaneRun;
pub use report::{Figure, Report};

use crate::cluster::Replica;
use crate::sandbox::SandboxManager;
use nexus_engine::{Engine, EngineConfig, ProfileTable};
use nexus_errors::{ErrorCode, UserError};

/// How much work a run does.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Sandboxes docked for the density figure.
    pub docked: usize,
    /// Of those, sandboxes called round-robin (and sleeping calls put in
    /// flight at once) for the density figures.
    pub active: usize,
    /// Seconds of the density run's round-robin load.
    pub density_seconds: u64,
    /// Suspend → call cycles for the resume figure.
    pub resumes: usize,
    /// Size of the workbook frozen and thawed, in MiB.
    pub freeze_mib: usize,
    /// Kernel calls for the call-overhead figure.
    pub kernel_calls: usize,
    /// Registry writes of the single-client cluster figure (4× that with 64
    /// clients).
    pub registry_writes: usize,
    /// Times the cluster's leader is stopped for the failover figures.
    pub leader_kills: usize,
    /// The two-node data-plane scenario (moves, routed calls).
    pub data_plane: DataPlaneRun,
    /// Calls per program of the files scenario.
    pub file_runs: usize,
    /// Inputs of the fabric's per-input figures.
    pub fabric_inputs: usize,
    /// The scenario groups to run (empty: all).
    pub only: Vec<Group>,
}

/// A group of scenarios `nexus bench --only` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Group {
    /// Calls into the engine: command instantiation, kernel calls.
    Engine,
    /// One node's sandboxes: resume, freeze/thaw, density.
    Lifecycle,
    /// Registry writes and leader loss on a three-node cluster.
    Registry,
    /// Moves and routed calls between two nodes.
    DataPlane,
    /// Files through preopened volumes against the vfs imports.
    Volumes,
    /// Fabric jobs: per-input overhead of each tier, inputs/s against width.
    Fabric,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            docked: 10_000,
            active: 2_000,
            density_seconds: 20,
            resumes: 500,
            freeze_mib: 64,
            kernel_calls: 200_000,
            registry_writes: 2_000,
            leader_kills: 10,
            data_plane: DataPlaneRun {
                mib: 256,
                moves: 4,
                calls: 500,
            },
            file_runs: 15,
            fabric_inputs: 100_000,
            only: Vec::new(),
        }
    }
}

impl BenchOptions {
    /// A short run (seconds) for smoke-testing the harness.
    pub fn quick() -> BenchOptions {
        BenchOptions {
            docked: 50,
            active: 20,
            density_seconds: 2,
            resumes: 20,
            freeze_mib: 4,
            kernel_calls: 1_000,
            registry_writes: 100,
            leader_kills: 2,
            data_plane: DataPlaneRun {
                mib: 16,
                moves: 2,
                calls: 50,
            },
            file_runs: 2,
            fabric_inputs: 1_000,
            only: Vec::new(),
        }
    }
}

/// A node's parts, wired as `nexus up` wires them, on a scratch data dir.
pub(crate) struct Rig {
    pub engine: Engine,
    pub manager: Arc<SandboxManager>,
    pub tenant: String,
    pub dir: tempfile::TempDir,
    /// Where the engine mounts volumes (outside `dir` with NEXUS_MOUNT_DIR).
    mount_root: std::path::PathBuf,
    _replica: Replica,
}

impl Drop for Rig {
    fn drop(&mut self) {
        // Empty once every call is done; inside `dir` it goes with it.
        let _ = std::fs::remove_dir(&self.mount_root);
    }
}

impl Rig {
    async fn new() -> Result<Rig, UserError> {
        let dir = tempfile::tempdir().map_err(|e| internal(&format!("temp dir: {e}")))?;
        // A cluster of one, through Raft like every registry write.
        let config = crate::config::Config {
            data_dir: dir.path().to_path_buf(),
            // As a node reads it: volumes of running commands go there.
            mount_dir: std::env::var_os("NEXUS_MOUNT_DIR").map(std::path::PathBuf::from),
            ..crate::config::Config::default()
        };
        let replica = Replica::open(&config, "").await?;
        replica.bootstrap().await?;
        let registry = replica.registry();
        // As `nexus up` makes it: the pooled allocator and a disk cache.
        let mount_root = crate::mounts::root(&config, dir.path());
        let limits = crate::config::Limits::default();
        let engine = Engine::with_config(EngineConfig {
            cache_dir: Some(dir.path().join("modcache")),
            mount_dir: Some(mount_root.clone()),
            pool_instances: limits.instances(),
            instance_wait: limits.instance_wait(),
            ..EngineConfig::default()
        })
        .map_err(|e| internal(&e.to_string()))?;
        let manager = SandboxManager::new(
            dir.path().to_path_buf(),
            1,
            registry.clone(),
            engine.clone(),
            ProfileTable::builtin(),
            limits.max_open_workbooks,
        )?;
        let (tenant, _) = crate::tenants::create_tenant(
            &registry,
            "bench",
            nexus_raft::Role::Tenant,
            crate::tenants::FIRST_KEY_NAME,
        )
        .await?;
        Ok(Rig {
            engine,
            manager: Arc::new(manager),
            tenant: tenant.id,
            dir,
            mount_root,
            _replica: replica,
        })
    }

    /// A scratch path inside the rig's data dir.
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

/// Runs the benchmarks `options` select and returns the figures, calling
/// `progress` before each scenario (`nexus bench` draws a bar with it).
pub async fn run(options: &BenchOptions, progress: impl Fn(Step)) -> Result<Report, UserError> {
    let runs = |group| options.only.is_empty() || options.only.contains(&group);
    let total = [
        (Group::Engine, 2),
        (Group::Lifecycle, 3),
        (Group::Registry, 1),
        (Group::DataPlane, 1),
        (Group::Volumes, 1),
        (Group::Fabric, 2),
    ]
    .into_iter()
    .filter(|(group, _)| runs(*group))
    .map(|(_, n)| n)
    .sum();
    let mut done = 0;
    let mut step = |name: &'static str| {
        progress(Step { name, done, total });
        done += 1;
    };
    let mut figures = Vec::new();
    if runs(Group::Engine) || runs(Group::Lifecycle) || runs(Group::Volumes) || runs(Group::Fabric)
    {
        let rig = Rig::new().await?;
        if runs(Group::Engine) {
            step("command calls");
            figures.extend(scenarios::command_call(&rig, 2_000).await?);
            step("kernel calls");
            figures.extend(scenarios::kernel_call(&rig, options.kernel_calls).await?);
        }
        if runs(Group::Lifecycle) {
            step("resume");
            figures.extend(scenarios::resume(&rig, options.resumes).await?);
            step("freeze and thaw");
            figures.extend(scenarios::freeze_thaw(&rig, options.freeze_mib).await?);
            step("density");
            let run = density::DensityRun {
                docked: options.docked,
                active: options.active.min(options.docked),
                seconds: options.density_seconds,
            };
            figures.extend(density::density(&rig, run).await?);
        }
        if runs(Group::Volumes) {
            step("files");
            figures.extend(volumes::files(&rig, options.file_runs).await?);
        }
        if runs(Group::Fabric) {
            step("fabric on one node");
            figures.extend(fabric::local_tiers(&rig, options.fabric_inputs).await?);
        }
    }
    if runs(Group::Registry) {
        step("registry writes");
        figures
            .extend(cluster::registry_writes(options.registry_writes, options.leader_kills).await?);
    }
    if runs(Group::DataPlane) {
        step("data plane");
        figures.extend(dataplane::data_plane(&options.data_plane).await?);
    }
    if runs(Group::Fabric) {
        step("fabric node tier");
        figures.extend(fabric::node_tier(options.fabric_inputs).await?);
    }
    Ok(Report {
        machine: report::machine(),
        figures,
    })
}

/// Where a bench run is: the scenario starting and how many ran before it.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// The scenario starting.
    pub name: &'static str,
    /// Scenarios finished.
    pub done: u64,
    /// Scenarios in this run.
    pub total: u64,
}

pub(crate) fn internal(message: &str) -> UserError {
    UserError::new(ErrorCode::Internal, format!("bench: {message}"))
}

/// Writes a one-module workbook from WAT text to `path` and returns its bytes.
pub(crate) fn wat_workbook(path: &Path, name: &str, wat: &str) -> Result<Vec<u8>, UserError> {
    use nexus_errors::Coded;
    let wasm = wat::parse_str(wat).map_err(|e| internal(&e.to_string()))?;
    let workbook = nexus_workbook::Workbook::create(path, name).map_err(|e| e.to_user_error())?;
    workbook
        .add_module(name, &wasm)
        .map_err(|e| e.to_user_error())?;
    workbook.close().map_err(|e| e.to_user_error())?;
    std::fs::read(path).map_err(|e| internal(&e.to_string()))
}
