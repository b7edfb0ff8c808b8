//! Workbook signatures: Ed25519 signatures by `did:key` signers over the
//! workbook's code digest, kept in an optional `signatures` table.
//!
//! The digest covers what decides what runs: the format version, the
//! workbook's name and entry, its default environment (`meta.env`, when it
//! has one), and every module's name and sha256 (checked against its bytes),
//! sorted by name. Files, kv and schedules are data that change as the
//! workbook runs; they are not signed.

use std::path::Path;

use nexus_tls::{didkey, DidKey, SigningIdentity};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::module::sha256_hex;
use super::validate::for_each_module;
use super::{schema, Workbook, WorkbookError};

/// The only signature algorithm written and accepted.
pub const SIGNATURE_ALGORITHM: &str = "ed25519";

/// Domain tag hashed first, so the digest means nothing in another protocol.
const DIGEST_DOMAIN: &[u8] = b"nexus-workbook-code-v1";

/// The table, created by the first signature. Readers that do not know it
/// ignore it: format validation only requires the v1 tables.
const SIGNATURES_DDL: &str = "CREATE TABLE IF NOT EXISTS signatures(
    signer    TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL,
    signature TEXT NOT NULL,
    signed_at INTEGER NOT NULL
)";

/// One signature of a workbook, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureRecord {
    /// The signer's `did:key:z6Mk…`.
    pub signer: String,
    /// Always [`SIGNATURE_ALGORITHM`] when written by this node.
    pub algorithm: String,
    /// Lowercase hex of the 64-byte signature of the code digest.
    pub signature: String,
    /// When it was signed, Unix milliseconds.
    pub signed_at_ms: u64,
}

impl Workbook {
    /// The sha256 code digest that signatures cover (see the module docs).
    /// A module whose bytes do not match its stored sha256 is
    /// [`WorkbookError::SignatureInvalid`].
    pub fn code_digest(&self) -> Result<[u8; 32], WorkbookError> {
        let meta = self.meta()?;
        let mut hasher = Sha256::new();
        hasher.update(DIGEST_DOMAIN);
        field(&mut hasher, meta.format_version.to_string().as_bytes());
        field(&mut hasher, meta.name.as_bytes());
        field(&mut hasher, meta.entry.unwrap_or_default().as_bytes());
        if !meta.env.is_empty() {
            // No module name holds a NUL: this marker cannot be one.
            field(&mut hasher, b"\0env");
            for (name, value) in &meta.env {
                field(&mut hasher, name.as_bytes());
                field(&mut hasher, value.as_bytes());
            }
        }
        for_each_module(&self.conn, &self.path, |name, stored, wasm| {
            if !stored.eq_ignore_ascii_case(&sha256_hex(wasm)) {
                return Err(self.invalid(format!(
                    "module {name:?} does not match its stored sha256 (changed after signing?)"
                )));
            }
            field(&mut hasher, name.as_bytes());
            field(&mut hasher, stored.to_ascii_lowercase().as_bytes());
            Ok(())
        })?;
        Ok(hasher.finalize().into())
    }

    /// The stored signatures, sorted by signer; none if the workbook was
    /// never signed.
    pub fn signatures(&self) -> Result<Vec<SignatureRecord>, WorkbookError> {
        let read = |e| WorkbookError::on_read(&self.path, e);
        if !schema::has_table(&self.conn, "signatures").map_err(read)? {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT signer, algorithm, signature, signed_at FROM signatures ORDER BY signer",
            )
            .map_err(read)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SignatureRecord {
                    signer: r.get(0)?,
                    algorithm: r.get(1)?,
                    signature: r.get(2)?,
                    signed_at_ms: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                })
            })
            .map_err(read)?;
        rows.collect::<Result<_, _>>().map_err(read)
    }

    /// Signs the code digest with `identity` and stores the signature,
    /// replacing an earlier one by the same signer.
    pub fn sign(&self, identity: &SigningIdentity) -> Result<SignatureRecord, WorkbookError> {
        let digest = self.code_digest()?;
        let record = SignatureRecord {
            signer: identity.did_key(),
            algorithm: SIGNATURE_ALGORITHM.to_string(),
            signature: hex::encode(identity.sign(&digest)),
            signed_at_ms: schema::now_ms(),
        };
        let write = |e| WorkbookError::on_write(&self.path, e);
        self.in_transaction(|| {
            self.conn.execute(SIGNATURES_DDL, []).map_err(write)?;
            self.conn
                .execute(
                    "INSERT OR REPLACE INTO signatures(signer, algorithm, signature, signed_at)
                     VALUES (?1, ?2, ?3, ?4)",
                    (
                        &record.signer,
                        &record.algorithm,
                        &record.signature,
                        i64::try_from(record.signed_at_ms).unwrap_or(i64::MAX),
                    ),
                )
                .map_err(write)?;
            Ok(())
        })?;
        Ok(record)
    }

    /// Checks every signature against the current code digest and returns
    /// them all when all verify. [`WorkbookError::Unsigned`] if there is
    /// none, [`WorkbookError::SignatureInvalid`] if any fails.
    pub fn verify_signatures(&self) -> Result<Vec<SignatureRecord>, WorkbookError> {
        let records = self.signatures()?;
        if records.is_empty() {
            return Err(WorkbookError::Unsigned {
                path: self.path.clone(),
            });
        }
        let digest = self.code_digest()?;
        for record in &records {
            self.check(record, &digest)?;
        }
        Ok(records)
    }

    fn check(&self, record: &SignatureRecord, digest: &[u8; 32]) -> Result<(), WorkbookError> {
        let signer = &record.signer;
        if record.algorithm != SIGNATURE_ALGORITHM {
            return Err(self.invalid(format!(
                "signature by {signer} uses algorithm {:?}; only {SIGNATURE_ALGORITHM} is accepted",
                record.algorithm
            )));
        }
        let key = DidKey::parse(signer)
            .map_err(|e| self.invalid(format!("signer {signer:?} is not usable: {e}")))?;
        let valid = hex::decode(&record.signature)
            .is_ok_and(|signature| didkey::verify(&key, digest, &signature));
        if !valid {
            return Err(self.invalid(format!(
                "signature by {signer} does not match the workbook's code \
                 (name, entry or modules changed after signing)"
            )));
        }
        Ok(())
    }

    fn invalid(&self, detail: String) -> WorkbookError {
        WorkbookError::SignatureInvalid {
            path: self.path.clone(),
            detail,
        }
    }
}

/// The first of `records` (verified signatures of the workbook at `path`)
/// whose signer is in `trusted`; [`WorkbookError::SignerUntrusted`] naming
/// every signer otherwise.
pub fn trusted_signer<'a>(
    path: &Path,
    records: &'a [SignatureRecord],
    trusted: &[String],
) -> Result<&'a SignatureRecord, WorkbookError> {
    records
        .iter()
        .find(|r| trusted.contains(&r.signer))
        .ok_or_else(|| WorkbookError::SignerUntrusted {
            path: path.to_path_buf(),
            signers: records.iter().map(|r| r.signer.clone()).collect(),
        })
}

/// Hashes `bytes` length-prefixed, so field boundaries are unambiguous.
fn field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAT: &str = "(module (func (export \"_start\")))";

    fn signed_pair() -> (tempfile::TempDir, Workbook, SigningIdentity) {
        let dir = tempfile::tempdir().expect("tempdir");
        let wb = Workbook::create(&dir.path().join("s.workbook"), "s").expect("create");
        wb.add_module("s", &wat::parse_str(WAT).expect("wat"))
            .expect("module");
        wb.set_meta("entry", "s").expect("entry");
        let identity = SigningIdentity::from_seed(&[7; 32]);
        (dir, wb, identity)
    }

    fn code(err: WorkbookError) -> &'static str {
        use nexus_errors::Coded;
        err.code().as_str()
    }

    #[test]
    fn unsigned_then_signed_verifies() {
        let (_dir, wb, identity) = signed_pair();
        assert_eq!(
            code(wb.verify_signatures().unwrap_err()),
            "WORKBOOK_UNSIGNED"
        );
        let record = wb.sign(&identity).expect("sign");
        assert_eq!(record.signer, identity.did_key());
        assert_eq!(wb.verify_signatures().expect("verifies"), vec![record]);
    }

    #[test]
    fn digest_covers_entry_and_modules_not_data() {
        let (_dir, wb, identity) = signed_pair();
        wb.sign(&identity).expect("sign");
        let before = wb.code_digest().expect("digest");
        wb.conn
            .execute("INSERT INTO kv(key, value) VALUES ('k', x'01')", [])
            .expect("kv");
        assert_eq!(wb.code_digest().expect("digest"), before);
        wb.verify_signatures().expect("data does not break it");
        wb.add_module("other", &wat::parse_str("(module)").expect("wat"))
            .expect("module");
        assert_ne!(wb.code_digest().expect("digest"), before);
        let err = wb.verify_signatures().unwrap_err();
        assert_eq!(code(err.clone()), "WORKBOOK_SIGNATURE_INVALID");
        assert!(err.to_string().contains(&identity.did_key()), "{err}");
    }

    #[test]
    fn digest_covers_the_default_environment() {
        let (_dir, wb, identity) = signed_pair();
        let bare = wb.code_digest().expect("digest");
        let env: crate::EnvVars = [("MODE".to_string(), "safe".to_string())].into();
        wb.set_env(&env).expect("env");
        wb.sign(&identity).expect("sign");
        assert_ne!(wb.code_digest().expect("digest"), bare);
        let loose: crate::EnvVars = [("MODE".to_string(), "unsafe".to_string())].into();
        wb.set_env(&loose).expect("env");
        assert_eq!(
            code(wb.verify_signatures().unwrap_err()),
            "WORKBOOK_SIGNATURE_INVALID"
        );
    }

    #[test]
    fn tampered_bytes_and_bad_signature_are_invalid() {
        let (_dir, wb, identity) = signed_pair();
        wb.sign(&identity).expect("sign");
        wb.conn
            .execute(
                "UPDATE signatures SET signature = ?1",
                [hex::encode([0u8; 64])],
            )
            .expect("forge");
        assert_eq!(
            code(wb.verify_signatures().unwrap_err()),
            "WORKBOOK_SIGNATURE_INVALID"
        );
        wb.sign(&identity).expect("sign again");
        wb.conn
            .execute("UPDATE modules SET wasm = CAST(wasm || x'00' AS BLOB)", [])
            .expect("tamper");
        let err = wb.verify_signatures().unwrap_err();
        assert_eq!(code(err.clone()), "WORKBOOK_SIGNATURE_INVALID");
        assert!(err.to_string().contains("stored sha256"), "{err}");
    }

    #[test]
    fn untrusted_signer_is_named() {
        let (_dir, wb, identity) = signed_pair();
        let records = vec![wb.sign(&identity).expect("sign")];
        let trusted = [identity.did_key()];
        assert!(trusted_signer(wb.path(), &records, &trusted).is_ok());
        let err = trusted_signer(wb.path(), &records, &["did:key:zOther".into()]).unwrap_err();
        assert_eq!(code(err.clone()), "WORKBOOK_SIGNER_UNTRUSTED");
        assert!(err.to_string().contains(&identity.did_key()), "{err}");
    }
}
