//! [`JoinForwarder`]: a member without the cluster CA key hands a join to
//! one that holds it, over the peer service and its mTLS.
//!
//! The CA holder answers only members (the peer service's interceptor) and
//! runs its own admission on the request — the token check, the turns and
//! the redemption — so the forwarding member can get nothing a joiner could
//! not. What comes back is passed to the joiner unchanged.
//!
//! A forward fails one of two ways, and the difference matters: when the
//! request cannot have reached the holder's admission (unreachable, the
//! holder refuses this member, holds no CA key, or admits no joins), another
//! holder may be tried; when it may have (no answer in time, a broken
//! connection), trying another could spend the token a second time, so the
//! caller must stop.

use std::time::Duration;

use nexus_raft::replication::NodeId;
use tonic::Code;

use crate::messages::{JoinMsg, JoinReply};
use crate::proto::peer_service_client::PeerServiceClient;
use crate::{Channels, MAX_MESSAGE_BYTES};

/// Why a forwarded join got no answer from one CA holder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForwardError {
    /// The request never reached the holder's admission: another holder
    /// may be tried.
    #[error("{0}")]
    NotDelivered(String),
    /// The holder may have acted on the request without this node hearing
    /// the outcome: another holder must not be tried.
    #[error("{0}")]
    Unanswered(String),
}

/// Forwards joins to CA holders through this node's peer channels.
#[derive(Clone)]
pub struct JoinForwarder {
    channels: Channels,
}

impl JoinForwarder {
    /// A forwarder dialing through `channels` (this node's mTLS identity).
    pub fn new(channels: Channels) -> JoinForwarder {
        JoinForwarder { channels }
    }

    /// Sends `msg` to `holder` at `addr` (its Raft address) and returns the
    /// holder's answer, waiting at most `timeout` for it.
    pub async fn forward(
        &self,
        holder: NodeId,
        addr: &str,
        msg: JoinMsg,
        timeout: Duration,
    ) -> Result<JoinReply, ForwardError> {
        let channel = self
            .channels
            .get(holder, addr)
            .map_err(|e| ForwardError::NotDelivered(e.to_string()))?;
        let mut client = PeerServiceClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let mut request = tonic::Request::new(msg);
        request.set_timeout(timeout);
        // The server enforces the deadline too; this bounds a server that
        // never answers at all.
        let slack = Duration::from_secs(1);
        match tokio::time::timeout(timeout + slack, client.admit_join(request)).await {
            Ok(Ok(reply)) => Ok(reply.into_inner()),
            Ok(Err(status)) => Err(classify(&status)),
            Err(_) => Err(ForwardError::Unanswered(format!(
                "no answer within {} ms",
                timeout.as_millis()
            ))),
        }
    }
}

/// Whether a failed forward can have reached the holder's admission.
fn classify(status: &tonic::Status) -> ForwardError {
    let what = format!("{:?}: {}", status.code(), status.message());
    match status.code() {
        // Connect failures; the interceptor refusing this member; a holder
        // without the key or without a join endpoint; an older peer.
        Code::Unavailable
        | Code::PermissionDenied
        | Code::Unauthenticated
        | Code::FailedPrecondition
        | Code::Unimplemented => ForwardError::NotDelivered(what),
        _ => ForwardError::Unanswered(what),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_before_admission_let_another_holder_be_tried() {
        for code in [
            Code::Unavailable,
            Code::PermissionDenied,
            Code::FailedPrecondition,
            Code::Unimplemented,
        ] {
            let status = tonic::Status::new(code, "x");
            assert!(
                matches!(classify(&status), ForwardError::NotDelivered(_)),
                "{code:?}"
            );
        }
        for code in [Code::DeadlineExceeded, Code::Cancelled, Code::Unknown, Code::Internal] {
            let status = tonic::Status::new(code, "x");
            assert!(
                matches!(classify(&status), ForwardError::Unanswered(_)),
                "{code:?}"
            );
        }
    }
}
