//! Errors of the workbook format, each mapped to a catalog code.

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode as SqliteCode;

use nexus_errors::{Coded, ErrorCode};

/// Everything that can go wrong reading, validating, building or writing a
/// workbook. Every message names the file, module or field concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkbookError {
    /// The path cannot be stat'ed, opened or read.
    #[error("cannot read workbook {}: {reason}", .path.display())]
    Unreadable {
        /// The file that could not be read.
        path: PathBuf,
        /// The OS or SQLite error.
        reason: String,
    },
    /// The file is not SQLite, or is SQLite without a workbook `meta` table.
    #[error("{} is not a workbook: {reason}", .path.display())]
    NotAWorkbook {
        /// The file that was refused.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// The workbook's format version is newer than this node reads.
    #[error(
        "workbook {} has format version {version}; this node reads up to {}",
        .path.display(),
        super::FORMAT_VERSION
    )]
    VersionUnsupported {
        /// The workbook file.
        path: PathBuf,
        /// The version found in `meta.format_version`.
        version: u64,
    },
    /// The file is shorter than its SQLite header says.
    #[error(
        "workbook {} is truncated: its header says {expected} bytes but the file has {actual}",
        .path.display()
    )]
    Truncated {
        /// The workbook file.
        path: PathBuf,
        /// page size × page count from the header.
        expected: u64,
        /// The file's length on disk.
        actual: u64,
    },
    /// SQLite reports corruption, or a table or row is malformed.
    #[error("workbook {} is corrupt: {detail}", .path.display())]
    Corrupt {
        /// The workbook file.
        path: PathBuf,
        /// What is damaged.
        detail: String,
    },
    /// A module is not valid WebAssembly.
    #[error("module {module:?} in {origin} is not valid WebAssembly: {reason}")]
    ModuleInvalid {
        /// The module's name.
        module: String,
        /// Where the bytes came from: a workbook or a file being packed.
        origin: String,
        /// The validator's message.
        reason: String,
    },
    /// `workbook.toml` is missing, unparsable, or names things that do not exist.
    #[error("{}: {reason}", .path.display())]
    ManifestInvalid {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// The entry module is unset and ambiguous, or names a missing module.
    #[error("{}: {detail}", .path.display())]
    EntryMissing {
        /// The workbook or manifest.
        path: PathBuf,
        /// Which entry was asked for and which modules exist.
        detail: String,
    },
    /// A module asked for by name does not exist in the workbook.
    #[error("workbook {} has no module {module:?} (modules: {})", .path.display(), list(.available))]
    ModuleNotFound {
        /// The workbook file.
        path: PathBuf,
        /// The missing module.
        module: String,
        /// The modules the workbook has.
        available: Vec<String>,
    },
    /// An argument (name, path inside a volume, meta key) breaks the rules.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidArgument {
        /// What kind of argument: "module name", "file path"...
        what: &'static str,
        /// The refused value.
        value: String,
        /// The rule it breaks.
        reason: String,
    },
    /// The workbook carries no signature.
    #[error("workbook {} is not signed", .path.display())]
    Unsigned {
        /// The workbook file.
        path: PathBuf,
    },
    /// A signature does not verify, or a module changed after signing.
    #[error("workbook {} fails signature verification: {detail}", .path.display())]
    SignatureInvalid {
        /// The workbook file.
        path: PathBuf,
        /// Which signature or module failed, and how.
        detail: String,
    },
    /// Every signature is valid but none is by a trusted signer.
    #[error(
        "workbook {} is signed only by untrusted signer(s): {}",
        .path.display(),
        list(.signers)
    )]
    SignerUntrusted {
        /// The workbook file.
        path: PathBuf,
        /// The did:keys that signed it.
        signers: Vec<String>,
    },
    /// Writing the workbook (or an output file) failed.
    #[error("cannot write workbook {}: {reason}", .path.display())]
    WriteFailed {
        /// The file being written.
        path: PathBuf,
        /// The OS or SQLite error.
        reason: String,
    },
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

impl Coded for WorkbookError {
    fn code(&self) -> ErrorCode {
        match self {
            WorkbookError::Unreadable { .. } => ErrorCode::WorkbookUnreadable,
            WorkbookError::NotAWorkbook { .. } => ErrorCode::WorkbookNotAWorkbook,
            WorkbookError::VersionUnsupported { .. } => ErrorCode::WorkbookVersionUnsupported,
            WorkbookError::Truncated { .. } => ErrorCode::WorkbookTruncated,
            WorkbookError::Corrupt { .. } => ErrorCode::WorkbookCorrupt,
            WorkbookError::ModuleInvalid { .. } => ErrorCode::WorkbookModuleInvalid,
            WorkbookError::ManifestInvalid { .. } => ErrorCode::WorkbookManifestInvalid,
            WorkbookError::EntryMissing { .. } | WorkbookError::ModuleNotFound { .. } => {
                ErrorCode::WorkbookEntryMissing
            }
            WorkbookError::InvalidArgument { .. } => ErrorCode::RequestInvalid,
            WorkbookError::WriteFailed { .. } => ErrorCode::WorkbookWriteFailed,
            WorkbookError::Unsigned { .. } => ErrorCode::WorkbookUnsigned,
            WorkbookError::SignatureInvalid { .. } => ErrorCode::WorkbookSignatureInvalid,
            WorkbookError::SignerUntrusted { .. } => ErrorCode::WorkbookSignerUntrusted,
        }
    }
}

impl WorkbookError {
    /// Classifies a SQLite error met while reading `path`.
    pub(crate) fn on_read(path: &Path, err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            Some(
                SqliteCode::CannotOpen
                | SqliteCode::PermissionDenied
                | SqliteCode::SystemIoFailure
                | SqliteCode::DatabaseBusy
                | SqliteCode::DatabaseLocked
                | SqliteCode::OutOfMemory,
            ) => WorkbookError::Unreadable {
                path: path.to_path_buf(),
                reason: err.to_string(),
            },
            // Corruption, "not a database", and anything else (a missing
            // column, a value of the wrong type) mean a damaged file.
            _ => WorkbookError::Corrupt {
                path: path.to_path_buf(),
                detail: err.to_string(),
            },
        }
    }

    /// Classifies a SQLite error met while writing `path`.
    pub(crate) fn on_write(path: &Path, err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            Some(SqliteCode::DatabaseCorrupt | SqliteCode::NotADatabase) => {
                WorkbookError::Corrupt {
                    path: path.to_path_buf(),
                    detail: err.to_string(),
                }
            }
            _ => WorkbookError::WriteFailed {
                path: path.to_path_buf(),
                reason: err.to_string(),
            },
        }
    }

    /// A write failure from the file system.
    pub(crate) fn io_write(path: &Path, err: &std::io::Error) -> Self {
        WorkbookError::WriteFailed {
            path: path.to_path_buf(),
            reason: err.to_string(),
        }
    }

    /// The entry of `path` is missing or ambiguous.
    pub(crate) fn entry_missing(path: &Path, entry: Option<&str>, available: &[String]) -> Self {
        let detail = match entry {
            Some(entry) => format!(
                "entry {entry:?} names no module (modules: {})",
                list(available)
            ),
            None if available.is_empty() => "no entry set and no modules".to_string(),
            None => format!(
                "no entry set and {} modules to choose from ({}); set `entry`",
                available.len(),
                list(available)
            ),
        };
        WorkbookError::EntryMissing {
            path: path.to_path_buf(),
            detail,
        }
    }
}
