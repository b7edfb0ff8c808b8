//! WebAssembly modules stored in a workbook, addressed by name and sha256.

use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{names, Workbook, WorkbookError};

/// A module as listed by [`Workbook::modules`] and in an inspection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleInfo {
    /// The module's name, unique in the workbook.
    pub name: String,
    /// Lowercase hex sha256 of the wasm bytes.
    pub sha256: String,
    /// Size of the wasm bytes.
    pub size: u64,
}

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Validates `bytes` as WebAssembly with wasmparser's default features,
/// returning the parser's message on failure.
pub fn validate_wasm(bytes: &[u8]) -> Result<(), String> {
    wasmparser::Validator::new()
        .validate_all(bytes)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

impl Workbook {
    /// Validates `wasm` and stores it as module `name`, replacing a module of
    /// the same name.
    pub fn add_module(&self, name: &str, wasm: &[u8]) -> Result<ModuleInfo, WorkbookError> {
        names::validate_name("module name", name)?;
        validate_wasm(wasm).map_err(|reason| WorkbookError::ModuleInvalid {
            module: name.to_string(),
            origin: "the bytes being added".to_string(),
            reason,
        })?;
        let info = ModuleInfo {
            name: name.to_string(),
            sha256: sha256_hex(wasm),
            size: wasm.len() as u64,
        };
        self.conn
            .execute(
                "INSERT OR REPLACE INTO modules(name, sha256, wasm) VALUES (?1, ?2, ?3)",
                (&info.name, &info.sha256, wasm),
            )
            .map_err(|e| WorkbookError::on_write(&self.path, e))?;
        Ok(info)
    }

    /// Every module, sorted by name.
    pub fn modules(&self) -> Result<Vec<ModuleInfo>, WorkbookError> {
        let read = |e| WorkbookError::on_read(&self.path, e);
        let mut stmt = self
            .conn
            .prepare("SELECT name, sha256, length(wasm) FROM modules ORDER BY name")
            .map_err(read)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ModuleInfo {
                    name: r.get(0)?,
                    sha256: r.get(1)?,
                    size: r.get(2)?,
                })
            })
            .map_err(read)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(read)
    }

    /// The wasm bytes of module `name`; [`WorkbookError::ModuleNotFound`] if
    /// there is none.
    pub fn module_wasm(&self, name: &str) -> Result<Vec<u8>, WorkbookError> {
        let found: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT wasm FROM modules WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| WorkbookError::on_read(&self.path, e))?;
        match found {
            Some(wasm) => Ok(wasm),
            None => Err(WorkbookError::ModuleNotFound {
                path: self.path.clone(),
                module: name.to_string(),
                available: self.module_names()?,
            }),
        }
    }

    /// The module to run by default: the one named by `meta.entry`, or, if
    /// that is unset, the only module. Otherwise
    /// [`WorkbookError::EntryMissing`].
    pub fn entry_module(&self) -> Result<(ModuleInfo, Vec<u8>), WorkbookError> {
        let entry = self.meta()?.entry;
        let modules = self.modules()?;
        let chosen = match &entry {
            Some(entry) => modules.iter().find(|m| &m.name == entry),
            None if modules.len() == 1 => modules.first(),
            None => None,
        };
        let Some(info) = chosen.cloned() else {
            let names: Vec<String> = modules.into_iter().map(|m| m.name).collect();
            return Err(WorkbookError::entry_missing(
                &self.path,
                entry.as_deref(),
                &names,
            ));
        };
        let wasm = self.module_wasm(&info.name)?;
        Ok((info, wasm))
    }

    fn module_names(&self) -> Result<Vec<String>, WorkbookError> {
        Ok(self.modules()?.into_iter().map(|m| m.name).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_module_is_valid_and_garbage_is_not() {
        assert!(validate_wasm(b"\0asm\x01\0\0\0").is_ok());
        let err = validate_wasm(b"not wasm").expect_err("garbage must fail");
        assert!(err.contains("magic"), "{err}");
    }

    #[test]
    fn sha256_of_empty_input() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
