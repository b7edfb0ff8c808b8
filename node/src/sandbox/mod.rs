//! Docked sandboxes on this node: dock a workbook file, call it, move it
//! through its lifecycle, remove it. The registry says which sandboxes exist
//! and in which state; this module owns their files, their compiled modules
//! and their activity.

mod call;
mod data;
mod environment;
mod files;
mod ids;
mod kernel;
mod moving;
mod replicated;
mod restore;
mod schedules;
mod serve;
mod store;
mod upkeep;
mod verbs;
pub(crate) mod wal;
mod warm;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use nexus_raft::Sandbox;
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::clock::now_ms;
use crate::cluster::{NewSandbox, RegistryHandle};
use crate::lifecycle::journal::LogPage;
use crate::lifecycle::{Activity, ActivityTable};
use crate::metrics::Metrics;
use crate::provenance::DockPolicy;
use nexus_engine::{CompiledModule, Denials, Engine, Profile, ProfileTable, SandboxContext};
use nexus_errors::{Coded, ErrorCode, UserError};
use nexus_workbook::Volume;

pub use crate::lifecycle::storage::remove_workbook_file;
pub use crate::lifecycle::Verb;
pub use environment::check_call_env;
pub use ids::new_sandbox_id;
pub use kernel::{within_call, KernelSource};
pub use moving::FileKind;
pub use replicated::{ReplicaInfo, Replication, ReplicationInfo, Settling, Shipping};
use store::SandboxFiles;
pub use store::{StagedFile, StagedWriter};

/// What the caller asks for when docking a workbook.
#[derive(Debug, Default, Clone)]
pub struct DockRequest {
    /// Sandbox name; defaults to the workbook's own name.
    pub name: Option<String>,
    /// Profile name; defaults to the workbook's profile (unknown → compute).
    pub profile: Option<String>,
    /// Replication factor (home + replicas); defaults to `[replication] factor`.
    pub replication_factor: Option<u32>,
    /// Durability mode; defaults to `[replication] durability`.
    pub durability: Option<nexus_raft::Durability>,
}

/// A sandbox as `nexus sandbox info` shows it: the registry record and what
/// this node knows of its use.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SandboxInfo {
    /// The registry record.
    #[serde(flatten)]
    pub sandbox: Sandbox,
    /// Milliseconds since its last call, schedule firing or resume.
    pub idle_ms: u64,
    /// Calls running now.
    pub calls_in_flight: usize,
    /// Why the idle ladder last left it where it was, if it did.
    pub not_demoted_reason: Option<String>,
    /// Capability denials (ungranted imports, refused paths...) since the
    /// node started.
    pub denials: Denials,
    /// Its volumes and their quotas, read from its live file; empty when
    /// that file is not on this node (frozen, archived, homed elsewhere).
    pub volumes: Vec<VolumeUsage>,
    /// Its replication as its home sees it (absent on a node without a
    /// data plane: a single node keeps no replicas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<ReplicationInfo>,
}

/// One volume of a sandbox as `sandbox info` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VolumeUsage {
    /// `workspace`, `memory` or `tmp`.
    pub volume: String,
    /// Files in it.
    pub files: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// The profile's quota of a volume, in bytes.
    pub quota_bytes: u64,
    /// Whether commands see it read-only.
    pub read_only: bool,
}

/// Docks, calls, moves and removes this node's sandboxes.
pub struct SandboxManager {
    node_id: u64,
    registry: RegistryHandle,
    engine: Engine,
    profiles: ProfileTable,
    files: SandboxFiles,
    /// The sha256 of each sandbox's compiled modules (`ID` for the entry,
    /// `ID/NAME` for named ones); the engine's bounded cache holds the code.
    loaded: Mutex<HashMap<String, String>>,
    /// Each sandbox's default environment (`meta.env`), once read.
    env_defaults: Mutex<HashMap<String, Arc<nexus_workbook::EnvVars>>>,
    contexts: Mutex<warm::WarmSet>,
    activity: ActivityTable,
    /// The ids of this node's sandboxes at the last reconciliation (see
    /// [`SandboxManager::reconcile`]).
    homed: Mutex<HashSet<String>>,
    schedules: schedules::ScheduleTable,
    dock_policy: DockPolicy,
    metrics: Arc<Metrics>,
    /// Replicas and failover (`None`: a node without a data plane).
    replication: Option<Arc<dyn Replication>>,
    /// Held while a copy is promoted, so two callers do not both do it.
    adopting: Mutex<()>,
}

impl SandboxManager {
    /// A manager keeping sandbox files under `data_dir`, running calls
    /// under the profiles of `profiles`, with at most `max_open_workbooks`
    /// idle sandboxes holding their workbook open.
    pub fn new(
        data_dir: PathBuf,
        node_id: u64,
        registry: RegistryHandle,
        engine: Engine,
        profiles: ProfileTable,
        max_open_workbooks: usize,
    ) -> Result<SandboxManager, UserError> {
        let metrics = Arc::new(Metrics::new());
        registry.register_metrics(&metrics);
        Ok(SandboxManager {
            node_id,
            registry,
            engine,
            profiles,
            contexts: Mutex::new(warm::WarmSet::new(max_open_workbooks)),
            loaded: Mutex::new(HashMap::new()),
            env_defaults: Mutex::new(HashMap::new()),
            activity: ActivityTable::observed(metrics.clone()),
            metrics,
            homed: Mutex::new(HashSet::new()),
            schedules: schedules::ScheduleTable::open(&data_dir),
            files: SandboxFiles::create(data_dir)?,
            dock_policy: DockPolicy::default(),
            replication: None,
            adopting: Mutex::new(()),
        })
    }

    /// This node's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The engine's instance pool: its size and the slots free now.
    pub fn instance_pool(&self) -> (usize, usize) {
        (
            self.engine.config().pool_instances as usize,
            self.engine.pool_available(),
        )
    }

    /// This manager with `policy` checked on every uploaded workbook.
    pub fn with_dock_policy(mut self, policy: DockPolicy) -> SandboxManager {
        self.dock_policy = policy;
        self
    }

    /// Checks an uploaded workbook against the dock policy, validates it,
    /// compiles its entry module and records the new sandbox for
    /// `tenant_id`. Nothing is kept if any step fails.
    pub async fn dock(
        &self,
        tenant_id: &str,
        bytes: Vec<u8>,
        request: DockRequest,
    ) -> Result<Sandbox, UserError> {
        let staged = self.files.stage(bytes).await?;
        self.dock_upload(tenant_id, staged, request).await
    }

    /// Opens a staging file for an upload streamed in pieces.
    pub async fn upload_writer(&self) -> Result<store::StagedWriter, UserError> {
        self.files.stage_writer().await
    }

    /// Creates an empty staging file for a moved-in file, written in place
    /// (the move checks it block by block).
    pub fn move_file(&self) -> Result<(std::fs::File, StagedFile), UserError> {
        self.files.stage_blank()
    }

    /// [`SandboxManager::dock`] of an upload already staged on disk.
    pub async fn dock_upload(
        &self,
        tenant_id: &str,
        staged: store::StagedFile,
        request: DockRequest,
    ) -> Result<Sandbox, UserError> {
        let path = staged.path().map(PathBuf::from).unwrap_or_default();
        let policy = self.dock_policy.clone();
        blocking(move || policy.check(&path).map_err(|e| e.to_user_error())).await?;
        self.dock_staged(tenant_id, staged, request).await
    }

    async fn dock_staged(
        &self,
        tenant_id: &str,
        staged: store::StagedFile,
        request: DockRequest,
    ) -> Result<Sandbox, UserError> {
        let path = staged.path().map(PathBuf::from).unwrap_or_default();
        let checked = path.clone();
        let entry = blocking(move || store::load_module(&path, None)).await?;
        let profile = request.profile.unwrap_or(entry.profile);
        if self.profiles.get(&profile).is_none() {
            return Err(UserError::new(
                ErrorCode::ProfileUnknown,
                format!("this node has no profile named {profile:?}"),
            ));
        }
        blocking(move || schedules::check_schedules(&checked)).await?;
        let module = self
            .compile(&profile, &entry.module_sha256, entry.wasm)
            .await?;

        let sandbox_id = new_sandbox_id();
        let new = NewSandbox {
            id: sandbox_id.clone(),
            tenant_id: tenant_id.to_string(),
            name: request.name.unwrap_or(entry.name),
            profile,
            workbook_sha256: staged.sha256.clone(),
            home_node: self.node_id,
            at_ms: now_ms(),
            replication_factor: request.replication_factor,
            durability: request.durability,
        };
        self.files.adopt(staged, &sandbox_id)?;
        let sandbox = match self.registry.dock_sandbox(new).await {
            Ok(sandbox) => sandbox,
            Err(e) => {
                self.files.remove(&sandbox_id);
                return Err(e);
            }
        };
        self.remember(&sandbox.id, module);
        info!(sandbox = %sandbox.id, tenant = tenant_id, name = %sandbox.name, "docked");
        Ok(sandbox)
    }

    /// One sandbox of `tenant_id`; another tenant's sandbox is not found.
    pub fn get(&self, tenant_id: &str, sandbox_id: &str) -> Result<Sandbox, UserError> {
        self.registry
            .read(|r| r.sandbox(tenant_id, sandbox_id))?
            .ok_or_else(|| not_found(sandbox_id))
    }

    /// One sandbox of `tenant_id` that this node hosts (runs its calls and
    /// holds its files); one homed elsewhere is refused, naming its node.
    pub fn hosted(&self, tenant_id: &str, sandbox_id: &str) -> Result<Sandbox, UserError> {
        let sandbox = self.get(tenant_id, sandbox_id)?;
        if sandbox.home_node != self.node_id {
            return Err(UserError::new(
                ErrorCode::SandboxOnOtherNode,
                format!(
                    "sandbox {sandbox_id} lives on node {}, not on this node ({})",
                    sandbox.home_node, self.node_id
                ),
            ));
        }
        Ok(sandbox)
    }

    /// One sandbox with this node's view of its activity.
    pub fn info(&self, tenant_id: &str, sandbox_id: &str) -> Result<SandboxInfo, UserError> {
        let sandbox = self.get(tenant_id, sandbox_id)?;
        let activity = self.activity_of(&sandbox);
        Ok(SandboxInfo {
            idle_ms: activity.idle_ms(now_ms()),
            calls_in_flight: activity.calls_in_flight(),
            not_demoted_reason: activity.not_demoted_reason(),
            denials: activity.denials().snapshot(),
            volumes: self.volume_usage(&sandbox),
            replication: None,
            sandbox,
        })
    }

    /// The volumes of `sandbox`'s live file on this node, with its
    /// profile's quota; empty if the file is not here or cannot be read.
    fn volume_usage(&self, sandbox: &Sandbox) -> Vec<VolumeUsage> {
        let path = self.files.path(&sandbox.id);
        if sandbox.home_node != self.node_id || !path.exists() {
            return Vec::new();
        }
        let profile = self.profiles.resolve(&sandbox.profile);
        let stats = nexus_workbook::Workbook::open_read_only(&path).and_then(|w| {
            Volume::ALL
                .into_iter()
                .map(|v| w.volume_stats(v))
                .collect::<Result<Vec<_>, _>>()
        });
        match stats {
            Ok(stats) => stats
                .into_iter()
                .map(|s| VolumeUsage {
                    volume: s.volume.as_str().to_string(),
                    files: s.files,
                    bytes: s.bytes,
                    quota_bytes: profile.volume_bytes,
                    read_only: s.volume == Volume::Workspace && profile.workspace_read_only,
                })
                .collect(),
            Err(e) => {
                tracing::warn!(sandbox = %sandbox.id, error = %e, "cannot read the volumes");
                Vec::new()
            }
        }
    }

    /// Up to `limit` entries of the sandbox's log on this node after `after`.
    pub fn logs(
        &self,
        tenant_id: &str,
        sandbox_id: &str,
        after: u64,
        limit: usize,
    ) -> Result<LogPage, UserError> {
        let sandbox = self.get(tenant_id, sandbox_id)?;
        Ok(self.activity_of(&sandbox).log().after(after, limit))
    }

    /// All sandboxes of `tenant_id`.
    pub fn list(&self, tenant_id: &str) -> Result<Vec<Sandbox>, UserError> {
        self.registry.read(|r| r.sandboxes(tenant_id))
    }

    /// Removes the sandbox from the registry, then its files. Waits for
    /// calls in flight to finish.
    pub async fn remove(&self, tenant_id: &str, sandbox_id: &str) -> Result<(), UserError> {
        let sandbox = self.hosted(tenant_id, sandbox_id)?;
        let activity = self.activity_of(&sandbox);
        let _held = activity.exclusive().await;
        self.registry.remove_sandbox(tenant_id, sandbox_id).await?;
        self.drop_local(sandbox_id);
        info!(sandbox = sandbox_id, tenant = tenant_id, "removed");
        Ok(())
    }

    /// Forgets everything this node holds for a sandbox whose record is
    /// gone: compiled modules, context, activity, schedules and its files.
    fn drop_local(&self, sandbox_id: &str) {
        self.forget(sandbox_id);
        self.forget_shipping(sandbox_id);
        self.files.remove(sandbox_id);
        self.activity.remove(sandbox_id);
        self.schedules.forget(sandbox_id);
    }

    /// Every sandbox homed on this node (for the idle ladder and recovery).
    pub fn local_sandboxes(&self) -> Result<Vec<Sandbox>, UserError> {
        let node_id = self.node_id;
        Ok(self
            .registry
            .read(|r| r.all_sandboxes())?
            .into_iter()
            .filter(|s| s.home_node == node_id)
            .collect())
    }

    /// The activity record of a sandbox.
    pub fn activity_of(&self, sandbox: &Sandbox) -> Arc<Activity> {
        self.activity.get(&sandbox.id, sandbox.updated_at_ms)
    }

    /// The module `sha256` compiled for a sandbox of profile `profile`
    /// (whose compile limits it must meet too), off the async threads.
    async fn compile(
        &self,
        profile: &str,
        sha256: &str,
        wasm: Vec<u8>,
    ) -> Result<Arc<CompiledModule>, UserError> {
        let engine = self.engine.clone();
        let profile = self.profiles.resolve(profile);
        let sha256 = sha256.to_string();
        blocking(move || {
            engine
                .compile_for(&profile, &sha256, &wasm)
                .map_err(|e| e.to_user_error())
        })
        .await
    }

    /// The profiles sandboxes on this node may use.
    pub fn profiles(&self) -> &ProfileTable {
        &self.profiles
    }

    /// The compiled entry module, from memory or from the live file.
    async fn module_for(&self, sandbox: &Sandbox) -> Result<Arc<CompiledModule>, UserError> {
        self.named_module_for(sandbox, None).await
    }

    /// The compiled module `name` (the entry module when `None`).
    async fn named_module_for(
        &self,
        sandbox: &Sandbox,
        name: Option<&str>,
    ) -> Result<Arc<CompiledModule>, UserError> {
        let key = match name {
            None => sandbox.id.clone(),
            Some(name) => format!("{}/{name}", sandbox.id),
        };
        if let Some(module) = self.lookup(&key) {
            return Ok(module);
        }
        let path = self.files.path(&sandbox.id);
        let name = name.map(str::to_string);
        let entry = blocking(move || store::load_live_module(&path, name.as_deref())).await?;
        self.load_module(sandbox, &key, entry).await
    }

    /// Compiles (or finds in the engine's caches) `entry`, read from
    /// `sandbox`'s workbook, and remembers it under `key`.
    async fn load_module(
        &self,
        sandbox: &Sandbox,
        key: &str,
        entry: store::EntryModule,
    ) -> Result<Arc<CompiledModule>, UserError> {
        let module = self
            .compile(&sandbox.profile, &entry.module_sha256, entry.wasm)
            .await?;
        self.remember(key, module.clone());
        Ok(module)
    }

    /// The module last compiled for `key`, if the engine still holds it.
    fn lookup(&self, key: &str) -> Option<Arc<CompiledModule>> {
        let sha256 = self.loaded_map().get(key).cloned()?;
        self.engine.cached(&sha256)
    }

    fn remember(&self, key: &str, module: Arc<CompiledModule>) {
        self.loaded_map()
            .insert(key.to_string(), module.sha256().to_string());
    }

    /// The engine context of a sandbox: its workbook data (kept open while
    /// it runs), its denial counter and its tenant (for `queue` and `sign`).
    fn context_for(&self, sandbox: &Sandbox, profile: &Profile) -> Arc<SandboxContext> {
        let mut contexts = self.contexts.lock().unwrap_or_else(|p| p.into_inner());
        contexts.get_or_insert_with(&sandbox.id, || {
            let data = data::WorkbookData::new(self.files.path(&sandbox.id));
            let context = SandboxContext::new(sandbox.id.clone(), Arc::new(data), profile)
                .with_denials(self.activity_of(sandbox).denials().clone())
                .with_tenant(&sandbox.tenant_id, self.engine.services().clone());
            Arc::new(context)
        })
    }

    /// Drops a sandbox's engine context, closing its workbook file. Its
    /// compiled modules stay: they are code, not state.
    fn close_context(&self, sandbox_id: &str) {
        self.contexts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(sandbox_id);
    }

    /// Drops the compiled modules of a sandbox (entry and named ones),
    /// releasing those no other sandbox uses from the engine's cache, and
    /// its engine context, closing its workbook.
    fn forget(&self, sandbox_id: &str) {
        self.close_context(sandbox_id);
        self.forget_env(sandbox_id);
        let named = format!("{sandbox_id}/");
        let mut loaded = self.loaded_map();
        let mut dropped = Vec::new();
        loaded.retain(|key, sha256| {
            let keep = key != sandbox_id && !key.starts_with(&named);
            if !keep {
                dropped.push(sha256.clone());
            }
            keep
        });
        // The code of a module no other sandbox uses is freed now.
        for sha256 in dropped {
            if !loaded.values().any(|s| *s == sha256) {
                self.engine.release(&sha256);
            }
        }
    }

    fn loaded_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.loaded.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs blocking work (SQLite, file copies, compilation) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, UserError> + Send + 'static,
) -> Result<T, UserError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| UserError::new(ErrorCode::Internal, format!("worker task failed: {e}")))?
}

fn not_found(sandbox_id: &str) -> UserError {
    UserError::new(
        ErrorCode::SandboxNotFound,
        format!("sandbox {sandbox_id} does not exist"),
    )
}
