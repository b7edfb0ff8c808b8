//! A summary of a workbook: what `nexus workbook inspect` prints.

use serde::{Deserialize, Serialize};

use super::{EnvVars, ModuleInfo, Schedule, Volume, Workbook, WorkbookError};

/// File count and total size of one volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeStats {
    /// Which volume.
    #[serde(with = "super::volume::by_name")]
    pub volume: Volume,
    /// Number of files.
    pub files: u64,
    /// Sum of the files' sizes.
    pub bytes: u64,
}

/// Everything `inspect` reports about a workbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    /// `meta.format_version`.
    pub format_version: u32,
    /// `meta.name`.
    pub name: String,
    /// `meta.entry`, if set.
    pub entry: Option<String>,
    /// `meta.profile`.
    pub profile: String,
    /// Modules sorted by name.
    pub modules: Vec<ModuleInfo>,
    /// Always all three volumes, in [`Volume::ALL`] order.
    pub volumes: Vec<VolumeStats>,
    /// Rows in the `kv` table.
    pub kv_entries: u64,
    /// Schedules sorted by name.
    pub schedules: Vec<Schedule>,
    /// The default environment of command-shape calls (`[env]`).
    #[serde(default)]
    pub env: EnvVars,
}

impl Workbook {
    /// Summarises the workbook; reads only.
    pub fn inspect(&self) -> Result<Inspection, WorkbookError> {
        let meta = self.meta()?;
        let mut volumes = Vec::with_capacity(Volume::ALL.len());
        for volume in Volume::ALL {
            volumes.push(self.volume_stats(volume)?);
        }
        Ok(Inspection {
            format_version: meta.format_version,
            name: meta.name,
            entry: meta.entry,
            profile: meta.profile,
            env: meta.env,
            modules: self.modules()?,
            volumes,
            kv_entries: self.count("SELECT count(*) FROM kv")?,
            schedules: self.schedules()?,
        })
    }

    /// File count and bytes of `volume`.
    pub fn volume_stats(&self, volume: Volume) -> Result<VolumeStats, WorkbookError> {
        let (files, bytes) = self
            .conn
            .query_row(
                "SELECT count(*), coalesce(sum(length(data)), 0) FROM files WHERE volume = ?1",
                [volume.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| WorkbookError::on_read(&self.path, e))?;
        Ok(VolumeStats {
            volume,
            files,
            bytes,
        })
    }

    fn count(&self, sql: &str) -> Result<u64, WorkbookError> {
        self.conn
            .query_row(sql, [], |r| r.get(0))
            .map_err(|e| WorkbookError::on_read(&self.path, e))
    }
}
