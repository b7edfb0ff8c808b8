//! `log`: lines in the node's structured log, tagged with the sandbox id.

use crate::ret::check;
use crate::sys;
use crate::Error;

/// Severity of a log line.
pub use nexus_abi::LogLevel as Level;

/// Writes one line (up to [`MAX_LOG`](nexus_abi::limits::MAX_LOG) bytes; at
/// most [`LOG_LINES_PER_CALL`](nexus_abi::limits::LOG_LINES_PER_CALL) lines
/// per call).
pub fn write(level: Level, message: &str) -> Result<(), Error> {
    check(unsafe { sys::log_write(level.number(), message.as_ptr(), message.len()) }).map(|_| ())
}
