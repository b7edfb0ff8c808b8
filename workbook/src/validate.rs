//! Validation of an opened workbook: SQLite integrity, format version,
//! tables, and every module's digest and wasm validity.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use super::module::{sha256_hex, validate_wasm};
use super::{schema, WorkbookError, FORMAT_VERSION};

/// How many `quick_check` complaints go into the error message.
const MAX_COMPLAINTS: usize = 3;

/// Checks 4 and 5 of [`super::Workbook::open`] on `conn` (SQLite integrity,
/// format version, tables); [`check_modules`] is check 6. Reads only.
pub(crate) fn validate_structure(conn: &Connection, path: &Path) -> Result<(), WorkbookError> {
    let read = |e| WorkbookError::on_read(path, e);
    quick_check(conn, path)?;

    if !schema::has_table(conn, "meta").map_err(read)? {
        return Err(WorkbookError::NotAWorkbook {
            path: path.to_path_buf(),
            reason: "it is a SQLite database without a `meta` table".to_string(),
        });
    }
    let version: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'format_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(read)?;
    let Some(version) = version else {
        return Err(WorkbookError::NotAWorkbook {
            path: path.to_path_buf(),
            reason: "its `meta` table has no format_version".to_string(),
        });
    };
    let version = parse_version(&version).ok_or_else(|| WorkbookError::Corrupt {
        path: path.to_path_buf(),
        detail: format!("meta.format_version is {version:?}, not a positive integer"),
    })?;
    if version > u64::from(FORMAT_VERSION) {
        return Err(WorkbookError::VersionUnsupported {
            path: path.to_path_buf(),
            version,
        });
    }
    let missing = schema::missing_tables(conn).map_err(read)?;
    if !missing.is_empty() {
        return Err(WorkbookError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("missing table(s): {}", missing.join(", ")),
        });
    }
    Ok(())
}

/// `PRAGMA quick_check` must answer exactly "ok".
fn quick_check(conn: &Connection, path: &Path) -> Result<(), WorkbookError> {
    let read = |e| WorkbookError::on_read(path, e);
    let mut stmt = conn.prepare("PRAGMA quick_check").map_err(read)?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(read)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read)?;
    if rows.len() == 1 && rows[0] == "ok" {
        return Ok(());
    }
    let mut detail: Vec<&str> = rows
        .iter()
        .take(MAX_COMPLAINTS)
        .map(String::as_str)
        .collect();
    if rows.len() > MAX_COMPLAINTS {
        detail.push("...");
    }
    Err(WorkbookError::Corrupt {
        path: path.to_path_buf(),
        detail: format!("integrity check failed: {}", detail.join("; ")),
    })
}

fn parse_version(text: &str) -> Option<u64> {
    text.trim().parse::<u64>().ok().filter(|v| *v > 0)
}

/// Every module's stored sha256 matches its bytes and the bytes are wasm.
pub(crate) fn check_modules(conn: &Connection, path: &Path) -> Result<(), WorkbookError> {
    for_each_module(conn, path, |name, stored, wasm| {
        let actual = sha256_hex(wasm);
        if !stored.eq_ignore_ascii_case(&actual) {
            return Err(WorkbookError::Corrupt {
                path: path.to_path_buf(),
                detail: format!(
                    "module {name:?}: stored sha256 {stored} does not match its bytes ({actual})"
                ),
            });
        }
        validate_wasm(wasm).map_err(|reason| WorkbookError::ModuleInvalid {
            module: name.to_owned(),
            origin: format!("workbook {}", path.display()),
            reason,
        })
    })
}

/// Calls `f(name, stored sha256, bytes)` for every module, in name order.
pub(crate) fn for_each_module(
    conn: &Connection,
    path: &Path,
    mut f: impl FnMut(&str, &str, &[u8]) -> Result<(), WorkbookError>,
) -> Result<(), WorkbookError> {
    let read = |e| WorkbookError::on_read(path, e);
    let mut stmt = conn
        .prepare("SELECT name, sha256, wasm FROM modules ORDER BY name")
        .map_err(read)?;
    let mut rows = stmt.query([]).map_err(read)?;
    while let Some(row) = rows.next().map_err(read)? {
        let name: String = row.get(0).map_err(read)?;
        let stored: String = row.get(1).map_err(read)?;
        let wasm = row
            .get_ref(2)
            .and_then(|v| v.as_blob().map_err(rusqlite::Error::from))
            .map_err(|e| WorkbookError::Corrupt {
                path: path.to_path_buf(),
                detail: format!("module {name:?}: wasm column is not a blob ({e})"),
            })?;
        f(&name, &stored, wasm)?;
    }
    Ok(())
}
