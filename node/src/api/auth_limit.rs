//! Failed-authentication rate limit: an address that presented too many
//! unknown keys in a window is refused (`AUTH_RATE_LIMITED`, with
//! Retry-After) before its key is looked up, until the window ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts an address may make in one window, by default
/// (`[limits] max_auth_failures`).
pub const MAX_FAILURES: u32 = 20;
/// The length of a window.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Addresses tracked at once (the oldest window is dropped beyond this).
const MAX_TRACKED: usize = 4096;

/// Failed attempts per client address.
pub struct AuthLimiter {
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    max_failures: u32,
}

impl Default for AuthLimiter {
    fn default() -> AuthLimiter {
        AuthLimiter::new(MAX_FAILURES)
    }
}

impl AuthLimiter {
    /// A limiter refusing an address after `max_failures` in a window.
    pub fn new(max_failures: u32) -> AuthLimiter {
        AuthLimiter {
            windows: Mutex::default(),
            max_failures,
        }
    }

    /// Failed attempts an address may make in one window.
    pub fn max_failures(&self) -> u32 {
        self.max_failures
    }

    /// `Some(seconds to wait)` when `addr` is over the limit now.
    pub fn blocked(&self, addr: IpAddr) -> Option<u64> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let (start, failures) = windows.get(&addr)?;
        let left = WINDOW.checked_sub(start.elapsed())?;
        (*failures >= self.max_failures).then(|| left.as_secs().max(1))
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
