//! The entry node's side of a routed request: open a stream to the target
//! node, send the head and the request, hand back the target's response as
//! it streams.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper_util::rt::TokioIo;
use nexus_raft::replication::NodeId;
use nexus_transport::bulk::head;
use quinn::{RecvStream, SendStream};
use tracing::debug;

use super::{DataPlane, StreamHead};
use crate::authenticated::Authenticated;
use nexus_errors::{error_chain, ErrorCode, UserError};

/// A stream open to a node, ready to carry one request.
pub struct Routed {
    node: NodeId,
    addr: String,
    send: SendStream,
    recv: RecvStream,
}

/// Why a request could not be routed to a node: what was tried and what
/// failed.
#[derive(Debug, Clone)]
pub struct RouteFailure {
    /// The node.
    pub node: NodeId,
    /// Its data-plane address, when the membership has one.
    pub addr: Option<String>,
    /// What failed.
    pub reason: String,
}

impl RouteFailure {
    /// `" at ADDR (UDP)"`, or nothing without an address.
    fn at(&self) -> String {
        self.addr
            .as_deref()
            .map_or_else(String::new, |a| format!(" at {a} (UDP)"))
    }
}

impl DataPlane {
    /// Opens a stream to `node`; nothing is sent yet, so on failure the
    /// request may go elsewhere.
    pub async fn route_to(&self, node: NodeId) -> Result<Routed, RouteFailure> {
        let addr = self.address_of(node).ok_or_else(|| RouteFailure {
            node,
            addr: None,
            reason: "it is not a member of the cluster".to_owned(),
        })?;
        match self.bulk.open(node, &addr).await {
            Ok((send, recv)) => Ok(Routed {
                node,
                addr,
                send,
                recv,
            }),
            Err(e) => Err(RouteFailure {
                node,
                addr: Some(addr),
                reason: e.to_string(),
            }),
        }
    }

    /// Sends `request` (from `client`) to node `home`, where `what` (e.g.
    /// `sandbox sb_…`) lives, and returns its response; its body streams
    /// from the home as the client reads it. A home that cannot be reached
    /// is `SANDBOX_HOME_UNREACHABLE`.
    pub async fn forward(
        &self,
        home: NodeId,
        what: &str,
        client: SocketAddr,
        hops: u8,
        request: Request,
    ) -> Result<Response, UserError> {
        let unreachable = |failure: RouteFailure| {
            UserError::new(
                ErrorCode::SandboxHomeUnreachable,
                format!(
                    "{what} lives on node {home}{}, which did not answer: {}",
                    failure.at(),
                    failure.reason
                ),
            )
        };
        let routed = self.route_to(home).await.map_err(unreachable)?;
        routed
            .exchange(client, self.applied(), hops, request)
            .await
            .map_err(unreachable)
    }
}

impl Routed {
    /// The stream itself, for a transfer that is not an HTTP exchange.
    pub fn into_streams(self) -> (SendStream, RecvStream) {
        (self.send, self.recv)
    }

    /// Sends the head and `request` and waits for the response head.
    pub async fn exchange(
        mut self,
        client: SocketAddr,
        applied: Option<u64>,
        hops: u8,
        request: Request,
    ) -> Result<Response, RouteFailure> {
        let (node, addr) = (self.node, self.addr.clone());
        let failed = |reason: String| RouteFailure {
            node,
            addr: Some(addr.clone()),
            reason,
        };
        let caller = request
            .extensions()
            .get::<Authenticated>()
            .map(|a| a.0.clone());
        let stream_head = StreamHead::Http {
            client,
            applied,
            hops,
            caller,
        };
        head::write(&mut self.send, &stream_head)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let io = TokioIo::new(tokio::io::join(self.recv, self.send));
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| failed(error_chain(&e)))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                debug!(node, error = %e, "routed request ended early");
            }
        });
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| failed(error_chain(&e)))?;
        Ok(response.map(Body::new))
    }
}

/// The error for a placement on `failure.node` that could not reach it.
pub fn placement_unreachable(failure: &RouteFailure) -> UserError {
    UserError::new(
        ErrorCode::PlacementNodeUnreachable,
        format!(
            "cannot place the sandbox on node {}{}: {}",
            failure.node,
            failure.at(),
            failure.reason
        ),
    )
}
