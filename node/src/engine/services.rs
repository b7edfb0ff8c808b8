//! What host functions share across sandboxes: the tenant queues, the
//! tenant signing keys and the `net` broker, made once per engine.

use std::path::PathBuf;

use super::net::{NetBroker, NetPolicy};
use super::queue::{QueueHub, QueueLimits};
use crate::keys::TenantKeys;

/// How the shared host services are set up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostConfig {
    /// Bounds of the tenant queues.
    pub queue: QueueLimits,
    /// Limits (and the test-only allow list) of the `net` broker.
    pub net: NetPolicy,
    /// The node's data dir, under which tenant keys live
    /// (`keys/tenants/`); `None`: `sign_*` fail with `ERR_IO`.
    pub data_dir: Option<PathBuf>,
}

/// The shared state behind the `queue`, `sign` and `net` host functions.
#[derive(Debug, Default)]
pub struct HostServices {
    pub(crate) queues: QueueHub,
    pub(crate) keys: Option<TenantKeys>,
    pub(crate) net: NetBroker,
}

impl HostServices {
    /// The services `config` describes.
    pub fn new(config: &HostConfig) -> HostServices {
        HostServices {
            queues: QueueHub::new(config.queue.clone()),
            keys: config.data_dir.as_deref().map(TenantKeys::new),
            net: NetBroker::new(config.net.clone()),
        }
    }

    /// The tenant key store, if this node has one.
    pub fn keys(&self) -> Option<&TenantKeys> {
        self.keys.as_ref()
    }
}
