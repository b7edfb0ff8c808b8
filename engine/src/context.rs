//! The sandbox a call runs for: its id (for logs), its tenant (whose queues
//! and key `queue` and `sign` reach), its data (what `kv` and `vfs` reach),
//! its denial counter, its concurrent-call slots and the shared host services.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::data::{MemoryData, SandboxData};
use super::denials::DenialCounter;
use super::profile::Profile;
use super::services::HostServices;

/// Id used in logs for calls made without a sandbox.
pub const NO_SANDBOX: &str = "-";

/// One sandbox as the engine sees it. Make one per docked sandbox and pass
/// it (as an `Arc`) to every call of that sandbox, so its denials add up and
/// its `max_concurrent` is enforced across calls.
pub struct SandboxContext {
    id: String,
    tenant: String,
    services: Arc<HostServices>,
    data: Arc<dyn SandboxData>,
    denials: Arc<DenialCounter>,
    slots: Arc<Semaphore>,
}

impl std::fmt::Debug for SandboxContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxContext")
            .field("id", &self.id)
            .field("denials", &self.denials)
            .finish_non_exhaustive()
    }
}

impl SandboxContext {
    /// The context of sandbox `id` reading and writing `data`, allowing
    /// `profile.max_concurrent` calls at once (at least one).
    pub fn new(
        id: impl Into<String>,
        data: Arc<dyn SandboxData>,
        profile: &Profile,
    ) -> SandboxContext {
        let slots = usize::try_from(profile.max_concurrent.max(1)).unwrap_or(1);
        SandboxContext {
            id: id.into(),
            tenant: NO_SANDBOX.to_string(),
            services: Arc::new(HostServices::default()),
            data,
            denials: Arc::new(DenialCounter::new()),
            slots: Arc::new(Semaphore::new(slots)),
        }
    }

    /// A context for a call without a sandbox: id and tenant `-`, fresh
    /// in-memory data (gone after the call), its own denial counter and its
    /// own host services (no key store).
    pub fn ephemeral(profile: &Profile) -> SandboxContext {
        SandboxContext::new(NO_SANDBOX, Arc::new(MemoryData::new()), profile)
    }

    /// This context sharing `denials` (e.g. a counter kept by the registry
    /// across re-docks) instead of its own.
    pub fn with_denials(mut self, denials: Arc<DenialCounter>) -> SandboxContext {
        self.denials = denials;
        self
    }

    /// This context belonging to `tenant`, reaching its queues and key
    /// through `services` (the engine's, [`Engine::services`](super::Engine::services)).
    pub fn with_tenant(
        mut self,
        tenant: impl Into<String>,
        services: Arc<HostServices>,
    ) -> SandboxContext {
        self.tenant = tenant.into();
        self.services = services;
        self
    }

    /// The sandbox id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The tenant id (`-` for a call without a sandbox).
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The host services shared with other sandboxes.
    pub fn services(&self) -> &Arc<HostServices> {
        &self.services
    }

    /// The sandbox's data.
    pub fn data(&self) -> &Arc<dyn SandboxData> {
        &self.data
    }

    /// The sandbox's denial counter.
    pub fn denials(&self) -> &Arc<DenialCounter> {
        &self.denials
    }

    /// Records a denial for this sandbox.
    pub fn deny(&self, capability: &str, target: &str) {
        self.denials.record(&self.id, capability, target);
    }

    /// Waits for one of the sandbox's call slots.
    pub(crate) async fn slot(&self) -> Option<OwnedSemaphorePermit> {
        match self.free_slot() {
            Some(permit) => Some(permit),
            None => self.slots.clone().acquire_owned().await.ok(),
        }
    }

    /// One of the sandbox's call slots if one is free now.
    pub(crate) fn free_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }
}
