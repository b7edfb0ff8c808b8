//! Workbook uploads in flight, bounded per node and per tenant: a slot is
//! held while the body streams to staging and the workbook is docked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::error::ApiError;
use nexus_errors::ErrorCode;

/// Counts uploads in flight; at most `per_node`, at most `per_tenant` each.
pub struct UploadSlots {
    per_node: usize,
    per_tenant: usize,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    total: usize,
    by_tenant: HashMap<String, usize>,
}

/// One upload's slot, given back on drop.
pub struct UploadSlot {
    slots: Arc<UploadSlots>,
    tenant: String,
}

impl UploadSlots {
    /// Slots for `per_node` uploads in all, `per_tenant` for one tenant.
    pub fn new(per_node: usize, per_tenant: usize) -> UploadSlots {
        UploadSlots {
            per_node,
            per_tenant,
            held: Mutex::new(Held::default()),
        }
    }

    /// Takes a slot for `tenant`, or refuses with `UPLOADS_BUSY`.
    pub fn acquire(self: &Arc<Self>, tenant: &str) -> Result<UploadSlot, ApiError> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let mine = held.by_tenant.get(tenant).copied().unwrap_or(0);
        if held.total >= self.per_node {
            return Err(busy(format!(
                "this node already takes {} uploads at once",
                self.per_node
            )));
        }
        if mine >= self.per_tenant {
            return Err(busy(format!(
                "this tenant already has {} uploads in flight",
                self.per_tenant
            )));
        }
        held.total += 1;
        held.by_tenant.insert(tenant.to_string(), mine + 1);
        Ok(UploadSlot {
            slots: self.clone(),
            tenant: tenant.to_string(),
        })
    }
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut held = self.slots.held.lock().unwrap_or_else(|e| e.into_inner());
        held.total = held.total.saturating_sub(1);
        if let Some(n) = held.by_tenant.get_mut(&self.tenant) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.by_tenant.remove(&self.tenant);
            }
        }
    }
}

fn busy(message: String) -> ApiError {
    ApiError::new(ErrorCode::UploadsBusy, message)
}
