//! The epoch ticker: one background thread per engine advancing wasmtime's
//! epoch every [`TICK`]. It holds only a weak reference, so it stops once the
//! engine (and every module compiled by it) is gone.

use std::thread::JoinHandle;
use std::time::Duration;

/// How often the epoch advances: the granularity of CPU accounting and of
/// the guest's yields to the async executor.
pub const TICK: Duration = Duration::from_millis(10);

/// Starts the ticker thread for `engine`.
pub(crate) fn spawn(engine: &wasmtime::Engine) -> std::io::Result<JoinHandle<()>> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("nexus-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(TICK);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => break,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_when_engine_dropped() {
        let engine = wasmtime::Engine::default();
        let handle = spawn(&engine).expect("spawn ticker");
        std::thread::sleep(TICK * 3);
        assert!(!handle.is_finished());
        drop(engine);
        // The thread notices on its next tick; join would hang if it did not.
        handle.join().expect("ticker thread panicked");
    }
}
