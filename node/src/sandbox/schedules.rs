//! Firing the cron schedules of docked workbooks. A due schedule calls its
//! module with its input as stdin; a suspended or frozen sandbox is resumed
//! by that call (and its idle clock reset), so schedules fire while nobody
//! is looking.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use croner::Cron;
use nexus_raft::{Sandbox, SandboxState};
use tracing::{info, warn};

use super::SandboxManager;
use crate::clock::now_ms;
use crate::lifecycle::schedule::FiredLog;
use nexus_engine::CommandInput;
use nexus_errors::{Coded, ErrorCode, UserError};
use nexus_workbook::Workbook;
use nexus_workbook::{next_due_ms, parse_cron};

/// One schedule of a workbook, ready to fire.
#[derive(Debug)]
struct Planned {
    name: String,
    cron: Cron,
    module: Option<String>,
    input: Vec<u8>,
}

/// The schedules of every sandbox (read once from its file) and when each
/// last fired.
#[derive(Debug)]
pub struct ScheduleTable {
    fired: FiredLog,
    plans: Mutex<HashMap<String, Arc<Vec<Planned>>>>,
}

impl ScheduleTable {
    /// Opens the table, with the fired log in `{data_dir}/schedules.json`.
    pub fn open(data_dir: &Path) -> ScheduleTable {
        ScheduleTable {
            fired: FiredLog::open(data_dir.join("schedules.json")),
            plans: Mutex::new(HashMap::new()),
        }
    }

    /// Forgets a removed sandbox's schedules.
    pub fn forget(&self, sandbox_id: &str) {
        self.map().remove(sandbox_id);
        self.fired.forget(sandbox_id);
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Vec<Planned>>>> {
        self.plans.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SandboxManager {
    /// Fires every due schedule of the local sandboxes (each in its own
    /// task) and returns which fired.
    pub fn schedule_tick(self: &Arc<Self>) -> Result<Vec<(String, String)>, UserError> {
        let now = now_ms();
        let mut fired = Vec::new();
        for sandbox in self.local_sandboxes()? {
            if matches!(
                sandbox.state,
                SandboxState::Archived | SandboxState::Deleted
            ) {
                continue;
            }
            for plan in self.plans_of(&sandbox).iter() {
                let since = self
                    .schedules
                    .fired
                    .last_fired(&sandbox.id, &plan.name)
                    .unwrap_or(sandbox.created_at_ms);
                if next_due_ms(&plan.cron, since).is_none_or(|due| due > now) {
                    continue;
                }
                self.schedules.fired.record(&sandbox.id, &plan.name, now)?;
                fired.push((sandbox.id.clone(), plan.name.clone()));
                self.fire(&sandbox, plan);
            }
        }
        Ok(fired)
    }

    fn fire(self: &Arc<Self>, sandbox: &Sandbox, plan: &Planned) {
        let manager = self.clone();
        let (tenant, id) = (sandbox.tenant_id.clone(), sandbox.id.clone());
        let (schedule, module) = (plan.name.clone(), plan.module.clone());
        let input = CommandInput {
            args: Vec::new(),
            stdin: plan.input.clone(),
            ..Default::default()
        };
        tokio::spawn(async move {
            let result = manager
                .call_module(&tenant, &id, module.as_deref(), input)
                .await;
            match result {
                Ok(out) => {
                    info!(sandbox = %id, schedule, exit_code = out.exit_code, "schedule fired")
                }
                Err(e) => {
                    warn!(sandbox = %id, schedule, code = %e.code, error = %e.message, "schedule failed")
                }
            }
        });
    }

    /// The schedules in a sandbox's workbook, read from its live or cold file
    /// the first time they are needed.
    fn plans_of(&self, sandbox: &Sandbox) -> Arc<Vec<Planned>> {
        if let Some(plans) = self.schedules.map().get(&sandbox.id) {
            return plans.clone();
        }
        let live = self.files.path(&sandbox.id);
        let path = if live.exists() {
            live
        } else {
            self.files.cold_path(&sandbox.id)
        };
        let plans = Arc::new(read_plans(&path).unwrap_or_else(|e| {
            warn!(sandbox = %sandbox.id, error = %e, "cannot read schedules");
            Vec::new()
        }));
        self.schedules
            .map()
            .insert(sandbox.id.clone(), plans.clone());
        plans
    }
}

/// Refuses a workbook whose schedules could never fire: an invalid cron,
/// or a module the workbook does not hold.
pub fn check_schedules(path: &Path) -> Result<(), UserError> {
    let invalid = |message: String| UserError::new(ErrorCode::ScheduleInvalid, message);
    let plans = read_plans(path).map_err(|e| invalid(format!("schedules: {e}")))?;
    let workbook = Workbook::open_read_only(path).map_err(|e| e.to_user_error())?;
    let modules = workbook.modules().map_err(|e| e.to_user_error())?;
    for plan in &plans {
        if let Some(module) = &plan.module {
            if !modules.iter().any(|m| &m.name == module) {
                return Err(invalid(format!(
                    "schedule {} names module {module:?}, which the workbook does not hold",
                    plan.name
                )));
            }
        }
    }
    Ok(())
}

fn read_plans(path: &Path) -> Result<Vec<Planned>, String> {
    let workbook = Workbook::open_read_only(path).map_err(|e| e.to_string())?;
    let mut plans = Vec::new();
    for schedule in workbook.schedules().map_err(|e| e.to_string())? {
        let cron = parse_cron(&schedule.cron)?;
        let input = workbook
            .schedule_input(&schedule.name)
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        plans.push(Planned {
            name: schedule.name,
            cron,
            module: schedule.entry,
            input,
        });
    }
    Ok(plans)
}
