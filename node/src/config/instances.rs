//! The node's instance ceiling: how many wasm instances may be alive at once
//! (`[limits] max_instances`), sized from the machine's memory when unset.
//!
//! An instance costs little until its guest touches memory (about 25 KiB of
//! RSS for an idle one; each reserves address space, not memory), so the
//! ceiling is there to bound what guests *can* commit together: one
//! instance per [`BYTES_PER_INSTANCE`] of physical memory, between
//! [`MIN_INSTANCES`] and [`MAX_INSTANCES`].

use nexus_engine::DEFAULT_POOL_INSTANCES;

/// Physical memory set aside per instance when the ceiling is derived.
pub const BYTES_PER_INSTANCE: u64 = 8 << 20;

/// The smallest derived ceiling (small machines still run many small calls).
pub const MIN_INSTANCES: u32 = 256;

/// The largest derived ceiling.
pub const MAX_INSTANCES: u32 = 16_384;

/// The ceiling for a machine with `memory_bytes` of physical memory.
pub fn for_memory(memory_bytes: u64) -> u32 {
    let fit = memory_bytes / BYTES_PER_INSTANCE;
    u32::try_from(fit)
        .unwrap_or(u32::MAX)
        .clamp(MIN_INSTANCES, MAX_INSTANCES)
}

/// The ceiling for this machine: from `MemTotal` in `/proc/meminfo`, or the
/// engine's default where that cannot be read.
pub fn for_this_machine() -> u32 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| mem_total_bytes(&text))
        .map_or(DEFAULT_POOL_INSTANCES, for_memory)
}

/// `MemTotal` of a `/proc/meminfo` text, in bytes.
fn mem_total_bytes(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_follows_memory_within_its_bounds() {
        assert_eq!(for_memory(24 << 30), 3072);
        assert_eq!(for_memory(512 << 20), MIN_INSTANCES);
        assert_eq!(for_memory(1 << 40), MAX_INSTANCES);
    }

    #[test]
    fn mem_total_is_read_from_meminfo() {
        let text = "MemTotal:       24576000 kB\nMemFree:         1000 kB\n";
        assert_eq!(mem_total_bytes(text), Some(24_576_000 * 1024));
        assert_eq!(mem_total_bytes("MemFree: 1 kB\n"), None);
        assert!(for_this_machine() >= MIN_INSTANCES);
    }
}
