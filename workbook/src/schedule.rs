//! The `schedules` table: cron entries that fire a module with an input.

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use super::{names, Workbook, WorkbookError};

/// A schedule as listed by [`Workbook::schedules`] and in an inspection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// The schedule's name, unique in the workbook.
    pub name: String,
    /// Cron expression (5 fields: minute hour day-of-month month day-of-week).
    pub cron: String,
    /// Module to run; `None` means the workbook's entry module.
    pub entry: Option<String>,
    /// Size of the input passed as stdin (0 if none).
    pub input_bytes: u64,
}

/// Checks that `cron` is a valid cron expression: 5 fields (minute hour
/// day-of-month month day-of-week), or 6 with a leading seconds field.
pub fn validate_cron(cron: &str) -> Result<(), WorkbookError> {
    parse_cron(cron)
        .map(|_| ())
        .map_err(|reason| WorkbookError::InvalidArgument {
            what: "cron expression",
            value: cron.to_string(),
            reason,
        })
}

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

impl Workbook {
    /// Creates or replaces schedule `name`.
    pub fn set_schedule(
        &self,
        name: &str,
        cron: &str,
        entry: Option<&str>,
        input: Option<&[u8]>,
    ) -> Result<(), WorkbookError> {
        names::validate_name("schedule name", name)?;
        validate_cron(cron)?;
        if let Some(entry) = entry {
            names::validate_name("module name", entry)?;
        }
        self.conn
            .execute(
                "INSERT OR REPLACE INTO schedules(name, cron, entry, input) VALUES (?1, ?2, ?3, ?4)",
                (name, cron, entry, input),
            )
            .map_err(|e| WorkbookError::on_write(&self.path, e))?;
        Ok(())
    }

    /// Every schedule, sorted by name.
    pub fn schedules(&self) -> Result<Vec<Schedule>, WorkbookError> {
        let read = |e| WorkbookError::on_read(&self.path, e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT name, cron, entry, coalesce(length(input), 0) FROM schedules ORDER BY name",
            )
            .map_err(read)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Schedule {
                    name: r.get(0)?,
                    cron: r.get(1)?,
                    entry: r.get(2)?,
                    input_bytes: r.get(3)?,
                })
            })
            .map_err(read)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(read)
    }

    /// The input bytes of schedule `name`: `None` if there is no such
    /// schedule, `Some(empty)` if it has no input.
    pub fn schedule_input(&self, name: &str) -> Result<Option<Vec<u8>>, WorkbookError> {
        self.conn
            .query_row(
                "SELECT coalesce(input, x'') FROM schedules WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| WorkbookError::on_read(&self.path, e))
    }
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
}
