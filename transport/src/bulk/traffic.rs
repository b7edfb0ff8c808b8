//! What the data plane has carried since the endpoint opened: bytes over
//! UDP and streams, summed over every connection, live or closed, so each
//! figure only grows (Prometheus counters).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use quinn::Connection;

/// The data plane's totals at one moment ([`crate::bulk::BulkEndpoint::traffic`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkTraffic {
    /// UDP payload bytes sent, handshakes and acknowledgements included.
    pub bytes_sent: u64,
    /// UDP payload bytes received.
    pub bytes_received: u64,
    /// Streams this node opened to peers.
    pub streams_opened: u64,
    /// Streams peers opened to this node and were served.
    pub streams_accepted: u64,
    /// Connections open now.
    pub connections: u64,
    /// Handshakes refused or failed (a wrong or revoked certificate, a timeout).
    pub handshakes_failed: u64,
}

/// The running tally behind [`BulkTraffic`].
#[derive(Debug, Default)]
pub(super) struct TrafficTally {
    streams_opened: AtomicU64,
    streams_accepted: AtomicU64,
    handshakes_failed: AtomicU64,
    /// Live connections by quinn's stable id, and the bytes of closed ones:
    /// one lock, so a connection is counted exactly once as it closes.
    links: Mutex<Links>,
}

#[derive(Debug, Default)]
struct Links {
    live: HashMap<usize, Connection>,
    closed_sent: u64,
    closed_received: u64,
}

impl TrafficTally {
    pub(super) fn stream_opened(&self) {
        self.streams_opened.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn stream_accepted(&self) {
        self.streams_accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn handshake_failed(&self) {
        self.handshakes_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `connection` from now until it closes (call once per connection).
    pub(super) fn track(&self, connection: &Connection) {
        self.lock()
            .live
            .insert(connection.stable_id(), connection.clone());
    }

    /// Moves a closed connection's bytes into the closed totals.
    pub(super) fn closed(&self, connection: &Connection) {
        let mut links = self.lock();
        if links.live.remove(&connection.stable_id()).is_some() {
            let udp = connection.stats();
            links.closed_sent = links.closed_sent.saturating_add(udp.udp_tx.bytes);
            links.closed_received = links.closed_received.saturating_add(udp.udp_rx.bytes);
        }
    }

    pub(super) fn snapshot(&self) -> BulkTraffic {
        let links = self.lock();
        let (mut sent, mut received) = (links.closed_sent, links.closed_received);
        for connection in links.live.values() {
            let udp = connection.stats();
            sent = sent.saturating_add(udp.udp_tx.bytes);
            received = received.saturating_add(udp.udp_rx.bytes);
        }
        BulkTraffic {
            bytes_sent: sent,
            bytes_received: received,
            streams_opened: self.streams_opened.load(Ordering::Relaxed),
            streams_accepted: self.streams_accepted.load(Ordering::Relaxed),
            connections: links.live.len() as u64,
            handshakes_failed: self.handshakes_failed.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Links> {
        self.links
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
