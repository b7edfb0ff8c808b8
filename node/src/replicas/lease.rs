//! The home lease: a node answers for its replicated sandboxes only while
//! it has recently confirmed, through the leader, that the leader still
//! holds a majority. It renews every [`RENEW_EVERY`] with a read barrier
//! (`RegistryHandle::linearize`: the leader's `ensure_linearizable`, which
//! the leader records as this node's renewal in its `Liveness`); a renewal
//! sent at `t` that succeeds makes the lease valid until `t + lease`.
//!
//! Why two homes never answer at once: the leader fails a home over only
//! when it has heard no renewal from it for `home_timeout`, counted from
//! the later of the renewal's arrival and the moment it became leader. A
//! renewal sent at `t` arrives after `t`, and a leader elected later than
//! the one that answered it was elected after that answer (its voters had
//! acknowledged the old leader first), so the failover commits after
//! `t + home_timeout`, while the old home stopped answering at
//! `t + lease` < `t + home_timeout`. The margin between them absorbs the
//! two machines' clock rates.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::cluster::RegistryHandle;

/// How often a node renews its lease.
pub const RENEW_EVERY: Duration = Duration::from_millis(150);

/// This node's lease: valid until a point on a monotonic clock.
#[derive(Debug)]
pub struct HomeLease {
    origin: Instant,
    /// Microseconds after `origin` until which the lease holds (0: never).
    until_us: AtomicU64,
    length: Duration,
}

impl HomeLease {
    /// A lease of `length` per renewal, not yet held.
    pub fn new(length: Duration) -> HomeLease {
        HomeLease {
            origin: Instant::now(),
            until_us: AtomicU64::new(0),
            length,
        }
    }

    fn micros(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_micros()).unwrap_or(u64::MAX)
    }

    /// Whether the lease holds now.
    pub fn holds(&self) -> bool {
        self.micros(Instant::now()) < self.until_us.load(Ordering::Acquire)
    }

    /// Records a renewal sent at `sent` that the leader confirmed.
    pub fn renewed(&self, sent: Instant) {
        self.until_us
            .fetch_max(self.micros(sent + self.length), Ordering::AcqRel);
    }

    /// Renews the lease every [`RENEW_EVERY`] until the task is dropped.
    pub async fn keep(self: Arc<Self>, registry: RegistryHandle) {
        let mut held = false;
        loop {
            let sent = Instant::now();
            let renewal = tokio::time::timeout(self.length, registry.linearize()).await;
            match renewal {
                Ok(Ok(())) => {
                    self.renewed(sent);
                    if !held {
                        info!("home lease held");
                    }
                    held = true;
                }
                Ok(Err(e)) if held && !self.holds() => {
                    warn!(error = %e.message, "home lease lost: replicated sandboxes stop answering here");
                    held = false;
                }
                Err(_) if held && !self.holds() => {
                    warn!("home lease lost: the leader did not confirm in time");
                    held = false;
                }
                _ => {}
            }
            tokio::time::sleep(RENEW_EVERY.saturating_sub(sent.elapsed())).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_holds_from_its_renewal_for_its_length_and_never_shrinks() {
        let lease = HomeLease::new(Duration::from_secs(60));
        assert!(!lease.holds());
        lease.renewed(Instant::now());
        assert!(lease.holds());
        // An older renewal confirmed late does not shorten it.
        let until = lease.until_us.load(Ordering::Acquire);
        lease.renewed(lease.origin);
        assert_eq!(lease.until_us.load(Ordering::Acquire), until);
        let expired = HomeLease::new(Duration::ZERO);
        expired.renewed(Instant::now());
        assert!(!expired.holds());
    }
}
