//! Sandbox writes: dock, lifecycle transition, move, replica set, removal.

use nexus_raft::{Command, Durability, Replica, Response, Sandbox, SandboxState};

use super::{unexpected, RegistryHandle};
use nexus_errors::UserError;

/// A workbook to record as a new sandbox (state `created`, generation 0);
/// the id and time are chosen by the caller.
#[derive(Debug, Clone)]
pub struct NewSandbox {
    /// New sandbox id, unique across the registry.
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Name, unique within the tenant.
    pub name: String,
    /// Profile name.
    pub profile: String,
    /// Hex SHA-256 of the workbook file.
    pub workbook_sha256: String,
    /// Raft node id of the node that hosts it.
    pub home_node: u64,
    /// Dock time, ms since the Unix epoch.
    pub at_ms: u64,
    /// The replication factor asked for; `None`: the node's default.
    pub replication_factor: Option<u32>,
    /// The durability mode asked for; `None`: the node's default.
    pub durability: Option<Durability>,
}

impl RegistryHandle {
    /// Records a docked workbook; returns the new sandbox.
    pub async fn dock_sandbox(&self, sandbox: NewSandbox) -> Result<Sandbox, UserError> {
        let cmd = Command::DockSandbox {
            sandbox_id: sandbox.id,
            tenant_id: sandbox.tenant_id,
            name: sandbox.name,
            profile: sandbox.profile,
            workbook_sha256: sandbox.workbook_sha256,
            home_node: sandbox.home_node,
            at_ms: sandbox.at_ms,
            replication_factor: sandbox.replication_factor,
            durability: sandbox.durability,
        };
        match self.write(cmd).await? {
            Response::SandboxDocked(sandbox) => Ok(sandbox),
            other => Err(unexpected("DockSandbox", &other)),
        }
    }

    /// Moves `sandbox` to `to`, fenced by the generation it was read at: if
    /// it changed since, the write is refused as stale. Returns the sandbox
    /// after the hop.
    pub async fn transition(
        &self,
        sandbox: &Sandbox,
        to: SandboxState,
        at_ms: u64,
    ) -> Result<Sandbox, UserError> {
        let cmd = Command::Transition {
            sandbox_id: sandbox.id.clone(),
            tenant_id: sandbox.tenant_id.clone(),
            to,
            expected_generation: sandbox.generation,
            at_ms,
        };
        match self.write(cmd).await? {
            Response::Transitioned(sandbox) => {
                self.instruments
                    .transitions
                    .with_label_values(&[sandbox.state.as_str()])
                    .inc();
                Ok(sandbox)
            }
            other => Err(unexpected("Transition", &other)),
        }
    }

    /// Gives `sandbox` the home `to_node`, fenced by the generation it was
    /// read at (a migration's commit). Returns the sandbox at its new home.
    pub async fn move_sandbox(
        &self,
        sandbox: &Sandbox,
        to_node: u64,
        at_ms: u64,
    ) -> Result<Sandbox, UserError> {
        let cmd = Command::MoveSandbox {
            sandbox_id: sandbox.id.clone(),
            tenant_id: sandbox.tenant_id.clone(),
            to_node,
            expected_generation: sandbox.generation,
            at_ms,
        };
        match self.write(cmd).await? {
            Response::SandboxMoved(sandbox) => Ok(sandbox),
            other => Err(unexpected("MoveSandbox", &other)),
        }
    }

    /// Replaces `sandbox`'s replica set, fenced by the generation it was
    /// read at. Returns the sandbox with its new set.
    pub async fn set_replicas(
        &self,
        sandbox: &Sandbox,
        replicas: Vec<Replica>,
        at_ms: u64,
    ) -> Result<Sandbox, UserError> {
        let cmd = Command::SetReplicas {
            sandbox_id: sandbox.id.clone(),
            tenant_id: sandbox.tenant_id.clone(),
            expected_generation: sandbox.generation,
            replicas,
            at_ms,
        };
        match self.write(cmd).await? {
            Response::ReplicasSet(sandbox) => Ok(sandbox),
            other => Err(unexpected("SetReplicas", &other)),
        }
    }

    /// Removes a sandbox record of `tenant_id` (any state).
    pub async fn remove_sandbox(&self, tenant_id: &str, sandbox_id: &str) -> Result<(), UserError> {
        let cmd = Command::RemoveSandbox {
            sandbox_id: sandbox_id.to_owned(),
            tenant_id: tenant_id.to_owned(),
        };
        match self.write(cmd).await? {
            Response::SandboxRemoved { .. } => Ok(()),
            other => Err(unexpected("RemoveSandbox", &other)),
        }
    }
}
