//! Deliberately broken behaviour, compiled into debug builds only, so the
//! fault suite's checker can be seen to catch a real bug:
//! `NEXUS_FAULT_ACK_BEFORE_COMMIT=1` makes `POST /v1/tenants` answer
//! before its registry write is even proposed (the write follows
//! [`LATE_COMMIT`] later, and is lost if the node dies first).

use std::sync::OnceLock;
use std::time::Duration;

/// The environment variable that turns the bug on (`1`).
pub const ACK_BEFORE_COMMIT_VAR: &str = "NEXUS_FAULT_ACK_BEFORE_COMMIT";

/// How long after its answer a broken tenant creation is proposed.
pub const LATE_COMMIT: Duration = Duration::from_secs(1);

/// Whether tenant creations answer before they commit.
pub fn ack_before_commit() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var(ACK_BEFORE_COMMIT_VAR).is_ok_and(|v| v == "1"))
}
