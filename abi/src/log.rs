//! The levels of `log_write`, numbered 0 (trace) to 4 (error).

use core::fmt;

/// Severity of a guest's log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Trace (0).
    Trace = 0,
    /// Debug (1).
    Debug = 1,
    /// Info (2).
    Info = 2,
    /// Warn (3).
    Warn = 3,
    /// Error (4).
    Error = 4,
}

impl LogLevel {
    /// Every level, from trace to error.
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Trace,
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
    ];

    /// The number `log_write` takes.
    pub fn number(self) -> i32 {
        self as i32
    }

    /// The level numbered `n`, if there is one.
    pub fn from_number(n: i32) -> Option<LogLevel> {
        LogLevel::ALL.into_iter().find(|l| l.number() == n)
    }

    /// Its name: `trace`, `debug`, `info`, `warn` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_numbered_zero_to_four() {
        for (n, level) in (0..).zip(LogLevel::ALL) {
            assert_eq!(level.number(), n);
            assert_eq!(LogLevel::from_number(n), Some(level));
        }
        assert_eq!(LogLevel::from_number(-1), None);
        assert_eq!(LogLevel::from_number(5), None);
    }
}
