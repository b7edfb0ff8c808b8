//! Start-up recovery: after a crash at any step of suspend, freeze, resume,
//! archive or delete, the registry's recorded state says which copy of a
//! sandbox's file is authoritative, and this pass makes the files agree.
//!
//! Verbs do their file work first and record the state last, so:
//! - `frozen`/`archived`: the cold copy is the truth; a live copy is a
//!   leftover of an unrecorded resume or of a freeze that had not yet
//!   dropped it, and is removed;
//! - `created`/`active`/`suspended`: the live copy is the truth; a cold copy
//!   is the leftover of an unrecorded freeze or a finished thaw, and is
//!   removed; a missing live copy is restored from the cold one;
//! - `deleted`: both are removed. Files no sandbox owns and copies that were
//!   in progress (`*.partial`) are removed.

use nexus_raft::SandboxState;
use serde::Serialize;

/// What recovery does to one sandbox's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Repair {
    /// Files agree with the state.
    Nothing,
    /// Remove the live copy.
    RemoveLive,
    /// Remove the cold copy.
    RemoveCold,
    /// Remove both copies.
    RemoveBoth,
    /// Copy cold to live (the live copy is missing).
    RestoreLive,
    /// Copy live to cold (the cold copy is missing).
    RestoreCold,
    /// Neither copy exists: the sandbox's data is gone.
    Lost,
}

/// The repair that makes the files of a sandbox in `state` agree with it.
pub fn plan(state: SandboxState, live: bool, cold: bool) -> Repair {
    match state {
        SandboxState::Frozen | SandboxState::Archived => match (live, cold) {
            (_, true) if live => Repair::RemoveLive,
            (_, true) => Repair::Nothing,
            (true, false) => Repair::RestoreCold,
            (false, false) => Repair::Lost,
        },
        SandboxState::Deleted if live || cold => Repair::RemoveBoth,
        SandboxState::Deleted => Repair::Nothing,
        SandboxState::Created | SandboxState::Active | SandboxState::Suspended => {
            match (live, cold) {
                (true, true) => Repair::RemoveCold,
                (true, false) => Repair::Nothing,
                (false, true) => Repair::RestoreLive,
                (false, false) => Repair::Lost,
            }
        }
    }
}

/// What one recovery pass did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct RecoveryReport {
    /// Sandboxes whose files were repaired, with the repair.
    pub repaired: Vec<(String, Repair)>,
    /// Sandboxes whose data could not be found.
    pub lost: Vec<String>,
    /// Files removed because no sandbox owns them or they were partial.
    pub removed_orphans: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use SandboxState::*;

    #[test]
    fn the_recorded_state_picks_the_authoritative_copy() {
        assert_eq!(plan(Frozen, true, true), Repair::RemoveLive);
        assert_eq!(plan(Archived, false, true), Repair::Nothing);
        assert_eq!(plan(Frozen, true, false), Repair::RestoreCold);
        assert_eq!(plan(Frozen, false, false), Repair::Lost);
        for running in [Created, Active, Suspended] {
            assert_eq!(plan(running, true, true), Repair::RemoveCold);
            assert_eq!(plan(running, true, false), Repair::Nothing);
            assert_eq!(plan(running, false, true), Repair::RestoreLive);
            assert_eq!(plan(running, false, false), Repair::Lost);
        }
        assert_eq!(plan(Deleted, true, false), Repair::RemoveBoth);
        assert_eq!(plan(Deleted, false, false), Repair::Nothing);
    }
}
