//! The idle ladder: on every tick, an `active` sandbox idle for longer than
//! `suspend_after_ms` is suspended and a `suspended` one idle for longer than
//! `freeze_after_ms` is frozen. Frozen sandboxes never archive by themselves.
//! A sandbox that cannot be demoted (a call in flight) keeps a recorded
//! reason, shown by `nexus sandbox info`.

use nexus_raft::SandboxState;
use serde::{Deserialize, Serialize};

use super::Verb;

/// The lifecycle settings (`[lifecycle]` in nexus.toml): idle ladder
/// thresholds and how often the ladder and the schedules are checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifecycleConfig {
    /// Idle time after which an active sandbox is suspended.
    pub suspend_after_ms: u64,
    /// Idle time after which a suspended sandbox is frozen.
    pub freeze_after_ms: u64,
    /// How often the ladder looks.
    pub tick_ms: u64,
    /// How often due schedules are looked for.
    pub schedule_tick_ms: u64,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            suspend_after_ms: 15 * 60 * 1000,
            freeze_after_ms: 24 * 60 * 60 * 1000,
            tick_ms: 10_000,
            schedule_tick_ms: 1_000,
        }
    }
}

/// The demotion due for a sandbox in `state` idle for `idle_ms`, if any.
pub fn due(state: SandboxState, idle_ms: u64, config: &LifecycleConfig) -> Option<Verb> {
    match state {
        SandboxState::Active if idle_ms >= config.suspend_after_ms => Some(Verb::Suspend),
        SandboxState::Suspended if idle_ms >= config.freeze_after_ms => Some(Verb::Freeze),
        _ => None,
    }
}

/// What one tick did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct TickReport {
    /// Sandboxes demoted, with the verb applied.
    pub demoted: Vec<(String, Verb)>,
    /// Sandboxes due for demotion but left alone, with the reason.
    pub skipped: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_pick_the_next_rung() {
        let c = LifecycleConfig {
            suspend_after_ms: 100,
            freeze_after_ms: 1000,
            tick_ms: 10,
            schedule_tick_ms: 10,
        };
        assert_eq!(due(SandboxState::Active, 99, &c), None);
        assert_eq!(due(SandboxState::Active, 100, &c), Some(Verb::Suspend));
        assert_eq!(due(SandboxState::Suspended, 999, &c), None);
        assert_eq!(due(SandboxState::Suspended, 1000, &c), Some(Verb::Freeze));
        assert_eq!(
            due(SandboxState::Frozen, u64::MAX, &c),
            None,
            "frozen never archives itself"
        );
        assert_eq!(due(SandboxState::Created, u64::MAX, &c), None);
    }
}
