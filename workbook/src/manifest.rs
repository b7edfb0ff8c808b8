//! `workbook.toml`: the manifest `nexus workbook pack DIR` builds from.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::env::{check_env, EnvVars};
use super::schedule::validate_cron;
use super::{names, Volume, WorkbookError, DEFAULT_PROFILE};

/// File name of the manifest inside a pack directory.
pub const MANIFEST_FILE: &str = "workbook.toml";

/// The parsed `workbook.toml`. Unknown keys are refused.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Workbook name (required).
    pub name: String,
    /// Module run by default; optional when there is exactly one module.
    pub entry: Option<String>,
    /// Profile to dock with; default `"compute"`.
    pub profile: Option<String>,
    /// `[[modules]]`: the wasm modules to pack.
    #[serde(default)]
    pub modules: Vec<ManifestModule>,
    /// `[[files]]`: files or directories copied into a volume.
    #[serde(default)]
    pub files: Vec<ManifestFiles>,
    /// `[[schedules]]`: cron entries.
    #[serde(default)]
    pub schedules: Vec<ManifestSchedule>,
    /// `[env]`: environment variables every command-shape call sees
    /// (a call's own override them).
    #[serde(default)]
    pub env: EnvVars,
}

/// One `[[modules]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestModule {
    /// Module name.
    pub name: String,
    /// Path of the binary `.wasm` file, relative to the pack directory.
    pub path: PathBuf,
}

/// One `[[files]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFiles {
    /// File or directory relative to the pack directory (directories are
    /// walked recursively).
    pub src: PathBuf,
    /// Where `src` lands in the volume; default: the `src` path itself.
    pub dest: Option<String>,
    /// Target volume; default `workspace`.
    #[serde(default = "default_volume", with = "super::volume::by_name")]
    pub volume: Volume,
}

/// One `[[schedules]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestSchedule {
    /// Schedule name.
    pub name: String,
    /// 5-field cron expression.
    pub cron: String,
    /// Module to run; default: the workbook's entry.
    pub entry: Option<String>,
    /// Text passed as stdin.
    pub input: Option<String>,
}

fn default_volume() -> Volume {
    Volume::Workspace
}

impl Manifest {
    /// Reads and checks `path` (a `workbook.toml`): parsing, names, unique
    /// module and schedule names, and that every entry names a module.
    pub fn load(path: &Path) -> Result<Manifest, WorkbookError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid(path, format!("cannot read it: {e}")))?;
        let manifest: Manifest = toml::from_str(&text)
            .map_err(|e| invalid(path, e.to_string().trim_end().to_string()))?;
        manifest.check(path)?;
        Ok(manifest)
    }

    /// The profile, or the default.
    pub fn profile(&self) -> &str {
        self.profile.as_deref().unwrap_or(DEFAULT_PROFILE)
    }

    fn check(&self, path: &Path) -> Result<(), WorkbookError> {
        let field = |name: String| move |e: WorkbookError| invalid(path, format!("{name}: {e}"));
        check_env(&self.env).map_err(|reason| invalid(path, format!("env: {reason}")))?;
        names::validate_name("workbook name", &self.name).map_err(field("name".into()))?;
        if let Some(profile) = &self.profile {
            names::validate_name("profile", profile).map_err(field("profile".into()))?;
        }
        let mut modules = Vec::new();
        for (i, m) in self.modules.iter().enumerate() {
            names::validate_name("module name", &m.name)
                .map_err(field(format!("modules[{i}].name")))?;
            if modules.contains(&m.name) {
                return Err(invalid(
                    path,
                    format!("modules[{i}].name: module {:?} is listed twice", m.name),
                ));
            }
            modules.push(m.name.clone());
        }
        let entry_missing =
            |entry: Option<&str>| WorkbookError::entry_missing(path, entry, &modules);
        match &self.entry {
            Some(entry) if !modules.contains(entry) => return Err(entry_missing(Some(entry))),
            None if modules.len() > 1 => return Err(entry_missing(None)),
            _ => {}
        }
        let mut schedules = HashSet::new();
        for (i, s) in self.schedules.iter().enumerate() {
            let at = |what: &str| format!("schedules[{i}].{what}");
            names::validate_name("schedule name", &s.name).map_err(field(at("name")))?;
            if !schedules.insert(s.name.as_str()) {
                return Err(invalid(
                    path,
                    format!("{}: schedule {:?} is listed twice", at("name"), s.name),
                ));
            }
            validate_cron(&s.cron).map_err(field(at("cron")))?;
            match &s.entry {
                Some(entry) if !modules.contains(entry) => return Err(entry_missing(Some(entry))),
                None if self.entry.is_none() && modules.len() != 1 => {
                    return Err(entry_missing(None))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Reads and validates every module file, relative to `dir`.
    pub(super) fn read_modules(
        &self,
        dir: &Path,
        path: &Path,
    ) -> Result<Vec<(String, Vec<u8>)>, WorkbookError> {
        let mut out = Vec::with_capacity(self.modules.len());
        for (i, m) in self.modules.iter().enumerate() {
            let file = resolve(dir, &m.path)
                .map_err(|reason| invalid(path, format!("modules[{i}].path: {reason}")))?;
            let bytes = std::fs::read(&file).map_err(|e| {
                invalid(
                    path,
                    format!("modules[{i}].path: cannot read {}: {e}", file.display()),
                )
            })?;
            let origin = file.display().to_string();
            let wasm = if is_wat(&file, &bytes) {
                wat::parse_bytes(&bytes)
                    .map(|wasm| wasm.into_owned())
                    .map_err(|e| WorkbookError::ModuleInvalid {
                        module: m.name.clone(),
                        origin: origin.clone(),
                        reason: format!("WebAssembly text does not parse: {e}"),
                    })?
            } else {
                bytes
            };
            super::module::validate_wasm(&wasm).map_err(|reason| WorkbookError::ModuleInvalid {
                module: m.name.clone(),
                origin,
                reason,
            })?;
            out.push((m.name.clone(), wasm));
        }
        Ok(out)
    }
}

/// A `ManifestInvalid` error for the manifest at `path`.
pub(super) fn invalid(path: &Path, reason: String) -> WorkbookError {
    WorkbookError::ManifestInvalid {
        path: path.to_path_buf(),
        reason,
    }
}

/// `dir/rel`, refusing absolute paths and `..` so packing stays inside `dir`.
pub(super) fn resolve(dir: &Path, rel: &Path) -> Result<PathBuf, String> {
    use std::path::Component;
    if rel.as_os_str().is_empty() {
        return Err("is empty".to_string());
    }
    for c in rel.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            _ => {
                return Err(format!(
                    "{} must be relative to the pack directory, without '..'",
                    rel.display()
                ))
            }
        }
    }
    Ok(dir.join(rel))
}

/// Whether a module file is the text format (compiled to binary at pack
/// time): a `.wat` name or text that starts with `(` or a `;` comment.
fn is_wat(file: &Path, bytes: &[u8]) -> bool {
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    ext.eq_ignore_ascii_case("wat") || matches!(first, Some(b'(' | b';'))
}
