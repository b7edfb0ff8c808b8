//! Profiles: the resource budget (and, later, the capabilities) a call runs
//! under. Resolution fails closed: an unknown name gets the `compute` profile.

use std::time::Duration;

use serde::{Serialize, Serializer};

/// The limits one call runs under.
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
    /// Cap on captured output, in bytes, applied to stdout and stderr each.
    pub output_bytes: usize,
}

/// Name of the default (and fallback) profile.
pub const COMPUTE: &str = "compute";

/// The known profiles: name → constructor. Later issues add `standard`,
/// `network` and custom profiles here.
const PROFILES: &[(&str, MakeProfile)] = &[(COMPUTE, Profile::compute)];

/// Builds one known profile.
type MakeProfile = fn() -> Profile;

impl Profile {
    /// The `compute` profile: 64 MiB memory, 5 s CPU, 30 s wall time and
    /// 1 MiB of output per stream; no capabilities beyond the call shape.
    pub fn compute() -> Profile {
        Profile {
            name: COMPUTE.to_string(),
            memory_bytes: 64 << 20,
            cpu_time: Duration::from_secs(5),
            wall_time: Duration::from_secs(30),
            output_bytes: 1 << 20,
        }
    }

    /// The profile called `name`; any unknown name resolves to
    /// [`Profile::compute`] (fail closed: never more than the default).
    pub fn resolve(name: &str) -> Profile {
        match PROFILES.iter().find(|(known, _)| *known == name) {
            Some((_, make)) => make(),
            None => {
                tracing::debug!(profile = name, "unknown profile, using compute");
                Profile::compute()
            }
        }
    }

    /// Names of all known profiles.
    pub fn names() -> impl Iterator<Item = &'static str> {
        PROFILES.iter().map(|(name, _)| *name)
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
    }

    #[test]
    fn resolve_fails_closed() {
        assert_eq!(Profile::resolve("compute"), Profile::compute());
        assert_eq!(Profile::resolve("root"), Profile::compute());
        assert_eq!(Profile::resolve(""), Profile::compute());
        assert_eq!(Profile::names().collect::<Vec<_>>(), ["compute"]);
    }

    #[test]
    fn serializes_durations_as_millis() {
        let json = serde_json::to_value(Profile::compute()).expect("serialize");
        assert_eq!(json["cpu_time_ms"], 5000);
        assert_eq!(json["wall_time_ms"], 30000);
        assert_eq!(json["memory_bytes"], 64 * 1024 * 1024);
    }
}
