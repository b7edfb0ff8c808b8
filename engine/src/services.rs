//! What host functions share across sandboxes: the tenant queues, the
//! tenant signing keys, the `net` broker and the node's fabric, made once
//! per engine.

use std::sync::Arc;

use super::fabric_host::FabricHost;
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
    /// The node's fabric; `None`: `fabric_map` fails with `ERR_IO`.
    pub fabric: Option<Arc<dyn FabricHost>>,
}

/// The shared state behind the `queue`, `sign`, `net` and `fabric` host
/// functions.
#[derive(Debug, Default)]
pub struct HostServices {
    pub(crate) queues: QueueHub,
    pub(crate) signer: Option<Arc<dyn TenantSigner>>,
    pub(crate) net: NetBroker,
    pub(crate) fabric: Option<Arc<dyn FabricHost>>,
}

impl HostServices {
    /// The services `config` describes.
    pub fn new(config: &HostConfig) -> HostServices {
        HostServices {
            queues: QueueHub::new(config.queue.clone()),
            signer: config.signer.clone(),
            net: NetBroker::new(config.net.clone()),
            fabric: config.fabric.clone(),
        }
    }

    /// The tenant signing keys, if this node has them.
    pub fn signer(&self) -> Option<&dyn TenantSigner> {
        self.signer.as_deref()
    }

    /// The node's fabric, if it has one.
    pub fn fabric(&self) -> Option<&dyn FabricHost> {
        self.fabric.as_deref()
    }
}
