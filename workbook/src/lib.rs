//! The workbook file format (one SQLite file in WAL mode), format version 1.
//!
//! Tables: `meta(key, value)`, `modules(name, sha256, wasm)`,
//! `files(volume, path, data, mode, mtime)` over three [`Volume`]s,
//! `kv(key, value)` and `schedules(name, cron, entry, input)`; see
//! `schema.rs`. Any workbook opens in the `sqlite3` CLI.
//!
//! - [`Workbook::create`] / [`Workbook::open`] / [`Workbook::open_read_only`]
//!   make or validate a file and return a handle;
//! - [`pack`] builds a workbook from a directory with a `workbook.toml`
//!   ([`Manifest`]);
//! - [`Workbook::inspect`] summarises one ([`Inspection`]);
//! - [`Workbook::export`] writes a copy with only the `workspace` volume;
//! - [`Workbook::sign`] / [`Workbook::verify_signatures`] sign the code with
//!   a `did:key` signer and check it (optional `signatures` table).
//!
//! Files handed to users (create + close, pack, export) are fully
//! checkpointed: copying the single file is enough.
//!
//! ## Layout
//!
//! | module | what it holds |
//! |---|---|
//! | `error` | Errors of the workbook format, each mapped to a catalog code. |
//! | `export` | Export: a copy of a workbook for handing to someone else, with only the `workspace` volume. |
//! | `header` | Checks on the raw SQLite header, done before SQLite touches the file. |
//! | `inspect` | A summary of a workbook: what `nexus workbook inspect` prints. |
//! | `kv` | The `kv` table: a flat key → bytes store for guests. |
//! | `manifest` | `workbook.toml`: the manifest `nexus workbook pack DIR` builds from. |
//! | `meta` | The `meta` table: format version, name, entry, profile, creation time. |
//! | `module` | WebAssembly modules stored in a workbook, addressed by name and sha256. |
//! | `names` | Rules for names (workbooks, modules, schedules) and file paths in volumes. |
//! | `open` | The `Workbook` handle: creating, opening (with validation) and closing. |
//! | `output` | Writing a workbook file atomically: build it in a temp file next to the destination, then fsync and rename it into place. |
//! | `pack` | `pack`: build a workbook from a directory with a `workbook.toml`. |
//! | `pages` | Page shipping: read a live workbook's committed WAL frames past a cursor ([`pages::read_wal`]) and apply them to a replica file, durably through a journal ([`pages::apply_change_durably`], [`pages::recover`]). |
//! | `schedule` | The `schedules` table: cron entries that fire a module with an input. |
//! | `schema` | The SQL schema of format version 1. |
//! | `signing` | Workbook signatures: Ed25519 signatures by `did:key` signers over the workbook's code digest, kept in an optional `signatures` table. |
//! | `validate` | Validation of an opened workbook: SQLite integrity, format version, tables, and every module's digest and wasm validity. |
//! | `volume` | The three file volumes of a workbook and the files in them. |

#![deny(missing_docs)]

mod env;
mod error;
mod export;
mod header;
mod inspect;
mod kv;
mod manifest;
mod meta;
mod module;
mod names;
mod open;
mod output;
mod pack;
pub mod pages;
mod schedule;
mod schema;
mod signing;
mod validate;
mod volume;

pub use env::{
    check_env, EnvVars, MAX_ENV_BYTES, MAX_ENV_NAME_BYTES, MAX_ENV_VALUE_BYTES, MAX_ENV_VARS,
};
pub use error::WorkbookError;
pub use inspect::{Inspection, VolumeStats};
pub use manifest::{Manifest, ManifestFiles, ManifestModule, ManifestSchedule, MANIFEST_FILE};
pub use meta::Meta;
pub use module::{sha256_hex, validate_wasm, ModuleInfo};
pub use names::{validate_file_path, validate_name};
pub use open::{Checkpointed, WalAfter, Workbook};
pub use pack::{pack, pack_with_progress, PackProgress};
pub use schedule::{next_due_ms, parse_cron, validate_cron, Schedule};
pub use schema::TABLES;
pub use signing::{trusted_signer, SignatureRecord, SIGNATURE_ALGORITHM};
pub use volume::{FileEntry, FileStat, Volume, DEFAULT_MODE};

/// The newest workbook format this node reads and the one it writes.
pub const FORMAT_VERSION: u32 = 1;

/// The profile of a workbook that names none.
pub const DEFAULT_PROFILE: &str = "compute";
