//! Profiles: the resource budget and capabilities a call runs under.
//! Resolution fails closed: an unknown name gets the `compute` profile.
//! Built-ins live here; custom profiles from `nexus.toml` in
//! [`ProfileTable`](super::ProfileTable).

use std::time::Duration;

use serde::{Serialize, Serializer};

use super::bounds::ProfileModuleLimits;
use super::capability::{Capabilities, Capability};

/// The limits and grants one call runs under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// Profile name, as docked (`compute`, ...).
    pub name: String,
    /// Cap on the guest's linear memory, in bytes (all memories together).
    pub memory_bytes: u64,
    /// CPU time the guest may spend running per call.
    #[serde(rename = "cpu_time_ms", serialize_with = "millis")]
    pub cpu_time: Duration,
    /// Wall-clock deadline of a whole call, instantiation included.
    #[serde(rename = "wall_time_ms", serialize_with = "millis")]
    pub wall_time: Duration,
    /// Cap on captured output, in bytes: stdout and stderr each for
    /// `command`, the returned bytes for `kernel`.
    pub output_bytes: usize,
    /// Most calls of one sandbox running at once; more wait for a slot
    /// (the wait counts against their wall-clock deadline).
    pub max_concurrent: u32,
    /// Host-import groups the guest may use.
    pub capabilities: Capabilities,
    /// Compile limits tighter than the node's (none for the built-ins).
    pub module_limits: ProfileModuleLimits,
    /// Size quota of each volume seen as a preopened directory, in bytes:
    /// writes past it fail with `EDQUOT`.
    pub volume_bytes: u64,
    /// Whether `/workspace` is preopened read-only.
    pub workspace_read_only: bool,
}

/// The built-ins' [`Profile::volume_bytes`]: 256 MiB per volume.
pub const DEFAULT_VOLUME_BYTES: u64 = 256 << 20;

/// Name of the default (and fallback) profile.
pub const COMPUTE: &str = "compute";
/// Name of the built-in profile adding `queue` and `sign`.
pub const STANDARD: &str = "standard";
/// Name of the built-in profile adding `net`.
pub const NETWORK: &str = "network";

/// The built-in profiles: name → constructor.
const PROFILES: &[(&str, MakeProfile)] = &[
    (COMPUTE, Profile::compute),
    (STANDARD, Profile::standard),
    (NETWORK, Profile::network),
];

/// Builds one known profile.
type MakeProfile = fn() -> Profile;

impl Profile {
    /// The `compute` profile: 64 MiB memory, 5 s CPU, 30 s wall time, 1 MiB
    /// of output, 4 concurrent calls; `vfs`, `kv`, `log`, `clock`, `random`.
    pub fn compute() -> Profile {
        use Capability::*;
        Profile {
            name: COMPUTE.to_string(),
            memory_bytes: 64 << 20,
            cpu_time: Duration::from_secs(5),
            wall_time: Duration::from_secs(30),
            output_bytes: 1 << 20,
            max_concurrent: 4,
            capabilities: Capabilities::of(&[Vfs, Kv, Log, Clock, Random]),
            module_limits: ProfileModuleLimits::default(),
            volume_bytes: DEFAULT_VOLUME_BYTES,
            workspace_read_only: false,
        }
    }

    /// The `standard` profile: `compute` plus `queue`, `sign` and `fabric`,
    /// 128 MiB memory, 10 s CPU, 60 s wall time, 4 MiB of output, 8
    /// concurrent calls. (`fabric` runs kernels of the sandbox's own
    /// workbook under its own profile: it reaches nothing new, but it can
    /// make many instances at once, so the minimal `compute` lacks it.)
    pub fn standard() -> Profile {
        let compute = Profile::compute();
        Profile {
            name: STANDARD.to_string(),
            memory_bytes: 128 << 20,
            cpu_time: Duration::from_secs(10),
            wall_time: Duration::from_secs(60),
            output_bytes: 4 << 20,
            max_concurrent: 8,
            capabilities: compute
                .capabilities
                .with(Capability::Queue)
                .with(Capability::Sign)
                .with(Capability::Fabric),
            module_limits: ProfileModuleLimits::default(),
            volume_bytes: DEFAULT_VOLUME_BYTES,
            workspace_read_only: false,
        }
    }

    /// The `network` profile: `standard` plus `net`, 256 MiB memory, 30 s
    /// CPU, 120 s wall time, 8 MiB of output, 8 concurrent calls.
    pub fn network() -> Profile {
        let standard = Profile::standard();
        Profile {
            name: NETWORK.to_string(),
            memory_bytes: 256 << 20,
            cpu_time: Duration::from_secs(30),
            wall_time: Duration::from_secs(120),
            output_bytes: 8 << 20,
            max_concurrent: 8,
            capabilities: standard.capabilities.with(Capability::Net),
            module_limits: ProfileModuleLimits::default(),
            volume_bytes: DEFAULT_VOLUME_BYTES,
            workspace_read_only: false,
        }
    }

    /// The built-in profile called `name`; any other name resolves to
    /// [`Profile::compute`] (fail closed: never more than the default).
    /// Custom profiles resolve through [`ProfileTable`](super::ProfileTable).
    pub fn resolve(name: &str) -> Profile {
        Profile::builtin(name).unwrap_or_else(|| {
            tracing::debug!(profile = name, "unknown profile, using compute");
            Profile::compute()
        })
    }

    /// The built-in profile called `name`, if there is one.
    pub fn builtin(name: &str) -> Option<Profile> {
        PROFILES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, make)| make())
    }

    /// Names of the built-in profiles.
    pub fn names() -> impl Iterator<Item = &'static str> {
        PROFILES.iter().map(|(name, _)| *name)
    }

    /// Whether the profile grants `cap`.
    pub fn grants(&self, cap: Capability) -> bool {
        self.capabilities.contains(cap)
    }
}

fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compute_defaults() {
        let p = Profile::compute();
        assert_eq!(p.name, "compute");
        assert_eq!(p.memory_bytes, 64 * 1024 * 1024);
        assert_eq!(p.cpu_time, Duration::from_secs(5));
        assert_eq!(p.wall_time, Duration::from_secs(30));
        assert_eq!(p.output_bytes, 1024 * 1024);
        assert_eq!(p.max_concurrent, 4);
        assert_eq!(
            format!("{:?}", p.capabilities),
            r#"["vfs", "kv", "log", "clock", "random"]"#
        );
    }

    #[test]
    fn builtins_grow_monotonically() {
        let (c, s, n) = (Profile::compute(), Profile::standard(), Profile::network());
        assert!(s.grants(Capability::Queue) && s.grants(Capability::Sign));
        assert!(!s.grants(Capability::Net) && n.grants(Capability::Net));
        for cap in c.capabilities.iter() {
            assert!(s.grants(cap) && n.grants(cap), "{cap}");
        }
        assert!(!c.grants(Capability::Net) && !c.grants(Capability::Queue));
        assert!(s.grants(Capability::Fabric) && n.grants(Capability::Fabric));
        assert!(!c.grants(Capability::Fabric));
    }

    #[test]
    fn resolve_fails_closed() {
        assert_eq!(Profile::resolve("compute"), Profile::compute());
        assert_eq!(Profile::resolve("network"), Profile::network());
        assert_eq!(Profile::resolve("root"), Profile::compute());
        assert_eq!(Profile::resolve("Network"), Profile::compute());
        assert_eq!(Profile::resolve(""), Profile::compute());
        assert_eq!(
            Profile::names().collect::<Vec<_>>(),
            ["compute", "standard", "network"]
        );
    }

    #[test]
    fn serializes_durations_as_millis() {
        let json = serde_json::to_value(Profile::compute()).expect("serialize");
        assert_eq!(json["cpu_time_ms"], 5000);
        assert_eq!(json["wall_time_ms"], 30000);
        assert_eq!(json["memory_bytes"], 64 * 1024 * 1024);
        assert_eq!(json["capabilities"][1], "kv");
    }
}
