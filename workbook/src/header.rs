//! Checks on the raw SQLite header, done before SQLite touches the file.
//!
//! See <https://www.sqlite.org/fileformat2.html#the_database_header>.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::WorkbookError;

/// The 16 bytes every SQLite 3 database starts with.
pub(crate) const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Length of the SQLite database header.
const HEADER_LEN: usize = 100;

/// Reads the header of `path` and refuses files that are unreadable, not
/// SQLite, or shorter than the header says.
///
/// The truncation check is skipped while a non-empty `-wal` file sits next to
/// the database: then a checkpoint may have been interrupted after writing
/// page 1, and the WAL still holds the pages the header counts.
pub(crate) fn check(path: &Path) -> Result<(), WorkbookError> {
    let unreadable = |err: std::io::Error| WorkbookError::Unreadable {
        path: path.to_path_buf(),
        reason: err.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.is_dir() {
        return Err(WorkbookError::Unreadable {
            path: path.to_path_buf(),
            reason: "is a directory".to_string(),
        });
    }
    let mut file = File::open(path).map_err(unreadable)?;
    let mut header = Vec::with_capacity(HEADER_LEN);
    file.by_ref()
        .take(HEADER_LEN as u64)
        .read_to_end(&mut header)
        .map_err(unreadable)?;
    let actual = file.metadata().map_err(unreadable)?.len();

    if header.len() < HEADER_LEN || !header.starts_with(SQLITE_MAGIC) {
        let reason = if actual == 0 {
            "the file is empty".to_string()
        } else {
            "the file is not a SQLite database (bad magic bytes)".to_string()
        };
        return Err(WorkbookError::NotAWorkbook {
            path: path.to_path_buf(),
            reason,
        });
    }

    let Some(page_size) = page_size(&header) else {
        return Err(WorkbookError::Corrupt {
            path: path.to_path_buf(),
            detail: format!(
                "the SQLite header has an invalid page size {}",
                be_u16(&header, 16)
            ),
        });
    };
    if wal_has_frames(path) {
        return Ok(());
    }
    if let Some(pages) = page_count(&header) {
        let expected = page_size * pages;
        if expected > actual {
            return Err(WorkbookError::Truncated {
                path: path.to_path_buf(),
                expected,
                actual,
            });
        }
    }
    Ok(())
}

/// The page size in bytes, if the header's value is a valid one.
fn page_size(header: &[u8]) -> Option<u64> {
    let size = match be_u16(header, 16) {
        1 => 65536,
        n => u64::from(n),
    };
    (size.is_power_of_two() && (512..=65536).contains(&size)).then_some(size)
}

/// The in-header page count, when the header says it is valid (the
/// version-valid-for number at 92 equals the change counter at 24).
fn page_count(header: &[u8]) -> Option<u64> {
    let count = be_u32(header, 28);
    (count != 0 && be_u32(header, 92) == be_u32(header, 24)).then_some(u64::from(count))
}

/// Whether `PATH-wal` exists and holds more than its 32-byte header.
fn wal_has_frames(path: &Path) -> bool {
    std::fs::metadata(super::output::sidecar(path, "-wal")).is_ok_and(|m| m.len() > 32)
}

fn be_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(page_size: u16, pages: u32, counter: u32, valid_for: u32) -> Vec<u8> {
        let mut h = vec![0u8; HEADER_LEN];
        h[..16].copy_from_slice(SQLITE_MAGIC);
        h[16..18].copy_from_slice(&page_size.to_be_bytes());
        h[24..28].copy_from_slice(&counter.to_be_bytes());
        h[28..32].copy_from_slice(&pages.to_be_bytes());
        h[92..96].copy_from_slice(&valid_for.to_be_bytes());
        h
    }

    #[test]
    fn page_size_one_means_64k() {
        assert_eq!(page_size(&header(1, 1, 0, 0)), Some(65536));
        assert_eq!(page_size(&header(4096, 1, 0, 0)), Some(4096));
        assert_eq!(page_size(&header(1000, 1, 0, 0)), None);
        assert_eq!(page_size(&header(256, 1, 0, 0)), None);
    }

    #[test]
    fn page_count_needs_matching_counters() {
        assert_eq!(page_count(&header(4096, 7, 3, 3)), Some(7));
        assert_eq!(page_count(&header(4096, 7, 3, 2)), None);
        assert_eq!(page_count(&header(4096, 0, 3, 3)), None);
    }

    #[test]
    fn short_file_is_truncated_not_corrupt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.workbook");
        let mut bytes = header(4096, 4, 1, 1);
        bytes.resize(4096 * 2, 0);
        std::fs::write(&path, &bytes).expect("write");
        match check(&path) {
            Err(WorkbookError::Truncated {
                expected, actual, ..
            }) => assert_eq!((expected, actual), (4096 * 4, 4096 * 2)),
            other => panic!("expected Truncated, got {other:?}"),
        }
    }
}
