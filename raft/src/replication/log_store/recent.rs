//! The newest log entries, kept in memory after they are durable, so that
//! openraft's readers — replication to followers and the state machine's
//! apply, which both read what was just appended — mostly skip a blocking
//! task, an SQLite query and a decode.
//!
//! The cache holds a contiguous run of indexes ending at the last entry of
//! the log (appends extend it, a truncation or purge cuts it), bounded by
//! the encoded size of its entries; a read it cannot answer wholly goes to
//! SQLite.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::Entry;

use crate::replication::types::TypeConfig;

/// Encoded bytes of the entries the cache keeps at most.
pub(super) const RECENT_BYTES: usize = 8 << 20;

/// The shared cache of the newest entries (see the module docs).
#[derive(Clone, Default)]
pub(super) struct Recent(Arc<Mutex<Run>>);

/// A contiguous run of entries, each with its encoded size.
#[derive(Default)]
struct Run {
    entries: VecDeque<(Entry<TypeConfig>, usize)>,
    bytes: usize,
}

impl Run {
    fn first_index(&self) -> Option<u64> {
        self.entries.front().map(|(e, _)| e.log_id.index)
    }

    fn last_index(&self) -> Option<u64> {
        self.entries.back().map(|(e, _)| e.log_id.index)
    }

    /// Drops the entries at `index` and after.
    fn cut_from(&mut self, index: u64) {
        while self.last_index().is_some_and(|last| last >= index) {
            if let Some((_, size)) = self.entries.pop_back() {
                self.bytes -= size;
            }
        }
    }

    /// Drops the entries up to `index`, and the oldest beyond the bound.
    fn trim_front(&mut self, upto: Option<u64>) {
        while let Some(first) = self.first_index() {
            let purged = upto.is_some_and(|upto| first <= upto);
            if !purged && self.bytes <= RECENT_BYTES {
                break;
            }
            if let Some((_, size)) = self.entries.pop_front() {
                self.bytes -= size;
            }
        }
    }
}

impl std::fmt::Debug for Recent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let run = self.run();
        f.debug_struct("Recent")
            .field("first", &run.first_index())
            .field("last", &run.last_index())
            .field("bytes", &run.bytes)
            .finish()
    }
}

impl Recent {
    fn run(&self) -> MutexGuard<'_, Run> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds entries just made durable (with their encoded sizes), which
    /// replace any cached ones at the same indexes and after.
    pub(super) fn appended(&self, entries: Vec<(Entry<TypeConfig>, usize)>) {
        let Some(first) = entries.first().map(|(e, _)| e.log_id.index) else {
            return;
        };
        let mut run = self.run();
        run.cut_from(first);
        if run.last_index().is_some_and(|last| last + 1 != first) {
            // Not contiguous with what is cached (cannot happen after a
            // truncation cut it): start again from these.
            run.cut_from(0);
        }
        for (entry, size) in entries {
            run.bytes += size;
            run.entries.push_back((entry, size));
        }
        run.trim_front(None);
    }

    /// Forgets entries at `index` and after (the log is truncated there).
    pub(super) fn truncated(&self, index: u64) {
        self.run().cut_from(index);
    }

    /// Forgets entries up to `index` (the log is purged up to it).
    pub(super) fn purged(&self, index: u64) {
        self.run().trim_front(Some(index));
    }

    /// The entries with index in `[start, end)`, if the cache holds every
    /// one of them that the log holds (it ends where the log ends).
    pub(super) fn read(&self, start: u64, end: u64) -> Option<Vec<Entry<TypeConfig>>> {
        let run = self.run();
        let first = run.first_index()?;
        if start < first {
            return None;
        }
        let skip = usize::try_from(start - first).ok()?;
        Some(
            run.entries
                .iter()
                .skip(skip)
                .take_while(|(e, _)| e.log_id.index < end)
                .map(|(e, _)| e.clone())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::testing::log_id;
    use openraft::EntryPayload;

    fn entry(term: u64, index: u64) -> (Entry<TypeConfig>, usize) {
        let entry = Entry {
            log_id: log_id(term, 1, index),
            payload: EntryPayload::Blank,
        };
        (entry, 1 << 20)
    }

    fn indexes(entries: Option<Vec<Entry<TypeConfig>>>) -> Option<Vec<(u64, u64)>> {
        entries.map(|es| {
            es.iter()
                .map(|e| (e.log_id.leader_id.term, e.log_id.index))
                .collect()
        })
    }

    #[test]
    fn reads_within_the_run_are_answered_and_others_are_not() {
        let recent = Recent::default();
        assert_eq!(recent.read(0, 10), None);
        recent.appended((1..=4).map(|i| entry(1, i)).collect());
        assert_eq!(indexes(recent.read(2, 4)), Some(vec![(1, 2), (1, 3)]));
        assert_eq!(
            indexes(recent.read(3, u64::MAX)),
            Some(vec![(1, 3), (1, 4)])
        );
        assert_eq!(recent.read(0, 3), None, "entry 0 is not cached");
    }

    #[test]
    fn truncation_purge_and_the_byte_bound_cut_the_run() {
        let recent = Recent::default();
        recent.appended((1..=4).map(|i| entry(1, i)).collect());
        recent.truncated(3);
        recent.appended(vec![entry(2, 3)]);
        assert_eq!(
            indexes(recent.read(1, 10)),
            Some(vec![(1, 1), (1, 2), (2, 3)])
        );
        // An overlapping append replaces what it overlaps.
        recent.appended(vec![entry(3, 2)]);
        assert_eq!(indexes(recent.read(1, 10)), Some(vec![(1, 1), (3, 2)]));
        recent.purged(1);
        assert_eq!(recent.read(1, 10), None);
        // Entries of 1 MiB: only the newest 8 are kept.
        recent.appended((3..=20).map(|i| entry(3, i)).collect());
        assert_eq!(recent.read(12, 13), None);
        assert_eq!(indexes(recent.read(13, 14)), Some(vec![(3, 13)]));
    }
}
