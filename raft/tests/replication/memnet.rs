//! An in-memory `RaftNetworkFactory` test double: RPCs are direct calls on
//! the target `Raft` in the same process. Tests only; the real transport is
//! gRPC.
#![allow(clippy::result_large_err)] // openraft's RPC error types

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use nexus_raft::replication::{NodeId, NodeInfo, Raft, TypeConfig};
use openraft::error::{InstallSnapshotError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

/// Routes RPCs to the registered nodes.
#[derive(Clone, Default)]
pub struct Router {
    nodes: Arc<Mutex<BTreeMap<NodeId, Raft>>>,
}

impl Router {
    pub fn add(&self, id: NodeId, raft: Raft) {
        self.nodes.lock().unwrap().insert(id, raft);
    }

    fn get<E: std::error::Error>(
        &self,
        target: NodeId,
    ) -> Result<Raft, RPCError<NodeId, NodeInfo, E>> {
        self.nodes
            .lock()
            .unwrap()
            .get(&target)
            .cloned()
            .ok_or_else(|| {
                let down = std::io::Error::other(format!("node {target} is not running"));
                RPCError::Unreachable(Unreachable::new(&down))
            })
    }
}

/// One connection: the router plus the target id.
pub struct Connection {
    router: Router,
    target: NodeId,
}

impl RaftNetworkFactory<TypeConfig> for Router {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, _node: &NodeInfo) -> Connection {
        Connection {
            router: self.clone(),
            target,
        }
    }
}

fn remote<E: std::error::Error>(
    target: NodeId,
    err: RaftError<NodeId, E>,
) -> RPCError<NodeId, NodeInfo, RaftError<NodeId, E>> {
    RPCError::RemoteError(RemoteError::new(target, err))
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, NodeInfo, RaftError<NodeId>>> {
        let raft = self.router.get(self.target)?;
        raft.append_entries(rpc)
            .await
            .map_err(|e| remote(self.target, e))
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, NodeInfo, RaftError<NodeId, InstallSnapshotError>>,
    > {
        let raft = self.router.get(self.target)?;
        raft.install_snapshot(rpc)
            .await
            .map_err(|e| remote(self.target, e))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, NodeInfo, RaftError<NodeId>>> {
        let raft = self.router.get(self.target)?;
        raft.vote(rpc).await.map_err(|e| remote(self.target, e))
    }
}
