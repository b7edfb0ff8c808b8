//! The entry node's side of a routed request: open a stream to the home,
//! send the head and the request, hand back the home's response as it
//! streams.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper_util::rt::TokioIo;
use nexus_raft::replication::NodeId;
use nexus_transport::bulk::head;
use tracing::debug;

use super::{DataPlane, StreamHead};
use nexus_errors::{ErrorCode, UserError};

impl DataPlane {
    /// Sends `request` (from `client`) to node `home` and returns its
    /// response; its body streams from the home as the client reads it. A
    /// home that cannot be reached is `SANDBOX_HOME_UNREACHABLE`.
    pub async fn forward(
        &self,
        home: NodeId,
        sandbox_id: &str,
        client: SocketAddr,
        request: Request,
    ) -> Result<Response, UserError> {
        let addr = self.address_of(home).ok_or_else(|| {
            unreachable(
                home,
                sandbox_id,
                None,
                "it is not a member of the cluster".to_owned(),
            )
        })?;
        let failed = |reason: String| unreachable(home, sandbox_id, Some(&addr), reason);
        let (mut send, recv) = self
            .bulk
            .open(home, &addr)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let stream_head = StreamHead::Http {
            client,
            applied: self.applied(),
        };
        head::write(&mut send, &stream_head)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let io = TokioIo::new(tokio::io::join(recv, send));
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| failed(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                debug!(node = home, error = %e, "routed request ended early");
            }
        });
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| failed(format!("{e}")))?;
        Ok(response.map(Body::new))
    }
}

fn unreachable(home: NodeId, sandbox_id: &str, addr: Option<&str>, reason: String) -> UserError {
    let at = addr.map_or_else(String::new, |a| format!(" at {a} (UDP)"));
    UserError::new(
        ErrorCode::SandboxHomeUnreachable,
        format!("sandbox {sandbox_id} lives on node {home}{at}, which did not answer: {reason}"),
    )
}
