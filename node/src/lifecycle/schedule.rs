//! The node-local record of when each schedule of a docked workbook last
//! fired, which survives restarts (cron parsing and due times live with the
//! schedule type in `nexus_workbook`).
//!
//! Missed runs: when the node was down (or the schedule could not fire)
//! across several due times, the schedule fires **once** as soon as it can,
//! then follows its cron expression from that moment. A schedule first seen
//! counts from the sandbox's creation, so it never fires for times before the
//! workbook was docked.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use nexus_errors::{ErrorCode, UserError};

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

    /// Records a firing and writes the log durably (temp file, fsync,
    /// rename, fsync dir).
    pub fn record(&self, sandbox_id: &str, schedule: &str, at_ms: u64) -> Result<(), UserError> {
        let bytes = {
            let mut map = self.map();
            map.insert(key(sandbox_id, schedule), at_ms);
            serde_json::to_vec(&*map).map_err(|e| internal(&e.to_string()))?
        };
        nexus_durable::write_file(&self.path, &bytes, nexus_durable::PUBLIC_FILE)
            .map_err(|e| internal(&format!("cannot {e}")))
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
