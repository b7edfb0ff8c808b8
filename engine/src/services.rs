//! What host functions share across sandboxes: the tenant queues, the
//! tenant signing keys and the `net` broker, made once per engine.

use std::sync::Arc;

use super::net::{NetBroker, NetPolicy};
use super::queue::{QueueHub, QueueLimits};
use super::signer::TenantSigner;

/// How the shared host services are set up.
#[derive(Debug, Clone, Default)]
pub struct HostConfig {
    /// Bounds of the tenant queues.
    pub queue: QueueLimits,
    /// Limits (and the test-only allow list) of the `net` broker.
    pub net: NetPolicy,
    /// The tenant signing keys; `None`: `sign_*` fail with `ERR_IO`.
    pub signer: Option<Arc<dyn TenantSigner>>,
}

/// The shared state behind the `queue`, `sign` and `net` host functions.
#[derive(Debug, Default)]
pub struct HostServices {
    pub(crate) queues: QueueHub,
    pub(crate) signer: Option<Arc<dyn TenantSigner>>,
    pub(crate) net: NetBroker,
}

impl HostServices {
    /// The services `config` describes.
    pub fn new(config: &HostConfig) -> HostServices {
        HostServices {
            queues: QueueHub::new(config.queue.clone()),
            signer: config.signer.clone(),
            net: NetBroker::new(config.net.clone()),
        }
    }

    /// The tenant signing keys, if this node has them.
    pub fn signer(&self) -> Option<&dyn TenantSigner> {
        self.signer.as_deref()
    }
}
