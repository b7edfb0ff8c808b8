//! The `kv` table: a flat key → bytes store for guests.

use rusqlite::OptionalExtension;

use super::{Workbook, WorkbookError};

impl Workbook {
    /// The value stored under `key`, or `None`.
    pub fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, WorkbookError> {
        self.conn
            .query_row("SELECT value FROM kv WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| WorkbookError::on_read(&self.path, e))
    }

    /// Stores `value` under `key`, replacing any previous value.
    pub fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), WorkbookError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO kv(key, value) VALUES (?1, ?2)",
                (key, value),
            )
            .map_err(|e| WorkbookError::on_write(&self.path, e))?;
        Ok(())
    }

    /// Removes `key`; returns whether it existed.
    pub fn kv_delete(&self, key: &str) -> Result<bool, WorkbookError> {
        let n = self
            .conn
            .execute("DELETE FROM kv WHERE key = ?1", [key])
            .map_err(|e| WorkbookError::on_write(&self.path, e))?;
        Ok(n > 0)
    }
}
