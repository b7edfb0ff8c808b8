//! The sandbox lifecycle: states and the transitions allowed between them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::ParseEnumError;

/// Lifecycle state of a docked sandbox (serialized lowercase).
///
/// The allowed hops are exactly:
///
/// ```text
/// created   -> active
/// active    -> suspended | archived
/// suspended -> active | frozen
/// frozen    -> active | archived
/// archived  -> active | deleted
/// deleted   -> (none)
/// ```
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SandboxState {
    /// Docked, never started.
    Created,
    /// Running (or runnable) on its home node.
    Active,
    /// Instance stopped, file kept local.
    Suspended,
    /// File copied to cold storage.
    Frozen,
    /// Retired; can be revived or deleted.
    Archived,
    /// Terminal.
    Deleted,
}

impl SandboxState {
    /// Every state, in lifecycle order.
    pub const ALL: [SandboxState; 6] = [
        SandboxState::Created,
        SandboxState::Active,
        SandboxState::Suspended,
        SandboxState::Frozen,
        SandboxState::Archived,
        SandboxState::Deleted,
    ];

    /// The lowercase name, as serialized and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxState::Created => "created",
            SandboxState::Active => "active",
            SandboxState::Suspended => "suspended",
            SandboxState::Frozen => "frozen",
            SandboxState::Archived => "archived",
            SandboxState::Deleted => "deleted",
        }
    }

    /// The states this one may move to, in lifecycle order.
    pub fn allowed_next(self) -> &'static [SandboxState] {
        use SandboxState::*;
        match self {
            Created => &[Active],
            Active => &[Suspended, Archived],
            Suspended => &[Active, Frozen],
            Frozen => &[Active, Archived],
            Archived => &[Active, Deleted],
            Deleted => &[],
        }
    }

    /// Whether `self -> to` is an allowed hop (a state never moves to itself).
    pub fn can_transition_to(self, to: SandboxState) -> bool {
        self.allowed_next().contains(&to)
    }
}

impl fmt::Display for SandboxState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SandboxState {
    type Err = ParseEnumError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SandboxState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| ParseEnumError::new("sandbox state", s, &STATE_NAMES))
    }
}

const STATE_NAMES: [&str; 6] = [
    "created",
    "active",
    "suspended",
    "frozen",
    "archived",
    "deleted",
];

/// Joins states as `a, b, c`, or `none` when empty (for error messages).
pub(crate) fn join_states(states: &[SandboxState]) -> String {
    if states.is_empty() {
        return "none".to_owned();
    }
    states
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_str_and_serde() {
        for state in SandboxState::ALL {
            assert_eq!(state.as_str().parse::<SandboxState>(), Ok(state));
            assert_eq!(state.to_string(), state.as_str());
            let json = serde_json::to_string(&state).expect("serialize");
            assert_eq!(json, format!("\"{}\"", state.as_str()));
            let back: SandboxState = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back, state);
        }
    }

    #[test]
    fn unknown_name_is_rejected_with_the_choices() {
        let err = "Active".parse::<SandboxState>().expect_err("case matters");
        let msg = err.to_string();
        assert!(msg.contains("sandbox state"), "{msg}");
        assert!(msg.contains("\"Active\""), "{msg}");
        assert!(msg.contains("suspended"), "{msg}");
    }

    #[test]
    fn join_states_formats_lists_and_none() {
        assert_eq!(
            join_states(SandboxState::Suspended.allowed_next()),
            "active, frozen"
        );
        assert_eq!(join_states(SandboxState::Deleted.allowed_next()), "none");
    }
}
