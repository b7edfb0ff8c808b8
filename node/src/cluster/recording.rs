//! What a node states about itself in the registry once per start (whether
//! it holds the CA key, its labels and capacity): written only when the
//! record differs, retried until the registry can be written.

use std::future::Future;
use std::time::Duration;

use tracing::{info, warn};

use nexus_errors::UserError;

/// Pause between attempts while the registry cannot be written (a node
/// that starts before its cluster has a leader).
const RETRY: Duration = Duration::from_secs(1);

/// Runs `attempt` (which answers whether it wrote) until it succeeds; runs
/// for the node's life at most. `what` names the record in the logs.
pub async fn keep_trying<F, Fut>(node_id: u64, what: &str, mut attempt: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, UserError>>,
{
    let mut failures = 0u32;
    loop {
        match attempt().await {
            Ok(true) => {
                info!(node_id, "recorded {what}");
                return;
            }
            Ok(false) => return,
            Err(e) => {
                failures = failures.saturating_add(1);
                if failures == 1 || failures.is_multiple_of(30) {
                    warn!(
                        node_id,
                        failures,
                        code = %e.code,
                        message = %e.message,
                        "cannot yet record {what}; retrying"
                    );
                }
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}
