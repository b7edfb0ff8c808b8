//! Rules for names (workbooks, modules, schedules) and file paths in volumes.

use super::WorkbookError;

/// Longest accepted workbook, module or schedule name.
pub const MAX_NAME_LEN: usize = 63;

/// Longest accepted file path inside a volume, in bytes.
pub const MAX_PATH_LEN: usize = 4096;

/// Checks a workbook, module or schedule name: 1-63 characters from
/// `a-z A-Z 0-9 . - _`. `what` names the kind of name in the error.
pub fn validate_name(what: &'static str, name: &str) -> Result<(), WorkbookError> {
    let bad = |reason: &str| WorkbookError::InvalidArgument {
        what,
        value: name.to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(bad("use 1-63 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        return Err(bad("use only a-z, A-Z, 0-9, '.', '-' and '_'"));
    }
    Ok(())
}

/// Checks a file path inside a volume: relative, `/`-separated, with no
/// empty, `.` or `..` component and no NUL byte.
pub fn validate_file_path(path: &str) -> Result<(), WorkbookError> {
    let bad = |reason: &str| WorkbookError::InvalidArgument {
        what: "file path",
        value: path.to_string(),
        reason: reason.to_string(),
    };
    if path.is_empty() || path.len() > MAX_PATH_LEN {
        return Err(bad("use 1-4096 bytes"));
    }
    if path.contains('\0') {
        return Err(bad("contains a NUL byte"));
    }
    if path.starts_with('/') {
        return Err(bad("must be relative to the volume (no leading '/')"));
    }
    if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(bad("has an empty, '.' or '..' component"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["hello", "a", "my-mod_1.v2", &"x".repeat(63)] {
            assert!(validate_name("module name", ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", "é", &"x".repeat(64)] {
            assert!(validate_name("module name", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_paths() {
        for ok in ["a", "data/x.txt", "a/.hidden", "deep/er/path..x"] {
            assert!(validate_file_path(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/abs", "a//b", "a/", "./a", "a/../b", "..", "a\0b"] {
            assert!(validate_file_path(bad).is_err(), "{bad:?}");
        }
    }
}
