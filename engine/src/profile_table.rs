//! The node's profiles: the built-ins plus custom ones from `nexus.toml`
//! (`[profiles.NAME]`), resolved by name, failing closed to `compute`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::capability::Capabilities;
use super::profile::{Profile, COMPUTE};
use nexus_errors::{Coded, ErrorCode};

/// One `[profiles.NAME]` table of `nexus.toml`. Unset fields come from the
/// `base` profile (a built-in, default `compute`); `capabilities`, when set,
/// replaces the base's set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSpec {
    /// Built-in profile to start from (`compute`, `standard`, `network`).
    pub base: Option<String>,
    /// Memory cap in MiB (1..=4096).
    pub memory_mib: Option<u64>,
    /// CPU time per call in milliseconds (at least 1).
    pub cpu_ms: Option<u64>,
    /// Wall-clock deadline per call in milliseconds (at least 1).
    pub wall_ms: Option<u64>,
    /// Output cap in KiB (at least 1).
    pub output_kib: Option<u64>,
    /// Concurrent calls per sandbox (at least 1).
    pub max_concurrent: Option<u32>,
    /// Granted capability groups, e.g. `["kv", "vfs"]`.
    pub capabilities: Option<Capabilities>,
    /// Largest module in MiB, under the node's `limits.max_module_bytes`.
    pub max_module_mib: Option<u64>,
    /// Most functions a module may define, under the node's limit.
    pub max_module_functions: Option<u32>,
    /// Compile deadline in milliseconds, under the node's.
    pub compile_ms: Option<u64>,
    /// Size quota of each volume (preopened directory) in MiB (1..=65536).
    pub volume_mib: Option<u64>,
    /// Whether `/workspace` is mounted read-only.
    pub workspace_read_only: Option<bool>,
}

/// Largest volume quota a custom profile may set, in MiB (64 GiB).
pub const MAX_VOLUME_MIB: u64 = 65536;

/// A custom profile that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("profile `{name}`: {reason}")]
pub struct ProfileError {
    /// The profile's name.
    pub name: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Coded for ProfileError {
    fn code(&self) -> ErrorCode {
        ErrorCode::ConfigInvalid
    }
}

/// Largest memory cap a custom profile may set, in MiB.
pub const MAX_MEMORY_MIB: u64 = 4096;

/// Every profile this node knows, by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileTable {
    profiles: BTreeMap<String, Profile>,
}

impl Default for ProfileTable {
    fn default() -> Self {
        ProfileTable::builtin()
    }
}

impl ProfileTable {
    /// The built-in profiles only.
    pub fn builtin() -> ProfileTable {
        let profiles = Profile::names()
            .filter_map(Profile::builtin)
            .map(|p| (p.name.clone(), p))
            .collect();
        ProfileTable { profiles }
    }

    /// The built-ins plus `custom` (the `[profiles]` table of `nexus.toml`).
    /// Custom names may not redefine a built-in.
    pub fn with_custom(
        custom: &BTreeMap<String, ProfileSpec>,
    ) -> Result<ProfileTable, ProfileError> {
        let mut table = ProfileTable::builtin();
        for (name, spec) in custom {
            let profile = build(name, spec)?;
            table.profiles.insert(name.clone(), profile);
        }
        Ok(table)
    }

    /// The profile called `name`; an unknown name resolves to `compute`.
    pub fn resolve(&self, name: &str) -> Profile {
        match self.profiles.get(name) {
            Some(p) => p.clone(),
            None => {
                tracing::debug!(profile = name, "unknown profile, using compute");
                Profile::compute()
            }
        }
    }

    /// The profile called `name`, if known.
    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.profiles.get(name)
    }

    /// Every profile, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.values()
    }
}

/// Builds custom profile `name` from `spec`.
fn build(name: &str, spec: &ProfileSpec) -> Result<Profile, ProfileError> {
    let bad = |reason: String| ProfileError {
        name: name.to_string(),
        reason,
    };
    let valid_name = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid_name {
        return Err(bad("use 1-63 characters from a-z, 0-9, '-' and '_'".into()));
    }
    if Profile::builtin(name).is_some() {
        return Err(bad(
            "built-in profiles cannot be redefined; pick another name".into(),
        ));
    }
    let base_name = spec.base.as_deref().unwrap_or(COMPUTE);
    let mut p = Profile::builtin(base_name).ok_or_else(|| {
        bad(format!(
            "unknown base `{base_name}`; use compute, standard or network"
        ))
    })?;
    p.name = name.to_string();
    if let Some(mib) = spec.memory_mib {
        if mib == 0 || mib > MAX_MEMORY_MIB {
            return Err(bad(format!(
                "memory_mib must be 1-{MAX_MEMORY_MIB}, not {mib}"
            )));
        }
        p.memory_bytes = mib << 20;
    }
    if let Some(ms) = spec.cpu_ms {
        p.cpu_time = Duration::from_millis(positive("cpu_ms", ms).map_err(bad)?);
    }
    if let Some(ms) = spec.wall_ms {
        p.wall_time = Duration::from_millis(positive("wall_ms", ms).map_err(bad)?);
    }
    if let Some(kib) = spec.output_kib {
        let kib = positive("output_kib", kib).map_err(bad)?;
        p.output_bytes = usize::try_from(kib.saturating_mul(1024)).unwrap_or(usize::MAX);
    }
    if let Some(n) = spec.max_concurrent {
        p.max_concurrent =
            u32::try_from(positive("max_concurrent", n.into()).map_err(bad)?).unwrap_or(u32::MAX);
    }
    if let Some(caps) = spec.capabilities {
        p.capabilities = caps;
    }
    if let Some(mib) = spec.max_module_mib {
        let mib = positive("max_module_mib", mib).map_err(bad)?;
        p.module_limits.max_module_bytes = Some(mib.saturating_mul(1 << 20));
    }
    if let Some(n) = spec.max_module_functions {
        let n = positive("max_module_functions", n.into()).map_err(bad)?;
        p.module_limits.max_functions = Some(u32::try_from(n).unwrap_or(u32::MAX));
    }
    if let Some(ms) = spec.compile_ms {
        p.module_limits.compile_timeout_ms = Some(positive("compile_ms", ms).map_err(bad)?);
    }
    if let Some(mib) = spec.volume_mib {
        if mib == 0 || mib > MAX_VOLUME_MIB {
            return Err(bad(format!(
                "volume_mib must be 1-{MAX_VOLUME_MIB}, not {mib}"
            )));
        }
        p.volume_bytes = mib << 20;
    }
    if let Some(read_only) = spec.workspace_read_only {
        p.workspace_read_only = read_only;
    }
    Ok(p)
}

fn positive(field: &str, n: u64) -> Result<u64, String> {
    if n == 0 {
        Err(format!("{field} must be at least 1"))
    } else {
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Capability;

    fn one(name: &str, spec: ProfileSpec) -> Result<ProfileTable, ProfileError> {
        ProfileTable::with_custom(&BTreeMap::from([(name.to_string(), spec)]))
    }

    #[test]
    fn custom_inherits_from_base() {
        let spec = ProfileSpec {
            base: Some("standard".into()),
            cpu_ms: Some(250),
            ..ProfileSpec::default()
        };
        let p = one("batch", spec).expect("table").resolve("batch");
        assert_eq!(p.name, "batch");
        assert_eq!(p.cpu_time, Duration::from_millis(250));
        assert_eq!(p.memory_bytes, Profile::standard().memory_bytes);
        assert!(p.grants(Capability::Sign));
    }

    #[test]
    fn module_limits_tighten_only_this_profile() {
        let spec = ProfileSpec {
            max_module_mib: Some(4),
            max_module_functions: Some(5000),
            compile_ms: Some(2000),
            ..ProfileSpec::default()
        };
        let table = one("small", spec).expect("table");
        let limits = table.resolve("small").module_limits;
        assert_eq!(limits.max_module_bytes, Some(4 << 20));
        assert_eq!(limits.max_functions, Some(5000));
        assert_eq!(limits.compile_timeout(), Some(Duration::from_millis(2000)));
        assert_eq!(table.resolve("compute").module_limits.max_functions, None);
        let zero = ProfileSpec {
            max_module_functions: Some(0),
            ..ProfileSpec::default()
        };
        assert_eq!(
            one("x", zero).expect_err("zero").to_string(),
            "profile `x`: max_module_functions must be at least 1"
        );
    }

    #[test]
    fn refuses_bad_profiles() {
        let err = one("compute", ProfileSpec::default()).expect_err("redefines");
        assert!(err.reason.contains("cannot be redefined"), "{err}");
        let spec = ProfileSpec {
            base: Some("root".into()),
            ..ProfileSpec::default()
        };
        assert!(one("x", spec)
            .expect_err("base")
            .reason
            .contains("unknown base"));
        let spec = ProfileSpec {
            memory_mib: Some(0),
            ..ProfileSpec::default()
        };
        assert_eq!(
            one("x", spec).expect_err("zero").to_string(),
            "profile `x`: memory_mib must be 1-4096, not 0"
        );
        assert!(one("Bad Name", ProfileSpec::default()).is_err());
    }

    #[test]
    fn unknown_resolves_to_compute() {
        let table = ProfileTable::builtin();
        assert_eq!(table.resolve("nope"), Profile::compute());
        assert_eq!(table.resolve("network"), Profile::network());
        assert_eq!(table.iter().count(), 3);
    }
}
