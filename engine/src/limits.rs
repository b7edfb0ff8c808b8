//! The per-call memory limiter: caps linear memory (all memories of the
//! store together), tables and instance counts, and records the first denied
//! growth so a resulting trap is reported as a memory limit, not a bug.

use super::error::fmt_bytes;

/// Most table elements one table may hold.
pub(crate) const MAX_TABLE_ELEMENTS: usize = 100_000;
/// Most instances per store: the module itself.
const MAX_INSTANCES: usize = 1;
/// Most tables per store.
pub(crate) const MAX_TABLES: usize = 4;
/// Most linear memories per store (their sizes count against one budget).
pub(crate) const MAX_MEMORIES: usize = 4;

/// A [`wasmtime::ResourceLimiter`] for one call.
#[derive(Debug)]
pub(crate) struct Limiter {
    memory_cap: u64,
    /// The profile's own cap, when the pool ceiling lowered `memory_cap`.
    clamped_from: Option<u64>,
    /// Bytes of linear memory granted so far, over all memories.
    memory_used: u64,
    /// Bytes granted by the last successful `memory_growing`, undone if the
    /// growth then fails for another reason.
    last_grant: u64,
    denial: Option<String>,
}

impl Limiter {
    /// A limiter allowing `memory_cap` bytes of linear memory in total.
    pub(crate) fn new(memory_cap: u64) -> Limiter {
        Limiter {
            memory_cap,
            clamped_from: None,
            memory_used: 0,
            last_grant: 0,
            denial: None,
        }
    }

    /// A limiter for a profile allowing `profile_cap` bytes on an engine
    /// whose instance pool allows at most `ceiling` bytes per instance: the
    /// smaller wins, so the pool never refuses a growth the limiter allowed.
    pub(crate) fn with_ceiling(profile_cap: u64, ceiling: u64) -> Limiter {
        if profile_cap <= ceiling {
            return Limiter::new(profile_cap);
        }
        Limiter {
            clamped_from: Some(profile_cap),
            ..Limiter::new(ceiling)
        }
    }

    /// What was denied first, if anything: the message for the user.
    pub(crate) fn denial(&self) -> Option<&str> {
        self.denial.as_deref()
    }

    fn deny(&mut self, message: String) {
        tracing::debug!(%message, "guest resource growth denied");
        if self.denial.is_none() {
            self.denial = Some(message);
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grow = (desired as u64).saturating_sub(current as u64);
        let total = self.memory_used.saturating_add(grow);
        if total > self.memory_cap {
            let limit = match self.clamped_from {
                None => format!("its profile's limit of {}", fmt_bytes(self.memory_cap)),
                Some(profile) => format!(
                    "this node's instance pool limit of {} (its profile allows {})",
                    fmt_bytes(self.memory_cap),
                    fmt_bytes(profile)
                ),
            };
            self.deny(format!(
                "guest tried to grow its memory to {} ({} bytes), past {limit}",
                fmt_bytes(total),
                total,
            ));
            self.last_grant = 0;
            return Ok(false);
        }
        self.memory_used = total;
        self.last_grant = grow;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.memory_used = self.memory_used.saturating_sub(self.last_grant);
        self.last_grant = 0;
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            self.deny(format!(
                "guest tried to grow a table to {desired} elements, past the limit of {MAX_TABLE_ELEMENTS}"
            ));
            return Ok(false);
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn counts_all_memories_against_one_cap() {
        let mut l = Limiter::new(10 << 16);
        assert!(l.memory_growing(0, 6 << 16, None).unwrap());
        assert!(l.memory_growing(0, 4 << 16, None).unwrap());
        assert!(l.denial().is_none());
        assert!(!l.memory_growing(4 << 16, 5 << 16, None).unwrap());
        let msg = l.denial().expect("denial recorded");
        assert!(msg.contains("past its profile's limit of 640 KiB"), "{msg}");
    }

    #[test]
    fn the_pool_ceiling_clamps_a_larger_profile() {
        let mut l = Limiter::with_ceiling(4 << 16, 2 << 16);
        assert!(l.memory_growing(0, 2 << 16, None).unwrap());
        assert!(!l.memory_growing(2 << 16, 3 << 16, None).unwrap());
        let msg = l.denial().expect("denial recorded");
        assert!(
            msg.contains("instance pool limit of 128 KiB (its profile allows 256 KiB)"),
            "{msg}"
        );
        let l = Limiter::with_ceiling(1 << 16, 2 << 16);
        assert_eq!(l.memory_cap, 1 << 16);
        assert!(l.clamped_from.is_none());
    }

    #[test]
    fn failed_growth_is_given_back() {
        let mut l = Limiter::new(2 << 16);
        assert!(l.memory_growing(0, 2 << 16, None).unwrap());
        l.memory_grow_failed(wasmtime::format_err!("os said no"))
            .unwrap();
        assert!(l.memory_growing(0, 2 << 16, None).unwrap());
        assert!(l.denial().is_none());
    }

    #[test]
    fn tables_are_capped() {
        let mut l = Limiter::new(0);
        assert!(l.table_growing(0, MAX_TABLE_ELEMENTS, None).unwrap());
        assert!(!l.table_growing(0, MAX_TABLE_ELEMENTS + 1, None).unwrap());
        assert!(l.denial().is_some_and(|m| m.contains("table")));
    }
}
