//! [`LeaderWatch`]: when a leader counts as gone, and when a voter may
//! campaign to replace it.
//!
//! openraft 0.9 starts elections on a timer and has no pre-vote. A timer
//! short enough for sub-second failover calls needless elections on a
//! loaded machine, and a node cut off from the others raises its term
//! with every timeout, then deposes the healthy leader when it returns.
//! So the node turns openraft's timer elections off (`enable_elect =
//! false`) and this watch is the only thing that starts a campaign
//! (`Raft::trigger().elect()`):
//!
//! - A follower hears its leader through the leader's appends (a heartbeat
//!   at least every `heartbeat`). After two quiet heartbeats it probes the
//!   leader (`RaftService.Probe`). A probe the leader's host turns away
//!   (`UNAVAILABLE`: connection refused or reset — the process is gone)
//!   means the leader is dead at once; otherwise it is dead once nothing
//!   (no append, no probe answered as leader) came for `leader_timeout`.
//! - Before campaigning, a voter probes every other voter for the leader
//!   it sees alive, and campaigns only if a majority of each voter set
//!   (itself included) sees none: a pre-vote. A node cut off from the
//!   majority never campaigns, so it never raises its term.
//! - The first campaign waits until the lease the voters granted the dead
//!   leader (openraft refuses votes for `election_max` after the last
//!   append) has run out, plus a random part of a heartbeat; while no
//!   leader emerges it tries again after a random
//!   `election_min..=election_max`, at that instant rather than at the next
//!   tick (ticks of different nodes line up). A voter that learns in the
//!   pre-vote that another holds a longer log stands back once, so that one
//!   (which would refuse it anyway) campaigns first.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nexus_raft::replication::{NodeId, NodeInfo, Raft};
use openraft::{RaftMetrics, ServerState};
use rand::Rng;
use tonic::Code;
use tracing::{debug, info, warn};

use crate::channels::Channels;
use crate::messages::{ProbeMsg, ProbeReply};
use crate::network::raft_client;

/// The watch's timings (all from `[cluster]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchTiming {
    /// The leader's heartbeat period; the watch looks once per heartbeat.
    pub heartbeat: Duration,
    /// Silence after which a leader that does not refuse connections
    /// counts as gone (a paused process, a cut link).
    pub leader_timeout: Duration,
    /// openraft's election timeout bounds: its leader lease is the upper
    /// one; campaigns are retried after a random time between them.
    pub election_min: Duration,
    /// See `election_min`.
    pub election_max: Duration,
}

/// What this node last heard from a leader; see the module docs.
#[derive(Debug)]
pub struct LeaderWatch {
    node_id: NodeId,
    timing: WatchTiming,
    heard: Mutex<Heard>,
}

/// The last sign of life of the leader this node follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Heard {
    leader: Option<NodeId>,
    /// Its last append or probe answered as leader.
    at: Option<Instant>,
    /// Its last append (the voters' lease for it started about then).
    appended: Option<Instant>,
    /// Its host turned a probe away since.
    refused: bool,
}

/// How a probe of the leader went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probed {
    /// It answered as leader.
    Leading,
    /// Its host refused the connection: the process is gone.
    Refused,
    /// It answered but does not lead, or did not answer in time.
    Inconclusive,
}

impl Heard {
    /// An append from `leader` just now.
    fn just_now(leader: NodeId) -> Heard {
        let now = Instant::now();
        Heard {
            leader: Some(leader),
            at: Some(now),
            appended: Some(now),
            refused: false,
        }
    }

    /// Whether `leader` counts as alive at `now`.
    fn alive(&self, leader: NodeId, now: Instant, timeout: Duration) -> bool {
        self.leader == Some(leader)
            && !self.refused
            && self
                .at
                .is_some_and(|at| now.saturating_duration_since(at) < timeout)
    }
}

impl LeaderWatch {
    /// The watch of node `node_id`.
    pub fn new(node_id: NodeId, timing: WatchTiming) -> LeaderWatch {
        LeaderWatch {
            node_id,
            timing,
            heard: Mutex::default(),
        }
    }

    /// An append from `leader` arrived (called by the peer server).
    pub fn appended(&self, leader: NodeId) {
        *self.lock() = Heard::just_now(leader);
    }

    /// What this node answers a probe: whether it leads and which leader it
    /// sees alive.
    pub fn answer(&self, raft: &Raft) -> ProbeReply {
        let (leading, leader, last_log_index) = {
            let metrics = raft.metrics();
            let metrics = metrics.borrow();
            (
                metrics.state == ServerState::Leader,
                metrics.current_leader,
                metrics.last_log_index,
            )
        };
        let live_leader = if leading {
            Some(self.node_id)
        } else {
            self.live_leader(leader, Instant::now())
        };
        ProbeReply {
            leading,
            live_leader,
            last_log_index,
        }
    }

    /// `leader` if this follower sees it alive at `now`.
    fn live_leader(&self, leader: Option<NodeId>, now: Instant) -> Option<NodeId> {
        let leader = leader.filter(|l| *l != self.node_id)?;
        self.lock()
            .alive(leader, now, self.timing.leader_timeout)
            .then_some(leader)
    }

    /// openraft names `leader` as this node's leader: it heard from it when
    /// it learned that, so a newly known leader starts out alive.
    fn follow(&self, leader: NodeId) {
        let mut heard = self.lock();
        if heard.leader != Some(leader) {
            *heard = Heard::just_now(leader);
        }
    }

    /// How long `leader` has been quiet (forever if it is not the one heard).
    fn quiet_for(&self, leader: NodeId, now: Instant) -> Duration {
        let heard = self.lock();
        match heard.at {
            Some(at) if heard.leader == Some(leader) => now.saturating_duration_since(at),
            _ => Duration::MAX,
        }
    }

    fn probed(&self, leader: NodeId, outcome: Probed) {
        let mut heard = self.lock();
        if heard.leader != Some(leader) {
            return;
        }
        match outcome {
            Probed::Leading => {
                heard.at = Some(Instant::now());
                heard.refused = false;
            }
            Probed::Refused => heard.refused = true,
            Probed::Inconclusive => {}
        }
    }

    /// When the first campaign against the leader heard last may start:
    /// after the voters' lease for it, and a random part of a heartbeat
    /// (so two followers rarely campaign at once).
    fn first_campaign(&self, now: Instant) -> Instant {
        let jitter = random_between(Duration::ZERO, self.timing.heartbeat);
        let lease_over = self
            .lock()
            .appended
            .map(|at| at + self.timing.election_max + self.timing.heartbeat / 2);
        (now + jitter).max(lease_over.unwrap_or(now))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Heard> {
        self.heard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Watches the leader once per heartbeat and campaigns when a majority
    /// sees none, until Raft stops.
    pub async fn run(self: Arc<Self>, raft: Raft, channels: Channels) {
        let mut tick = tokio::time::interval(self.timing.heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut campaign = Campaign::default();
        loop {
            // A campaign starts at its own random instant, not at the next
            // tick: ticks of different nodes line up, which would make
            // every retry a split vote.
            match campaign.due {
                Some(due) => tokio::select! {
                    _ = tick.tick() => {}
                    () = tokio::time::sleep_until(due.into()) => {}
                },
                None => {
                    tick.tick().await;
                }
            }
            let metrics = raft.metrics().borrow().clone();
            if metrics.running_state.is_err() {
                return;
            }
            let voter = metrics
                .membership_config
                .membership()
                .voter_ids()
                .any(|v| v == self.node_id);
            if !voter || metrics.state == ServerState::Leader {
                campaign = Campaign::default();
                continue;
            }
            let leader = metrics.current_leader.filter(|l| *l != self.node_id);
            if let Some(leader) = leader {
                self.follow(leader);
                if self.quiet_for(leader, Instant::now()) >= 2 * self.timing.heartbeat {
                    let outcome = self.probe_leader(&metrics, leader, &channels).await;
                    self.probed(leader, outcome);
                }
            }
            let now = Instant::now();
            if self.live_leader(leader, now).is_some() {
                campaign = Campaign::default();
                continue;
            }
            let due = *campaign.due.get_or_insert_with(|| self.first_campaign(now));
            if now < due {
                continue;
            }
            let retry = random_between(self.timing.election_min, self.timing.election_max);
            campaign.due = Some(now + retry);
            match self.pre_vote(&metrics, &channels).await {
                PreVote::Refused => {}
                PreVote::LongerLogElsewhere if !campaign.deferred => {
                    // Let the voter with the longer log go first (it would
                    // refuse this node's vote anyway); once per outage.
                    campaign.deferred = true;
                    campaign.due = Some(now + retry + self.timing.election_max);
                }
                PreVote::Granted | PreVote::LongerLogElsewhere => {
                    info!(
                        term = metrics.current_term,
                        gone = ?leader,
                        "a majority of the voters sees no live leader: campaigning"
                    );
                    if let Err(e) = raft.trigger().elect().await {
                        warn!(error = %e, "could not start a campaign");
                    }
                }
            }
        }
    }

    /// Probes `leader`; see [`Probed`].
    async fn probe_leader(
        &self,
        metrics: &RaftMetrics<NodeId, NodeInfo>,
        leader: NodeId,
        channels: &Channels,
    ) -> Probed {
        match probe(metrics, leader, channels, self.probe_timeout()).await {
            Ok(reply) if reply.leading => Probed::Leading,
            Ok(_) => Probed::Inconclusive,
            Err(Code::Unavailable) => {
                debug!(leader, "the leader's host refused a probe");
                Probed::Refused
            }
            Err(_) => Probed::Inconclusive,
        }
    }

    /// Long enough for a busy node to answer; a probe that times out is
    /// only one without an answer.
    fn probe_timeout(&self) -> Duration {
        (2 * self.timing.heartbeat).max(Duration::from_millis(100))
    }

    /// The pre-vote: whether this node and enough other voters to make a
    /// majority of every voter set (both, during a joint change) see no
    /// live leader. Voters that do not answer in time count against.
    async fn pre_vote(
        &self,
        metrics: &RaftMetrics<NodeId, NodeInfo>,
        channels: &Channels,
    ) -> PreVote {
        let membership = metrics.membership_config.membership();
        let others: Vec<NodeId> = membership
            .voter_ids()
            .filter(|v| *v != self.node_id)
            .collect();
        let timeout = self.timing.election_min;
        let replies = futures::future::join_all(
            others
                .iter()
                .map(|&voter| probe(metrics, voter, channels, timeout)),
        )
        .await;
        let mut agree = BTreeSet::from([self.node_id]);
        let mut longer_log = false;
        for (voter, reply) in others.iter().zip(replies) {
            if let Ok(ProbeReply {
                live_leader: None,
                last_log_index,
                ..
            }) = reply
            {
                agree.insert(*voter);
                longer_log |= last_log_index > metrics.last_log_index;
            }
        }
        if !majority_of_each(membership.get_joint_config(), &agree) {
            PreVote::Refused
        } else if longer_log {
            PreVote::LongerLogElsewhere
        } else {
            PreVote::Granted
        }
    }
}

/// When this node may campaign next, while it sees no live leader.
#[derive(Debug, Default)]
struct Campaign {
    due: Option<Instant>,
    /// It already stood back once for a voter with a longer log.
    deferred: bool,
}

/// What the other voters said before a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PreVote {
    /// A majority sees no live leader.
    Granted,
    /// So does a majority, but one of them holds a longer log.
    LongerLogElsewhere,
    /// No majority: a leader is alive somewhere, or too few answered.
    Refused,
}

/// Probes `target` (a member of `metrics`' membership) within `timeout`;
/// the gRPC code when it fails.
async fn probe(
    metrics: &RaftMetrics<NodeId, NodeInfo>,
    target: NodeId,
    channels: &Channels,
    timeout: Duration,
) -> Result<ProbeReply, Code> {
    let node = metrics
        .membership_config
        .membership()
        .get_node(&target)
        .ok_or(Code::NotFound)?;
    let channel = channels
        .get(target, &node.raft_addr)
        .map_err(|_| Code::InvalidArgument)?;
    let mut request = tonic::Request::new(ProbeMsg {});
    request.set_timeout(timeout);
    let reply = tokio::time::timeout(timeout, raft_client(channel).probe(request)).await;
    match reply {
        Ok(Ok(reply)) => Ok(reply.into_inner()),
        Ok(Err(status)) => Err(status.code()),
        Err(_) => Err(Code::DeadlineExceeded),
    }
}

/// Whether `agree` holds a majority of every set in `configs`.
fn majority_of_each(configs: &[BTreeSet<NodeId>], agree: &BTreeSet<NodeId>) -> bool {
    !configs.is_empty()
        && configs
            .iter()
            .all(|voters| voters.intersection(agree).count() > voters.len() / 2)
}

/// A uniformly random duration in `low..=high` (whole milliseconds).
fn random_between(low: Duration, high: Duration) -> Duration {
    let low_ms = u64::try_from(low.as_millis()).unwrap_or(u64::MAX);
    let high_ms = u64::try_from(high.as_millis()).unwrap_or(u64::MAX);
    if high_ms <= low_ms {
        return low;
    }
    Duration::from_millis(rand::rng().random_range(low_ms..=high_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch() -> LeaderWatch {
        LeaderWatch::new(
            1,
            WatchTiming {
                heartbeat: Duration::from_millis(100),
                leader_timeout: Duration::from_secs(1),
                election_min: Duration::from_millis(200),
                election_max: Duration::from_millis(300),
            },
        )
    }

    #[test]
    fn a_majority_must_hold_in_every_voter_set() {
        let set = |ids: &[NodeId]| ids.iter().copied().collect::<BTreeSet<_>>();
        let three = vec![set(&[1, 2, 3])];
        assert!(majority_of_each(&three, &set(&[1, 2])));
        assert!(!majority_of_each(&three, &set(&[1])));
        assert!(
            !majority_of_each(&[set(&[1, 2, 3, 4])], &set(&[1, 2])),
            "2 of 4 is no majority"
        );
        let joint = vec![set(&[1, 2, 3]), set(&[3, 4, 5])];
        assert!(
            !majority_of_each(&joint, &set(&[1, 2])),
            "none of the new set"
        );
        assert!(majority_of_each(&joint, &set(&[1, 3, 4])));
        assert!(majority_of_each(&[set(&[1])], &set(&[1])), "a lone voter");
        assert!(!majority_of_each(&[], &set(&[1])));
    }

    #[test]
    fn a_leader_lives_while_heard_and_dies_when_refused_or_silent() {
        let watch = watch();
        let now = Instant::now();
        assert_eq!(watch.live_leader(Some(2), now), None, "never heard");
        watch.appended(2);
        assert_eq!(watch.live_leader(Some(2), Instant::now()), Some(2));
        assert_eq!(
            watch.live_leader(Some(3), Instant::now()),
            None,
            "another node"
        );
        assert_eq!(watch.live_leader(Some(1), Instant::now()), None, "itself");
        let later = Instant::now() + Duration::from_secs(2);
        assert_eq!(watch.live_leader(Some(2), later), None, "silent too long");
        watch.probed(2, Probed::Refused);
        assert_eq!(watch.live_leader(Some(2), Instant::now()), None, "refused");
        watch.probed(2, Probed::Leading);
        assert_eq!(
            watch.live_leader(Some(2), Instant::now()),
            Some(2),
            "answered again"
        );
        watch.probed(3, Probed::Refused);
        assert_eq!(
            watch.live_leader(Some(2), Instant::now()),
            Some(2),
            "not its leader"
        );
    }

    #[test]
    fn following_a_new_leader_starts_it_alive_and_the_old_one_is_forgotten() {
        let watch = watch();
        watch.appended(2);
        watch.probed(2, Probed::Refused);
        watch.follow(2);
        assert_eq!(
            watch.live_leader(Some(2), Instant::now()),
            None,
            "same leader: no reset"
        );
        watch.follow(3);
        assert_eq!(watch.live_leader(Some(3), Instant::now()), Some(3));
        assert_eq!(watch.quiet_for(2, Instant::now()), Duration::MAX);
    }

    #[test]
    fn the_first_campaign_waits_out_the_lease() {
        let watch = watch();
        let now = Instant::now();
        let first = watch.first_campaign(now);
        assert!(
            first >= now && first <= now + Duration::from_millis(100),
            "never heard: a jitter"
        );
        watch.appended(2);
        let appended = watch.lock().appended.unwrap();
        let first = watch.first_campaign(Instant::now());
        assert!(
            first >= appended + Duration::from_millis(350),
            "lease of 300 ms plus half a heartbeat"
        );
        for _ in 0..100 {
            let d = random_between(Duration::from_millis(200), Duration::from_millis(300));
            assert!((200..=300).contains(&d.as_millis()));
        }
        assert_eq!(
            random_between(Duration::from_millis(5), Duration::ZERO).as_millis(),
            5
        );
    }
}
