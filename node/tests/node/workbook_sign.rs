//! `nexus workbook sign | verify` through the built binary: a signed
//! workbook verifies; unsigned, tampered or foreign-signed ones fail with
//! their codes.

use crate::common;
use crate::signing;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{print_wat, wat_workbook};
use signing::flip_module_byte;

/// A scratch dir with a signer key path inside it.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn key(&self) -> PathBuf {
        self.dir.path().join("keys/signer.key")
    }

    fn workbook(&self, name: &str) -> PathBuf {
        wat_workbook(self.dir.path(), name, &print_wat("hi\n"))
    }

    /// Runs `nexus ARGS` with this scratch's signer key and HOME.
    fn nexus(&self, args: &[&str]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_nexus"))
            .args(args)
            .env("NEXUS_SIGNER_KEY", self.key())
            .env("HOME", self.dir.path())
            .output()
            .expect("run nexus")
    }

    /// Signs `file`; returns the signer's did:key.
    fn sign(&self, file: &Path) -> String {
        let out = self.nexus(&["--json", "workbook", "sign", path(file)]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        answer["signatures"][0]["signer"]
            .as_str()
            .expect("signer")
            .to_string()
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts `out` failed with `code`; returns stderr.
fn failed(out: &Output, code: &str) -> String {
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "expected {code}, it succeeded");
    assert!(stderr.contains(&format!("error[{code}]")), "{stderr}");
    stderr
}

#[test]
fn sign_then_verify_names_the_signer() {
    let s = Scratch::new();
    let file = s.workbook("app");
    let did = s.sign(&file);
    assert!(did.starts_with("did:key:z6Mk"), "{did}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.key())
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let out = s.nexus(&["workbook", "verify", path(&file)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 valid signature"), "{stdout}");
    assert!(stdout.contains(&did), "{stdout}");
    let out = s.nexus(&["workbook", "verify", path(&file), "--signer", &did]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The same key signs again: still one signature, by the same did.
    assert_eq!(s.sign(&file), did);
    let stdout = text(&s.nexus(&["workbook", "verify", path(&file)]).stdout);
    assert!(stdout.contains("1 valid signature"), "{stdout}");
}

#[test]
fn unsigned_workbook_fails_verify() {
    let s = Scratch::new();
    let file = s.workbook("plain");
    let stderr = failed(
        &s.nexus(&["workbook", "verify", path(&file)]),
        "WORKBOOK_UNSIGNED",
    );
    assert!(stderr.contains("plain.workbook"), "{stderr}");
}

#[test]
fn flipped_module_byte_fails_verify() {
    for rehash in [false, true] {
        let s = Scratch::new();
        let file = s.workbook("app");
        let did = s.sign(&file);
        flip_module_byte(&file, "app", rehash);
        let stderr = failed(
            &s.nexus(&["workbook", "verify", path(&file)]),
            "WORKBOOK_SIGNATURE_INVALID",
        );
        if rehash {
            assert!(stderr.contains(&did), "{stderr}");
        } else {
            assert!(stderr.contains("stored sha256"), "{stderr}");
        }
    }
}

#[test]
fn other_signer_is_untrusted() {
    let s = Scratch::new();
    let file = s.workbook("app");
    let did = s.sign(&file);
    let other = nexus_tls::SigningIdentity::from_seed(&[9; 32]).did_key();
    let stderr = failed(
        &s.nexus(&["workbook", "verify", path(&file), "--signer", &other]),
        "WORKBOOK_SIGNER_UNTRUSTED",
    );
    assert!(stderr.contains(&did), "{stderr}");
}
