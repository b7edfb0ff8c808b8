//! What `vfs_stat` writes: 16 bytes, the size then the last write (Unix
//! milliseconds), each a little-endian `u64`.

/// Size and last write of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileStat {
    /// Size of the contents in bytes.
    pub size: u64,
    /// Last write, Unix milliseconds.
    pub mtime_ms: u64,
}

impl FileStat {
    /// Length of the encoded form.
    pub const LEN: usize = 16;

    /// The 16 bytes `vfs_stat` writes.
    pub fn encode(self) -> [u8; FileStat::LEN] {
        let mut out = [0u8; FileStat::LEN];
        let (size, mtime) = out.split_at_mut(8);
        size.copy_from_slice(&self.size.to_le_bytes());
        mtime.copy_from_slice(&self.mtime_ms.to_le_bytes());
        out
    }

    /// Reads the 16 bytes `vfs_stat` wrote.
    pub fn decode(bytes: [u8; FileStat::LEN]) -> FileStat {
        let (size, mtime) = bytes.split_at(8);
        let word = |b: &[u8]| {
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            u64::from_le_bytes(w)
        };
        FileStat {
            size: word(size),
            mtime_ms: word(mtime),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_round_trips_little_endian() {
        let stat = FileStat {
            size: 0x0102,
            mtime_ms: 1_700_000_000_000,
        };
        let bytes = stat.encode();
        assert_eq!(&bytes[..2], &[0x02, 0x01]);
        assert_eq!(FileStat::decode(bytes), stat);
    }
}
