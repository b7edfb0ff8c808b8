//! `nexus workbook sign | verify`, and the local signer key: an Ed25519
//! seed in a 0600 file, `$NEXUS_SIGNER_KEY` or `~/.nexus/signer.key` unless
//! `--key` names one, created on first use.

use std::path::{Path, PathBuf};

use nexus_tls::SigningIdentity;
use serde::Serialize;

use super::super::output::print_json;
use nexus_errors::{Coded, ErrorCode, UserError};
use nexus_workbook::{trusted_signer, SignatureRecord, Workbook};

/// `--json` answer of `sign` and `verify`.
#[derive(Debug, Serialize)]
struct Signed<'a> {
    path: &'a Path,
    signatures: &'a [SignatureRecord],
}

/// `nexus workbook sign FILE [--key PATH]`: adds (or replaces) this
/// signer's signature and prints its did:key.
pub fn sign(file: &Path, key: Option<PathBuf>, json: bool) -> Result<(), UserError> {
    let key = key_path(key)?;
    let (identity, created) = load_or_create(&key)?;
    if created && !json {
        println!("created signer key {}", key.display());
    }
    let workbook = Workbook::open(file).map_err(|e| e.to_user_error())?;
    let record = workbook.sign(&identity).map_err(|e| e.to_user_error())?;
    workbook.close().map_err(|e| e.to_user_error())?;
    if json {
        print_json(&Signed {
            path: file,
            signatures: std::slice::from_ref(&record),
        });
    } else {
        println!("signed {} as {}", file.display(), record.signer);
    }
    Ok(())
}

/// `nexus workbook verify FILE [--signer DID]`: every signature must match
/// the workbook's code, and `signer`, if given, must be among them.
pub fn verify(file: &Path, signer: Option<String>, json: bool) -> Result<(), UserError> {
    let user = |e: nexus_workbook::WorkbookError| e.to_user_error();
    let workbook = Workbook::open_unchecked_modules(file).map_err(user)?;
    let records = workbook.verify_signatures().map_err(user)?;
    if let Some(signer) = signer {
        trusted_signer(file, &records, &[signer]).map_err(user)?;
    }
    if json {
        print_json(&Signed {
            path: file,
            signatures: &records,
        });
    } else {
        println!("{}: {} valid signature(s)", file.display(), records.len());
        for record in &records {
            println!("  {}", record.signer);
        }
    }
    Ok(())
}

/// The environment variable naming the signer key file.
const SIGNER_KEY_ENV: &str = "NEXUS_SIGNER_KEY";

/// `--key`, else `$NEXUS_SIGNER_KEY`, else `~/.nexus/signer.key`.
fn key_path(flag: Option<PathBuf>) -> Result<PathBuf, UserError> {
    if let Some(path) = flag.or_else(|| std::env::var_os(SIGNER_KEY_ENV).map(PathBuf::from)) {
        return Ok(path);
    }
    let home = std::env::var_os("HOME").ok_or_else(|| {
        UserError::new(
            ErrorCode::ConfigInvalid,
            format!("HOME is not set; pass --key or set {SIGNER_KEY_ENV}"),
        )
    })?;
    Ok(PathBuf::from(home).join(".nexus").join("signer.key"))
}

/// Loads the key at `path`, generating and saving (mode 0600) a new one if
/// the file does not exist. Returns the key and whether it was created.
fn load_or_create(path: &Path) -> Result<(SigningIdentity, bool), UserError> {
    let bad = |e: &dyn std::fmt::Display| {
        UserError::new(
            ErrorCode::ConfigInvalid,
            format!("signer key {}: {e}", path.display()),
        )
    };
    if path.exists() {
        return SigningIdentity::load(path)
            .map(|identity| (identity, false))
            .map_err(|e| bad(&e));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| bad(&e))?;
    }
    let identity = SigningIdentity::generate();
    identity.save(path).map_err(|e| bad(&e))?;
    Ok((identity, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_loaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/signer.key");
        let (first, created) = load_or_create(&path).expect("create");
        assert!(created);
        let (again, created) = load_or_create(&path).expect("load");
        assert!(!created);
        assert_eq!(first.did_key(), again.did_key());
        std::fs::write(&path, "nope").expect("write");
        let err = load_or_create(&path).expect_err("bad file");
        assert_eq!(err.code, "CONFIG_INVALID");
    }
}
