//! The SQL schema of format version 1.

use std::path::Path;

use rusqlite::Connection;

use super::WorkbookError;

/// The tables every v1 workbook has, in creation order.
pub const TABLES: [&str; 5] = ["meta", "modules", "files", "kv", "schedules"];

/// DDL of format version 1. Plain SQL so that `sqlite3 FILE` can read and
/// edit any workbook.
const SCHEMA_V1: &str = "
CREATE TABLE meta(
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE modules(
    name   TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    wasm   BLOB NOT NULL
);
CREATE TABLE files(
    volume TEXT NOT NULL CHECK(volume IN ('workspace','memory','tmp')),
    path   TEXT NOT NULL,
    data   BLOB NOT NULL,
    mode   INTEGER NOT NULL DEFAULT 420,
    mtime  INTEGER NOT NULL,
    PRIMARY KEY(volume, path)
);
CREATE TABLE kv(
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE schedules(
    name  TEXT PRIMARY KEY,
    cron  TEXT NOT NULL,
    entry TEXT,
    input BLOB
);
";

/// Switches `conn` to WAL mode and creates the v1 tables and the initial
/// `meta` rows, in one transaction.
pub(crate) fn create(
    conn: &Connection,
    path: &Path,
    name: &str,
    now_ms: u64,
) -> Result<(), WorkbookError> {
    let fail = |e| WorkbookError::on_write(path, e);
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(fail)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(WorkbookError::WriteFailed {
            path: path.to_path_buf(),
            reason: format!("cannot switch to WAL mode (journal mode stays {mode})"),
        });
    }
    write_tables(conn, name, now_ms).map_err(fail)
}

fn write_tables(conn: &Connection, name: &str, now_ms: u64) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch(SCHEMA_V1)?;
    let version = super::FORMAT_VERSION.to_string();
    let created = now_ms.to_string();
    let rows = [
        ("format_version", version.as_str()),
        ("name", name),
        ("profile", super::DEFAULT_PROFILE),
        ("created_at", created.as_str()),
    ];
    for (key, value) in rows {
        tx.execute("INSERT INTO meta(key, value) VALUES (?1, ?2)", (key, value))?;
    }
    tx.commit()
}

/// The v1 tables missing from `conn`'s schema.
pub(crate) fn missing_tables(conn: &Connection) -> rusqlite::Result<Vec<&'static str>> {
    let mut missing = Vec::new();
    for table in TABLES {
        if !has_table(conn, table)? {
            missing.push(table);
        }
    }
    Ok(missing)
}

/// Whether `conn` has a table called `name`.
pub(crate) fn has_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// Milliseconds since the Unix epoch, saturating at 0 on a clock before 1970.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
