//! [`JoinForwarder`]: a member without the cluster CA key hands a join to
//! one that holds it, over the peer service and its mTLS.
//!
//! The CA holder answers only members (the peer service's interceptor) and
//! runs its own admission on the request — the token check, the turns and
//! the redemption — so the forwarding member can get nothing a joiner could
//! not. What comes back is passed to the joiner unchanged.
//!
//! A forward fails one of two ways. Either the holder answered with a
//! failure or the connection failed (unreachable, the holder refuses this
//! member's certificate, holds no CA key, admits no joins, or dropped the
//! connection): another holder may be tried. Or no answer came within the
//! time given: the holder may still be admitting the joiner, and asking
//! another could spend the token twice, so the caller stops. (Which failures
//! came before the holder's admission saw the request cannot be told apart
//! reliably from this side; a holder that dies mid-admission is rare, and
//! the next holder re-checks the token after a fresh read, so a one-use
//! token is then refused as used up, never admitted twice.)

use std::time::Duration;

use nexus_raft::replication::NodeId;
use tonic::Code;

use crate::messages::{JoinMsg, JoinReply};
use crate::proto::peer_service_client::PeerServiceClient;
use crate::{Channels, MAX_MESSAGE_BYTES};

/// Why a forwarded join got no answer from one CA holder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForwardError {
    /// The holder or the connection to it failed: another holder may be
    /// tried.
    #[error("{0}")]
    Failed(String),
    /// No answer came in time: the holder may still admit the joiner, so
    /// another holder must not be tried.
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
            .map_err(|e| ForwardError::Failed(e.to_string()))?;
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

/// Whether another holder may be tried after `status`: yes, unless the
/// holder's deadline ran out (it may still be admitting the joiner).
fn classify(status: &tonic::Status) -> ForwardError {
    let what = format!("{:?}: {}", status.code(), status.message());
    match status.code() {
        Code::DeadlineExceeded => ForwardError::Unanswered(what),
        _ => ForwardError::Failed(what),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_holder_that_ran_out_of_time_stops_the_forwarding() {
        for code in [
            Code::Unavailable,
            Code::Cancelled,
            Code::Unknown,
            Code::PermissionDenied,
            Code::FailedPrecondition,
            Code::Unimplemented,
        ] {
            let status = tonic::Status::new(code, "x");
            assert!(
                matches!(classify(&status), ForwardError::Failed(_)),
                "{code:?}"
            );
        }
        let late = tonic::Status::new(Code::DeadlineExceeded, "x");
        assert!(matches!(classify(&late), ForwardError::Unanswered(_)));
    }
}
