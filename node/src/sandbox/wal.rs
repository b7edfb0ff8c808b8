//! When a live workbook's WAL goes into its main file. SQLite would do it
//! at a commit once the WAL holds 1,000 pages; that restarts the WAL behind
//! the replica shipper, which then has to send a whole copy. So the live
//! connection leaves it to the node up to a far larger safety net, and the
//! node checkpoints after a call once the WAL passes [`CHECKPOINT_BYTES`]:
//! itself for a sandbox without replicas, through the shipper (which takes
//! only what it shipped) for one with.

use std::path::Path;
use std::time::Duration;

use nexus_workbook::{pages, Checkpointed, WalAfter, Workbook, WorkbookError};

/// WAL bytes past which the node checkpoints a live workbook after a call
/// (SQLite's own default is 1,000 pages: 4 MiB at the usual page size).
pub(crate) const CHECKPOINT_BYTES: u64 = 4 << 20;

/// SQLite's own checkpoint on the live connection, in pages: a bound for
/// writes that no call follows (schedules, kernels) on a sandbox without
/// replicas, and for shipping that cannot keep up.
pub(crate) const AUTOMATIC_CHECKPOINT_PAGES: u32 = 16_384;

/// How long a checkpoint waits for another connection's transaction before
/// it is left for the next call.
const CHECKPOINT_WAIT: Duration = Duration::from_millis(100);

/// Bytes in the WAL beside the live workbook at `live` (0 without one).
pub(crate) fn wal_bytes(live: &Path) -> u64 {
    std::fs::metadata(pages::wal_path(live)).map_or(0, |m| m.len())
}

/// Checkpoints the live workbook at `live` (every frame into the main
/// file, the WAL left as `after` says), waiting briefly for a call that
/// writes.
pub(crate) fn checkpoint(live: &Path, after: WalAfter) -> Result<Checkpointed, WorkbookError> {
    Workbook::open_live(live)?.checkpoint_within(CHECKPOINT_WAIT, after)
}
