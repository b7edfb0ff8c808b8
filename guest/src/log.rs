//! `log`: lines in the node's structured log, tagged with the sandbox id.

use crate::error::{check, Error};
use crate::sys;

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Trace.
    Trace = 0,
    /// Debug.
    Debug = 1,
    /// Info.
    Info = 2,
    /// Warn.
    Warn = 3,
    /// Error.
    Error = 4,
}

/// Writes one line (up to 4096 bytes; at most 100 lines per call).
pub fn write(level: Level, message: &str) -> Result<(), Error> {
    check(unsafe { sys::log_write(level as i32, message.as_ptr(), message.len()) }).map(|_| ())
}
