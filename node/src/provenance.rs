//! The dock policy on workbook provenance (`[dock]` in nexus.toml): which
//! signatures a workbook needs before this node docks it.

use std::path::Path;

use serde::Deserialize;

use nexus_workbook::{trusted_signer, Workbook, WorkbookError};

/// `[dock]`: with `require_signature`, only workbooks validly signed by one
/// of `trusted_signers` (did:keys) are docked.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DockPolicy {
    /// Refuse unsigned, badly signed and untrusted workbooks at dock.
    pub require_signature: bool,
    /// The `did:key:z6Mk…` signers this node trusts.
    pub trusted_signers: Vec<String>,
}

impl DockPolicy {
    /// Checks the uploaded workbook at `path`; always passes unless
    /// `require_signature` is set. Reads only.
    pub fn check(&self, path: &Path) -> Result<(), WorkbookError> {
        if !self.require_signature {
            return Ok(());
        }
        let workbook = Workbook::open_unchecked_modules(path)?;
        let records = workbook.verify_signatures()?;
        trusted_signer(path, &records, &self.trusted_signers).map(|_| ())
    }
}
