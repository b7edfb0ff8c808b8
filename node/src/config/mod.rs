//! Node configuration: `nexus.toml` with `NEXUS_*` environment overrides.

mod api;
mod cluster;
pub mod instances;
mod mesh;
mod metrics;
mod node;
mod replication;

pub use api::{ApiConfig, ApiScheme};
pub use cluster::{Advertise, ClusterConfig, PeerConfig};
pub use metrics::MetricsConfig;
pub use nexus_netctl::MeshConfig;
pub use node::{matches, parse_selector, render, Labels, NodeConfig};
pub use replication::ReplicationConfig;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::lifecycle::ladder::LifecycleConfig;
use crate::provenance::DockPolicy;
use nexus_engine::net::NetPolicy;
use nexus_engine::{
    default_concurrency, CompileConfig, ModuleLimits, ProfileSpec, ProfileTable, QueueLimits,
    DEFAULT_COMPILE_TIMEOUT, DEFAULT_DISK_CACHE_BYTES, DEFAULT_MAX_FUNCTIONS,
    DEFAULT_MAX_FUNCTION_BYTES, DEFAULT_MAX_MODULE_BYTES, DEFAULT_MAX_NESTING_DEPTH,
    DEFAULT_MEMORY_CACHE_BYTES,
};
use nexus_errors::{Coded, ErrorCode, UserError};
use std::collections::BTreeMap;

/// The default address a node serves its HTTP API on.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:2026";
/// The default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = ".nexus";
/// Node id of a node that sets none (a node that joined with a token takes
/// the id its cluster assigned instead).
pub const DEFAULT_NODE_ID: u64 = 1;

/// Everything a node needs to start.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address of the HTTP API.
    pub listen: SocketAddr,
    /// HTTPS or plain HTTP, and the API's certificate.
    pub api: ApiConfig,
    /// Where the registry, sandbox files and keys live.
    pub data_dir: PathBuf,
    /// Where running commands get their volumes as directories; unset:
    /// `mounts/` in the data dir. A tmpfs here makes them RAM-fast.
    pub mount_dir: Option<PathBuf>,
    /// This node's id in the cluster (a single node is node 1).
    pub node_id: u64,
    /// This node's labels and capacity (`[node]`).
    pub node: NodeConfig,
    /// Resource limits of the API.
    pub limits: Limits,
    /// The idle ladder's thresholds and the lifecycle ticks.
    pub lifecycle: LifecycleConfig,
    /// Custom profiles (`[profiles.NAME]`), beside the built-in ones.
    pub profiles: BTreeMap<String, ProfileSpec>,
    /// The replicated registry: peer listener and static members.
    pub cluster: ClusterConfig,
    /// Bounds of the tenant queues of the `queue` capability.
    pub queue: QueueLimits,
    /// Limits of the `net` broker (`allow_cidrs` is for tests only).
    pub net: NetPolicy,
    /// Which workbook signatures dock requires.
    pub dock: DockPolicy,
    /// Where Prometheus scrapes the node (`[metrics]`).
    pub metrics: MetricsConfig,
    /// The WireGuard mesh (`[mesh]`).
    pub mesh: MeshConfig,
    /// Sandbox replicas (`[replication]`).
    pub replication: ReplicationConfig,
}

/// Limits the node enforces on requests.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest workbook upload accepted by `POST /v1/sandboxes`.
    pub max_upload_bytes: usize,
    /// Largest JSON request body (call input included).
    pub max_request_bytes: usize,
    /// Idle sandboxes that keep their workbook open (least recently used
    /// ones are closed beyond this; each open workbook holds 3 files).
    pub max_open_workbooks: usize,
    /// Wasm instances alive at once (calls in flight plus live kernels);
    /// unset: sized from the machine's memory (see [`instances`]).
    pub max_instances: Option<u32>,
    /// How long a call waits for an instance slot when all are taken
    /// before it is refused with `INSTANCES_EXHAUSTED`.
    pub instance_wait_ms: u64,
    /// Workbook uploads in flight on this node at once.
    pub max_concurrent_uploads: usize,
    /// Workbook uploads in flight for one tenant at once.
    pub max_concurrent_uploads_per_tenant: usize,
    /// Time a client has to send a request's line and headers.
    pub header_read_timeout_ms: u64,
    /// Longest pause between two pieces of a request body.
    pub body_read_timeout_ms: u64,
    /// Largest request head (request line and headers).
    pub max_header_bytes: usize,
    /// Open connections one client address may hold.
    pub max_connections_per_ip: usize,
    /// Unknown API keys one client address may present in 10 s before it
    /// is refused (`AUTH_RATE_LIMITED`) for the rest of that window.
    pub max_auth_failures: u32,
    /// Largest wasm module the node compiles.
    pub max_module_bytes: u64,
    /// Most functions a module may define.
    pub max_module_functions: u32,
    /// Largest function body in a module.
    pub max_function_bytes: u64,
    /// Deepest block nesting in a function.
    pub max_nesting_depth: u32,
    /// Module compiles running at once (abandoned ones included).
    pub compile_concurrency: usize,
    /// How long one compile may take, waiting for a slot included.
    pub compile_timeout_ms: u64,
    /// Bytes of compiled code kept in memory for modules no call uses.
    pub module_cache_bytes: u64,
    /// Bytes of precompiled `.cwasm` files kept on disk.
    pub module_disk_cache_bytes: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 2026)),
            api: ApiConfig::default(),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            mount_dir: None,
            node_id: DEFAULT_NODE_ID,
            node: NodeConfig::default(),
            limits: Limits::default(),
            lifecycle: LifecycleConfig::default(),
            profiles: BTreeMap::new(),
            cluster: ClusterConfig::default(),
            queue: QueueLimits::default(),
            net: NetPolicy::default(),
            dock: DockPolicy::default(),
            metrics: MetricsConfig::default(),
            mesh: MeshConfig::default(),
            replication: ReplicationConfig::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_upload_bytes: 256 << 20,
            max_request_bytes: 16 << 20,
            max_open_workbooks: 512,
            max_instances: None,
            instance_wait_ms: 1_000,
            max_concurrent_uploads: 8,
            max_concurrent_uploads_per_tenant: 4,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            max_header_bytes: 64 << 10,
            max_connections_per_ip: 256,
            max_auth_failures: 20,
            max_module_bytes: DEFAULT_MAX_MODULE_BYTES,
            max_module_functions: DEFAULT_MAX_FUNCTIONS,
            max_function_bytes: DEFAULT_MAX_FUNCTION_BYTES,
            max_nesting_depth: DEFAULT_MAX_NESTING_DEPTH,
            compile_concurrency: default_concurrency(),
            compile_timeout_ms: DEFAULT_COMPILE_TIMEOUT.as_millis() as u64,
            module_cache_bytes: DEFAULT_MEMORY_CACHE_BYTES,
            module_disk_cache_bytes: DEFAULT_DISK_CACHE_BYTES,
        }
    }
}

impl Limits {
    /// The instance ceiling: `max_instances`, or one derived from memory.
    pub fn instances(&self) -> u32 {
        self.max_instances
            .unwrap_or_else(instances::for_this_machine)
    }

    /// How long a call waits for an instance slot.
    pub fn instance_wait(&self) -> Duration {
        Duration::from_millis(self.instance_wait_ms)
    }

    /// How the engine compiles modules and how much of them it keeps.
    pub fn compile_config(&self) -> CompileConfig {
        CompileConfig {
            limits: ModuleLimits {
                max_module_bytes: self.max_module_bytes,
                max_functions: self.max_module_functions,
                max_function_bytes: self.max_function_bytes,
                max_nesting_depth: self.max_nesting_depth,
            },
            concurrency: self.compile_concurrency,
            timeout: Duration::from_millis(self.compile_timeout_ms),
            memory_cache_bytes: self.module_cache_bytes,
            disk_cache_bytes: self.module_disk_cache_bytes,
        }
    }
}

impl Config {
    /// The scheme the API is served with (`API_PLAINTEXT_REFUSED` when
    /// the configuration asks for plain HTTP where it must not).
    pub fn api_scheme(&self) -> Result<ApiScheme, UserError> {
        self.api
            .scheme(self.listen, self.cluster.raft_listen.is_some())
    }

    /// The built-in profiles plus the custom ones of this configuration.
    pub fn profile_table(&self) -> Result<ProfileTable, UserError> {
        ProfileTable::with_custom(&self.profiles).map_err(|e| e.to_user_error())
    }

    /// Reads `path` (if given) and applies `NEXUS_*` overrides from `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, UserError> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    UserError::new(
                        ErrorCode::ConfigInvalid,
                        format!("cannot read config file {}: {e}", path.display()),
                    )
                })?;
                toml::from_str(&text).map_err(|e| {
                    UserError::new(
                        ErrorCode::ConfigInvalid,
                        format!("config file {}: {}", path.display(), e.message()),
                    )
                })?
            }
            None => Config::default(),
        };
        for (key, value) in env {
            config.apply_env(&key, &value)?;
        }
        config.node.validate()?;
        let max_factor = nexus_raft::MAX_REPLICAS as u32 + 1;
        if !(1..=max_factor).contains(&config.replication.factor) {
            return Err(UserError::new(
                ErrorCode::ConfigInvalid,
                format!(
                    "[replication] factor is {}: use 1 to {max_factor}",
                    config.replication.factor
                ),
            ));
        }
        if config.replication.home_timeout_ms < 200 {
            return Err(UserError::new(
                ErrorCode::ConfigInvalid,
                format!(
                    "[replication] home_timeout_ms is {}: use at least 200 (a home renews its \
                     lease every 150 ms)",
                    config.replication.home_timeout_ms
                ),
            ));
        }
        if config.limits.max_instances == Some(0) {
            return Err(UserError::new(
                ErrorCode::ConfigInvalid,
                "[limits] max_instances must be at least 1 (leave it unset to size it from memory)",
            ));
        }
        Ok(config)
    }

    /// Applies one environment variable; unknown `NEXUS_*` names are ignored
    /// because the CLI reads some of its own (e.g. `NEXUS_API_KEY`).
    fn apply_env(&mut self, key: &str, value: &str) -> Result<(), UserError> {
        let invalid = |what: &str| {
            UserError::new(
                ErrorCode::ConfigInvalid,
                format!("{key}={value:?} is not a valid {what}"),
            )
        };
        match key {
            "NEXUS_LISTEN" => self.listen = value.parse().map_err(|_| invalid("address"))?,
            "NEXUS_DATA_DIR" => self.data_dir = PathBuf::from(value),
            "NEXUS_MOUNT_DIR" => self.mount_dir = Some(PathBuf::from(value)),
            "NEXUS_NODE_ID" => self.node_id = value.parse().map_err(|_| invalid("node id"))?,
            "NEXUS_METRICS_LISTEN" => {
                self.metrics.listen = Some(value.parse().map_err(|_| invalid("address"))?)
            }
            "NEXUS_RAFT_LISTEN" => {
                self.cluster.raft_listen = Some(value.parse().map_err(|_| invalid("address"))?)
            }
            "NEXUS_MAX_UPLOAD_BYTES" => {
                self.limits.max_upload_bytes = value.parse().map_err(|_| invalid("byte count"))?
            }
            "NEXUS_MAX_OPEN_WORKBOOKS" => {
                self.limits.max_open_workbooks = value.parse().map_err(|_| invalid("count"))?
            }
            "NEXUS_MAX_INSTANCES" => {
                self.limits.max_instances = Some(value.parse().map_err(|_| invalid("count"))?)
            }
            "NEXUS_MAX_AUTH_FAILURES" => {
                self.limits.max_auth_failures = value.parse().map_err(|_| invalid("number"))?
            }
            "NEXUS_MAX_REQUEST_BYTES" => {
                self.limits.max_request_bytes = value.parse().map_err(|_| invalid("byte count"))?
            }
            "NEXUS_HEADER_READ_TIMEOUT_MS" => {
                self.limits.header_read_timeout_ms =
                    value.parse().map_err(|_| invalid("duration"))?
            }
            "NEXUS_BODY_READ_TIMEOUT_MS" => {
                self.limits.body_read_timeout_ms = value.parse().map_err(|_| invalid("duration"))?
            }
            "NEXUS_SUSPEND_AFTER_MS" => {
                self.lifecycle.suspend_after_ms = value.parse().map_err(|_| invalid("duration"))?
            }
            "NEXUS_FREEZE_AFTER_MS" => {
                self.lifecycle.freeze_after_ms = value.parse().map_err(|_| invalid("duration"))?
            }
            "NEXUS_SCHEDULE_TICK_MS" => {
                self.lifecycle.schedule_tick_ms = value.parse().map_err(|_| invalid("duration"))?
            }
            "NEXUS_LADDER_TICK_MS" => {
                self.lifecycle.tick_ms = value.parse().map_err(|_| invalid("duration"))?
            }
            _ => {}
        }
        Ok(())
    }
}

/// The `NEXUS_*` variables of this process.
pub fn nexus_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars().filter(|(k, _)| k.starts_with("NEXUS_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_without_file_or_env() {
        let config = Config::load(None, env(&[])).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
    }

    #[test]
    fn file_then_env_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nexus.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:3000\"\ndata_dir = \"/srv/nexus\"\n[limits]\nmax_upload_bytes = 1024\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&path),
            env(&[("NEXUS_LISTEN", "127.0.0.1:4000"), ("NEXUS_API_KEY", "x")]),
        )
        .unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:4000");
        assert_eq!(config.data_dir, PathBuf::from("/srv/nexus"));
        assert_eq!(config.limits.max_upload_bytes, 1024);
        assert_eq!(
            config.limits.max_request_bytes,
            Limits::default().max_request_bytes
        );
    }

    #[test]
    fn unknown_key_and_bad_env_are_config_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nexus.toml");
        std::fs::write(&path, "listne = \"127.0.0.1:3000\"\n").unwrap();
        let err = Config::load(Some(&path), env(&[])).unwrap_err();
        assert_eq!(err.code, "CONFIG_INVALID");
        assert!(err.message.contains("listne"), "{}", err.message);

        let err = Config::load(None, env(&[("NEXUS_LISTEN", "nowhere")])).unwrap_err();
        assert_eq!(err.code, "CONFIG_INVALID");
        assert!(err.message.contains("NEXUS_LISTEN"), "{}", err.message);
    }

    #[test]
    fn queue_and_net_sections() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nexus.toml");
        std::fs::write(
            &path,
            "[queue]\nmax_messages = 8\n[net]\nallow_cidrs = [\"127.0.0.1/32\"]\ntimeout_ms = 500\n",
        )
        .unwrap();
        let config = Config::load(Some(&path), env(&[])).unwrap();
        assert_eq!(config.queue.max_messages, 8);
        assert_eq!(config.queue.max_message_bytes, 64 << 10);
        assert_eq!(config.net.allow_cidrs, ["127.0.0.1/32".parse().unwrap()]);
        assert_eq!(config.net.timeout_ms, 500);
        assert!(Config::default().net.allow_cidrs.is_empty());
        std::fs::write(&path, "[net]\nallow_cidrs = [\"nope\"]\n").unwrap();
        let err = Config::load(Some(&path), env(&[])).unwrap_err();
        assert_eq!(err.code, "CONFIG_INVALID");
    }

    #[test]
    fn the_instance_ceiling_is_configured_or_derived_and_never_zero() {
        let derived = Config::default().limits.instances();
        assert!(derived >= instances::MIN_INSTANCES, "{derived}");
        let config = Config::load(None, env(&[("NEXUS_MAX_INSTANCES", "2500")])).unwrap();
        assert_eq!(config.limits.instances(), 2500);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nexus.toml");
        std::fs::write(&path, "[limits]\nmax_instances = 0\n").unwrap();
        let err = Config::load(Some(&path), env(&[])).unwrap_err();
        assert_eq!(err.code, "CONFIG_INVALID");
        assert_eq!(
            err.message,
            "[limits] max_instances must be at least 1 (leave it unset to size it from memory)"
        );
    }
}
