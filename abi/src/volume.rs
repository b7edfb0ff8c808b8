//! The three file volumes of a workbook, as `vfs_*` number them and as the
//! workbook format names them.

use core::fmt;
use core::str::FromStr;

/// A file volume. Only `workspace` ships on export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Volume {
    /// The work itself: survives everything and ships on export (0).
    Workspace = 0,
    /// What the agent learned: survives freeze/resume, stripped on export (1).
    Memory = 1,
    /// Scratch: cleared on every resume, stripped on export (2).
    Tmp = 2,
}

/// A volume name or number that names no volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownVolume;

impl fmt::Display for UnknownVolume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("use workspace, memory or tmp")
    }
}

impl core::error::Error for UnknownVolume {}

impl Volume {
    /// All volumes, in number order.
    pub const ALL: [Volume; 3] = [Volume::Workspace, Volume::Memory, Volume::Tmp];

    /// Their names, in number order.
    pub const NAMES: [&'static str; 3] = ["workspace", "memory", "tmp"];

    /// The number `vfs_*` functions take.
    pub fn number(self) -> i32 {
        self as i32
    }

    /// The volume numbered `n`.
    pub fn from_number(n: i32) -> Result<Volume, UnknownVolume> {
        Volume::ALL
            .into_iter()
            .find(|v| v.number() == n)
            .ok_or(UnknownVolume)
    }

    /// Its name: `workspace`, `memory` or `tmp` (the workbook's
    /// `files.volume` column).
    pub fn as_str(self) -> &'static str {
        Volume::NAMES[self as usize]
    }
}

impl fmt::Display for Volume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Volume {
    type Err = UnknownVolume;

    /// The volume named `s` (lowercase, as [`Volume::as_str`] gives it).
    fn from_str(s: &str) -> Result<Volume, UnknownVolume> {
        Volume::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or(UnknownVolume)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn volumes_round_trip_by_name_and_number() {
        for (n, v) in (0..).zip(Volume::ALL) {
            assert_eq!(v.number(), n);
            assert_eq!(Volume::from_number(n), Ok(v));
            assert_eq!(v.as_str().parse::<Volume>(), Ok(v));
            assert_eq!(v.to_string(), v.as_str());
        }
        assert_eq!(Volume::from_number(3), Err(UnknownVolume));
        assert_eq!(Volume::from_number(-1), Err(UnknownVolume));
        assert_eq!("Workspace".parse::<Volume>(), Err(UnknownVolume));
        assert_eq!(UnknownVolume.to_string(), "use workspace, memory or tmp");
    }
}
