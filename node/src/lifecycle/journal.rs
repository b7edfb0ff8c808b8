//! A sandbox's recent log on this node (`nexus logs`): guest stderr of each
//! call and lifecycle events, in a bounded ring kept in memory. A restart or
//! a move starts it empty on the node that then homes the sandbox.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Entries a sandbox's ring keeps (older ones are dropped).
pub const LOG_ENTRIES: usize = 256;
/// Longest text of one entry, in bytes; a longer stderr keeps its end.
pub const LOG_ENTRY_BYTES: usize = 4096;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    /// What the guest wrote to stderr during one call.
    Stderr,
    /// A lifecycle transition or a failed call.
    Event,
}

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogEntry {
    /// Its number: 1 for the sandbox's first entry on this node, then +1.
    pub seq: u64,
    /// When it was written (ms since the Unix epoch).
    pub at_ms: u64,
    /// Stderr or an event.
    pub kind: LogKind,
    /// The text (at most [`LOG_ENTRY_BYTES`] bytes).
    pub text: String,
}

/// A bounded ring of [`LogEntry`].
#[derive(Debug, Default)]
pub struct SandboxLog {
    ring: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    entries: VecDeque<LogEntry>,
    last_seq: u64,
}

/// Entries after a point, and where to continue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPage {
    /// The entries, oldest first.
    pub entries: Vec<LogEntry>,
    /// The `seq` to ask after next time.
    pub last_seq: u64,
    /// Entries after the point asked for that the ring no longer holds.
    pub missed: u64,
}

impl SandboxLog {
    /// Appends an entry of `kind` at `at_ms`; `text` keeps its last
    /// [`LOG_ENTRY_BYTES`] bytes. Empty text is not logged.
    pub fn push(&self, kind: LogKind, at_ms: u64, text: &str) {
        if text.is_empty() {
            return;
        }
        let mut ring = self.lock();
        ring.last_seq += 1;
        if ring.entries.len() == LOG_ENTRIES {
            ring.entries.pop_front();
        }
        let seq = ring.last_seq;
        ring.entries.push_back(LogEntry {
            seq,
            at_ms,
            kind,
            text: tail(text, LOG_ENTRY_BYTES).to_owned(),
        });
    }

    /// Up to `limit` entries with `seq` above `after`, oldest first. A
    /// reader ahead of this ring (it restarted: the node restarted or the
    /// sandbox moved here) reads it from the start.
    pub fn after(&self, after: u64, limit: usize) -> LogPage {
        let ring = self.lock();
        let after = if after > ring.last_seq { 0 } else { after };
        let oldest = ring.entries.front().map_or(ring.last_seq + 1, |e| e.seq);
        let entries: Vec<LogEntry> = ring
            .entries
            .iter()
            .filter(|e| e.seq > after)
            .take(limit)
            .cloned()
            .collect();
        LogPage {
            last_seq: entries.last().map_or(after.max(oldest - 1), |e| e.seq),
            missed: oldest.saturating_sub(after + 1),
            entries,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The last `max` bytes of `text`, starting on a character boundary.
fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_latest_entries_and_says_what_was_missed() {
        let log = SandboxLog::default();
        for i in 0..(LOG_ENTRIES as u64 + 10) {
            log.push(LogKind::Event, i, &format!("e{i}"));
        }
        let page = log.after(0, 1000);
        assert_eq!(page.entries.len(), LOG_ENTRIES);
        assert_eq!(page.entries[0].seq, 11);
        assert_eq!(page.missed, 10);
        assert_eq!(page.last_seq, LOG_ENTRIES as u64 + 10);

        let page = log.after(page.last_seq - 2, 1);
        assert_eq!(page.entries.len(), 1);
        assert_eq!(page.entries[0].text, format!("e{}", LOG_ENTRIES + 8));
        assert_eq!(page.missed, 0);

        let done = log.after(LOG_ENTRIES as u64 + 10, 10);
        assert!(done.entries.is_empty());
        assert_eq!(done.last_seq, LOG_ENTRIES as u64 + 10);
    }

    #[test]
    fn an_empty_ring_continues_from_where_the_reader_was() {
        let log = SandboxLog::default();
        let page = log.after(0, 10);
        assert_eq!((page.entries.len(), page.last_seq, page.missed), (0, 0, 0));
        // A reader that saw more than this node has (the sandbox moved here)
        // starts over.
        let page = log.after(40, 10);
        assert_eq!((page.last_seq, page.missed), (0, 0));
        log.push(LogKind::Stderr, 1, "x");
        let page = log.after(40, 10);
        assert_eq!(page.entries.len(), 1);
        assert_eq!(page.entries[0].seq, 1);
    }

    #[test]
    fn long_text_keeps_its_end_on_a_character_boundary() {
        let log = SandboxLog::default();
        let text = format!("{}é{}", "a".repeat(10), "b".repeat(LOG_ENTRY_BYTES - 1));
        log.push(LogKind::Stderr, 1, &text);
        log.push(LogKind::Stderr, 2, "");
        let page = log.after(0, 10);
        assert_eq!(page.entries.len(), 1, "empty text is not logged");
        assert_eq!(page.entries[0].text, "b".repeat(LOG_ENTRY_BYTES - 1));
    }
}
