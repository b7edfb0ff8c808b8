//! Wall-clock deadlines for guest calls that cost nothing when the call
//! finishes in its first poll.
//!
//! `tokio::time::timeout` builds its timer (a runtime handle lookup and an
//! `Arc` clone) before the first poll. Most kernel calls never wait: the
//! guest runs to completion on its fiber inside one poll. [`within`] polls
//! the call first and only arms a timer for the deadline once the call
//! returns `Pending`, so the deadline is the same and the fast path skips it.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::task::{unconstrained, Unconstrained};
use tokio::time::{sleep_until, Sleep};

/// The deadline passed before the future finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Elapsed;

/// Runs `future` until it finishes or `limit` after `started` passes,
/// whichever comes first.
pub(crate) async fn within<F: Future>(
    limit: Duration,
    started: Instant,
    future: F,
) -> Result<F::Output, Elapsed> {
    let mut future = pin!(future);
    // Unconstrained: a call that spent the task's coop budget must still
    // see its deadline (tokio's `Timeout` does the same).
    let mut timer = pin!(None::<Unconstrained<Sleep>>);
    poll_fn(move |cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        if timer.is_none() {
            let deadline = started.checked_add(limit).unwrap_or_else(far_future);
            timer.set(Some(unconstrained(sleep_until(deadline.into()))));
        }
        match timer.as_mut().as_pin_mut() {
            Some(sleep) => sleep.poll(cx).map(|()| Err(Elapsed)),
            None => Poll::Pending,
        }
    })
    .await
}

/// A deadline that never comes in practice (tokio's own "far future").
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_ready_future_needs_no_timer() {
        let out = within(Duration::ZERO, Instant::now(), async { 7 }).await;
        assert_eq!(out, Ok(7));
    }

    #[tokio::test]
    async fn a_pending_future_is_cut_off_at_the_deadline() {
        let started = Instant::now();
        let out = within(
            Duration::from_millis(20),
            started,
            tokio::time::sleep(Duration::from_secs(5)),
        )
        .await;
        assert_eq!(out, Err(Elapsed));
        assert!(started.elapsed() >= Duration::from_millis(20));
    }

    #[tokio::test]
    async fn a_pending_future_that_finishes_in_time_returns_its_output() {
        let out = within(Duration::from_secs(30), Instant::now(), async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            "done"
        })
        .await;
        assert_eq!(out, Ok("done"));
    }
}
