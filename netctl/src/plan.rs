//! Reconciling: what the device must do so its peers equal the desired
//! ones. A pure function of (desired, current), so it is tested without a
//! device.
//!
//! A peer is identified by its public key. A desired peer the device lacks
//! is added; a device peer no longer desired is removed; a peer whose
//! endpoint, allowed address or keepalive differs is removed and added
//! again (never updated in place: boringtun panics on that), which also
//! makes it handshake afresh at its new endpoint.

use std::collections::BTreeMap;

use crate::key::PublicKeyBytes;
use crate::uapi::PeerState;

/// A peer the registry says this device should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredPeer {
    /// Its public key.
    pub public_key: PublicKeyBytes,
    /// Its underlay endpoint (`ip:port`).
    pub endpoint: String,
    /// Its mesh address with prefix (`10.99.0.2/32`).
    pub allowed_ip: String,
    /// Seconds between keepalives (0: none).
    pub keepalive: u16,
}

impl DesiredPeer {
    /// The UAPI lines that add this peer.
    pub fn add_lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!("public_key={}", self.public_key.to_hex()),
            format!("endpoint={}", self.endpoint),
            "replace_allowed_ips=true".to_owned(),
            format!("allowed_ip={}", self.allowed_ip),
        ];
        if self.keepalive > 0 {
            lines.push(format!("persistent_keepalive_interval={}", self.keepalive));
        }
        lines
    }

    /// Whether the device's peer is configured as this one. The endpoint
    /// is compared as this node last configured it: a peer that roamed (the
    /// device learned a newer endpoint from its packets) still matches while
    /// the registry has the old one.
    fn matches(&self, current: &PeerState, endpoint: Option<&str>) -> bool {
        current.allowed_ips == [self.allowed_ip.as_str()]
            && current.persistent_keepalive.unwrap_or(0) == self.keepalive
            && endpoint == Some(self.endpoint.as_str())
    }
}

/// One step of a reconcile pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Remove the peer with this key.
    Remove(PublicKeyBytes),
    /// Add this peer.
    Add(DesiredPeer),
}

impl Step {
    /// The UAPI lines of this step (one `set` request each).
    pub fn lines(&self) -> Vec<String> {
        match self {
            Step::Remove(key) => vec![
                format!("public_key={}", key.to_hex()),
                "remove=true".to_owned(),
            ],
            Step::Add(peer) => peer.add_lines(),
        }
    }
}

/// The steps that take the device from `current` to `desired`: removals
/// first, then additions. `configured` is the endpoint each peer was last
/// added with (by key), so a learned endpoint is not mistaken for a change.
pub fn plan(
    desired: &[DesiredPeer],
    current: &[PeerState],
    configured: &BTreeMap<PublicKeyBytes, String>,
) -> Vec<Step> {
    let wanted: BTreeMap<PublicKeyBytes, &DesiredPeer> =
        desired.iter().map(|p| (p.public_key, p)).collect();
    let have: BTreeMap<PublicKeyBytes, &PeerState> =
        current.iter().map(|p| (p.public_key, p)).collect();
    let mut removals = Vec::new();
    let mut additions = Vec::new();
    for (key, peer) in &have {
        match wanted.get(key) {
            None => removals.push(Step::Remove(*key)),
            Some(want)
                if !want.matches(
                    peer,
                    configured
                        .get(key)
                        .map(String::as_str)
                        .or(peer.endpoint.as_deref()),
                ) =>
            {
                removals.push(Step::Remove(*key));
                additions.push(Step::Add((*want).clone()));
            }
            Some(_) => {}
        }
    }
    for (key, want) in &wanted {
        if !have.contains_key(key) {
            additions.push(Step::Add((*want).clone()));
        }
    }
    removals.extend(additions);
    removals
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(n: u8, endpoint: &str) -> DesiredPeer {
        DesiredPeer {
            public_key: PublicKeyBytes([n; 32]),
            endpoint: endpoint.to_owned(),
            allowed_ip: format!("10.99.0.{n}/32"),
            keepalive: 0,
        }
    }

    fn current(peer: &DesiredPeer) -> PeerState {
        PeerState {
            public_key: peer.public_key,
            endpoint: Some(peer.endpoint.clone()),
            allowed_ips: vec![peer.allowed_ip.clone()],
            persistent_keepalive: None,
            since_handshake: None,
            rx_bytes: 0,
            tx_bytes: 0,
        }
    }

    fn configured(peers: &[&DesiredPeer]) -> BTreeMap<PublicKeyBytes, String> {
        peers
            .iter()
            .map(|p| (p.public_key, p.endpoint.clone()))
            .collect()
    }

    #[test]
    fn new_peers_are_added_and_gone_peers_removed() {
        let two = desired(2, "192.0.2.2:51820");
        let three = desired(3, "192.0.2.3:51820");
        let steps = plan(
            std::slice::from_ref(&three),
            &[current(&two)],
            &configured(&[&two]),
        );
        assert_eq!(steps, vec![Step::Remove(two.public_key), Step::Add(three)]);
    }

    #[test]
    fn a_peer_whose_endpoint_changed_is_removed_then_added_never_updated() {
        let old = desired(2, "192.0.2.2:51820");
        let moved = desired(2, "192.0.2.22:51820");
        let steps = plan(
            std::slice::from_ref(&moved),
            &[current(&old)],
            &configured(&[&old]),
        );
        assert_eq!(steps, vec![Step::Remove(old.public_key), Step::Add(moved)]);
    }

    #[test]
    fn an_unchanged_peer_is_left_alone_even_when_it_roamed() {
        let two = desired(2, "192.0.2.2:51820");
        let mut roamed = current(&two);
        roamed.endpoint = Some("198.51.100.9:4000".to_owned());
        assert_eq!(
            plan(std::slice::from_ref(&two), &[roamed], &configured(&[&two])),
            vec![]
        );
    }

    #[test]
    fn steps_speak_uapi_with_hex_keys() {
        let mut two = desired(2, "192.0.2.2:51820");
        two.keepalive = 25;
        let hex = "02".repeat(32);
        assert_eq!(
            Step::Add(two.clone()).lines(),
            vec![
                format!("public_key={hex}"),
                "endpoint=192.0.2.2:51820".to_owned(),
                "replace_allowed_ips=true".to_owned(),
                "allowed_ip=10.99.0.2/32".to_owned(),
                "persistent_keepalive_interval=25".to_owned(),
            ]
        );
        assert_eq!(
            Step::Remove(two.public_key).lines(),
            vec![format!("public_key={hex}"), "remove=true".to_owned()]
        );
    }
}
