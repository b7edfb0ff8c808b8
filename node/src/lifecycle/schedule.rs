//! Cron schedules of docked workbooks: parsing, the next due time, and the
//! node-local record of when each schedule last fired, which survives
//! restarts.
//!
//! Missed runs: when the node was down (or the schedule could not fire)
//! across several due times, the schedule fires **once** as soon as it can,
//! then follows its cron expression from that moment. A schedule first seen
//! counts from the sandbox's creation, so it never fires for times before the
//! workbook was docked.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;

use crate::errors::{ErrorCode, UserError};

/// Parses a cron expression: 5 fields (minute hour day-of-month month
/// day-of-week), or 6 with a leading seconds field.
pub fn parse_cron(expr: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .build()
        .parse(expr)
        .map_err(|e| e.to_string())
}

/// The first time after `after_ms` (Unix ms) the schedule is due.
pub fn next_due_ms(cron: &Cron, after_ms: u64) -> Option<u64> {
    let after = DateTime::<Utc>::from_timestamp_millis(i64::try_from(after_ms).ok()?)?;
    let next = cron.find_next_occurrence(&after, false).ok()?;
    u64::try_from(next.timestamp_millis()).ok()
}

/// When each schedule last fired, kept in `{data_dir}/schedules.json`.
#[derive(Debug)]
pub struct FiredLog {
    path: PathBuf,
    fired: Mutex<HashMap<String, u64>>,
}

impl FiredLog {
    /// Loads the log (an unreadable or missing file starts empty).
    pub fn open(path: PathBuf) -> FiredLog {
        let fired = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        FiredLog {
            path,
            fired: Mutex::new(fired),
        }
    }

    /// When `schedule` of `sandbox_id` last fired.
    pub fn last_fired(&self, sandbox_id: &str, schedule: &str) -> Option<u64> {
        self.map().get(&key(sandbox_id, schedule)).copied()
    }

    /// Records a firing and writes the log durably (temp file, rename).
    pub fn record(&self, sandbox_id: &str, schedule: &str, at_ms: u64) -> Result<(), UserError> {
        let bytes = {
            let mut map = self.map();
            map.insert(key(sandbox_id, schedule), at_ms);
            serde_json::to_vec(&*map).map_err(|e| internal(&e.to_string()))?
        };
        let partial = self.path.with_extension("json.partial");
        std::fs::write(&partial, bytes)
            .and_then(|_| std::fs::File::open(&partial)?.sync_all())
            .and_then(|_| std::fs::rename(&partial, &self.path))
            .map_err(|e| internal(&format!("cannot write {}: {e}", self.path.display())))
    }

    /// Forgets every schedule of a removed sandbox.
    pub fn forget(&self, sandbox_id: &str) {
        let prefix = format!("{sandbox_id}/");
        self.map().retain(|k, _| !k.starts_with(&prefix));
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.fired.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn key(sandbox_id: &str, schedule: &str) -> String {
    format!("{sandbox_id}/{schedule}")
}

fn internal(message: &str) -> UserError {
    UserError::new(ErrorCode::Internal, message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_and_six_field_expressions() {
        let nightly = parse_cron("0 3 * * *").unwrap();
        // 2026-01-01T00:00:00Z → 03:00 the same day.
        let midnight = 1_767_225_600_000;
        assert_eq!(
            next_due_ms(&nightly, midnight),
            Some(midnight + 3 * 3_600_000)
        );
        let every_second = parse_cron("* * * * * *").unwrap();
        assert_eq!(next_due_ms(&every_second, midnight), Some(midnight + 1000));
        assert!(parse_cron("61 * * * *").is_err());
        assert!(parse_cron("not cron").is_err());
    }

    #[test]
    fn fired_log_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("schedules.json");
        let log = FiredLog::open(path.clone());
        assert_eq!(log.last_fired("sb_1", "nightly"), None);
        log.record("sb_1", "nightly", 42).unwrap();
        log.record("sb_2", "nightly", 7).unwrap();
        let reopened = FiredLog::open(path);
        assert_eq!(reopened.last_fired("sb_1", "nightly"), Some(42));
        reopened.forget("sb_1");
        assert_eq!(reopened.last_fired("sb_1", "nightly"), None);
        assert_eq!(reopened.last_fired("sb_2", "nightly"), Some(7));
    }
}
