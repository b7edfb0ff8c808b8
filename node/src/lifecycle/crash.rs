//! Fault injection for crash-safety tests: `NEXUS_FAULT_CRASH_AT=<step>`
//! makes the process abort (as `kill -9` would stop it) when the lifecycle
//! reaches that step, e.g. `freeze:before-record`. Unset, a step costs one
//! comparison. docs/operations.md lists the steps.

use std::sync::OnceLock;

/// The environment variable naming the step to crash at.
pub const CRASH_AT_VAR: &str = "NEXUS_FAULT_CRASH_AT";

/// Aborts the process if `step` is the configured crash point.
pub fn crashpoint(step: &str) {
    static CRASH_AT: OnceLock<Option<String>> = OnceLock::new();
    let configured = CRASH_AT.get_or_init(|| std::env::var(CRASH_AT_VAR).ok());
    if configured.as_deref() == Some(step) {
        eprintln!("{CRASH_AT_VAR}={step}: aborting now");
        std::process::abort();
    }
}
