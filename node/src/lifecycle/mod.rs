//! The sandbox lifecycle beyond a single call: activity tracking, the idle
//! ladder that demotes unused sandboxes, the file mechanics of suspend,
//! freeze and resume, and the start-up recovery that reconciles files with
//! the registry after a crash. [`Verb`] names the lifecycle verbs; they
//! are carried out by the sandbox manager.

mod activity;
mod crash;
pub mod journal;
pub mod ladder;
pub mod recovery;
pub mod schedule;
pub mod storage;
mod verb;

pub use activity::{Activity, ActivityTable, CallGuard, ExclusiveGuard};
pub use crash::crashpoint;
pub use verb::Verb;
