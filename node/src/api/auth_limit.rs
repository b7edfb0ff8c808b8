//! Failed-authentication rate limit: an address that presented too many
//! unknown keys in a window is refused (`AUTH_RATE_LIMITED`, with
//! Retry-After) before its key is looked up, until the window ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts an address may make in one window.
pub const MAX_FAILURES: u32 = 20;
/// The length of a window.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Addresses tracked at once (the oldest window is dropped beyond this).
const MAX_TRACKED: usize = 4096;

/// Failed attempts per client address.
#[derive(Default)]
pub struct AuthLimiter {
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl AuthLimiter {
    /// `Some(seconds to wait)` when `addr` is over the limit now.
    pub fn blocked(&self, addr: IpAddr) -> Option<u64> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let (start, failures) = windows.get(&addr)?;
        let left = WINDOW.checked_sub(start.elapsed())?;
        (*failures >= MAX_FAILURES).then(|| left.as_secs().max(1))
    }

    /// Counts a failed attempt of `addr`.
    pub fn failed(&self, addr: IpAddr) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if windows.len() >= MAX_TRACKED && !windows.contains_key(&addr) {
            windows.retain(|_, (start, _)| start.elapsed() < WINDOW);
            if windows.len() >= MAX_TRACKED {
                let oldest = windows.iter().min_by_key(|(_, (s, _))| *s).map(|(a, _)| *a);
                if let Some(oldest) = oldest {
                    windows.remove(&oldest);
                }
            }
        }
        let entry = windows.entry(addr).or_insert((now, 0));
        if entry.0.elapsed() >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_and_only_that_address() {
        let limiter = AuthLimiter::default();
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..MAX_FAILURES - 1 {
            limiter.failed(a);
        }
        assert_eq!(limiter.blocked(a), None);
        limiter.failed(a);
        let wait = limiter.blocked(a).unwrap();
        assert!((1..=WINDOW.as_secs()).contains(&wait), "{wait}");
        assert_eq!(limiter.blocked(b), None);
    }
}
