//! The lifecycle verbs of the CLI and API, and the state each moves to.

use nexus_raft::SandboxState;
use serde::{Deserialize, Serialize};

/// A lifecycle verb of the CLI and API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    /// active → suspended: stop the instance, checkpoint, fsync.
    Suspend,
    /// suspended → frozen: copy to cold storage, drop the live copy.
    Freeze,
    /// suspended | frozen | archived → active: restore, clear `tmp`, load.
    Resume,
    /// active | frozen → archived: keep only the cold copy.
    Archive,
    /// archived → deleted: drop the cold copy.
    Delete,
    /// frozen | archived: pull the file local without changing state.
    Prefetch,
}

impl Verb {
    /// Every verb, in CLI order.
    pub const ALL: [Verb; 6] = [
        Verb::Suspend,
        Verb::Freeze,
        Verb::Resume,
        Verb::Archive,
        Verb::Delete,
        Verb::Prefetch,
    ];

    /// The verb's name in routes and commands.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Suspend => "suspend",
            Verb::Freeze => "freeze",
            Verb::Resume => "resume",
            Verb::Archive => "archive",
            Verb::Delete => "delete",
            Verb::Prefetch => "prefetch",
        }
    }

    /// The verb called `name`.
    pub fn parse(name: &str) -> Option<Verb> {
        Verb::ALL.into_iter().find(|v| v.as_str() == name)
    }

    /// The state the verb moves to (`None`: it changes no state).
    pub fn target(self) -> Option<SandboxState> {
        match self {
            Verb::Suspend => Some(SandboxState::Suspended),
            Verb::Freeze => Some(SandboxState::Frozen),
            Verb::Resume => Some(SandboxState::Active),
            Verb::Archive => Some(SandboxState::Archived),
            Verb::Delete => Some(SandboxState::Deleted),
            Verb::Prefetch => None,
        }
    }
}
