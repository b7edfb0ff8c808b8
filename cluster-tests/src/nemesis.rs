//! The faults the suite injects into a [`Compose`] cluster, one kind at a
//! time or two at once, and how each is undone.

use std::collections::BTreeMap;

use crate::compose::{Compose, Container};

/// A kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    /// `docker kill` of the Raft leader, started again after the hold.
    KillLeader,
    /// `docker kill` of a follower.
    KillFollower,
    /// `docker network disconnect` of a follower (a 1 | 2 partition).
    PartitionFollower,
    /// `docker network disconnect` of the leader: it is the minority of a
    /// 2 | 1 split.
    PartitionLeader,
    /// `docker pause` of the leader: a frozen process (the GC-pause case).
    PauseLeader,
    /// `docker restart` of every node at once.
    RestartAll,
    /// Two at once on different nodes: a follower killed or paused while
    /// the leader is cut off or killed (no quorum until healed).
    Combined,
}

impl FaultKind {
    /// Every kind, in the order a round injects them.
    pub const ALL: [FaultKind; 7] = [
        FaultKind::KillLeader,
        FaultKind::KillFollower,
        FaultKind::PartitionFollower,
        FaultKind::PartitionLeader,
        FaultKind::PauseLeader,
        FaultKind::RestartAll,
        FaultKind::Combined,
    ];

    /// Its name in the summary.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::KillLeader => "kill leader",
            FaultKind::KillFollower => "kill follower",
            FaultKind::PartitionFollower => "partition follower",
            FaultKind::PartitionLeader => "partition leader (minority)",
            FaultKind::PauseLeader => "pause leader",
            FaultKind::RestartAll => "restart all",
            FaultKind::Combined => "combined",
        }
    }
}

/// What undoes one injected fault.
#[derive(Debug, Clone)]
pub enum Undo {
    /// Start a killed container.
    Start(String),
    /// Thaw a paused container.
    Unpause(String),
    /// Put a container back on the network.
    Reconnect(Container),
}

/// Breaks the nodes of a compose cluster, known by their node ids.
pub struct Nemesis<'a> {
    compose: &'a Compose,
    by_id: BTreeMap<u64, Container>,
}

impl<'a> Nemesis<'a> {
    /// A nemesis for `compose`, whose containers run the nodes of `by_id`.
    pub fn new(compose: &'a Compose, by_id: BTreeMap<u64, Container>) -> Nemesis<'a> {
        Nemesis { compose, by_id }
    }

    fn container(&self, id: u64) -> Result<&Container, String> {
        self.by_id
            .get(&id)
            .ok_or_else(|| format!("no container runs node {id}"))
    }

    /// A follower of `leader`, a different one from round to round.
    fn follower(&self, leader: u64, round: usize) -> Result<&Container, String> {
        let followers: Vec<&Container> = self
            .by_id
            .iter()
            .filter(|(id, _)| **id != leader)
            .map(|(_, c)| c)
            .collect();
        followers
            .get(round % followers.len().max(1))
            .copied()
            .ok_or_else(|| "the cluster has no follower".to_owned())
    }

    /// Injects `kind` (round `round` picks among followers and, for
    /// `Combined`, among pairs); returns what undoes it.
    pub fn inject(&self, kind: FaultKind, leader: u64, round: usize) -> Result<Vec<Undo>, String> {
        let compose = self.compose;
        let follower = self.follower(leader, round)?;
        let leader = self.container(leader)?;
        let kill = |c: &Container| compose.kill(&c.name).map(|()| Undo::Start(c.name.clone()));
        let cut = |c: &Container| {
            compose
                .disconnect(&c.name)
                .map(|()| Undo::Reconnect(c.clone()))
        };
        let pause = |c: &Container| {
            compose
                .pause(&c.name)
                .map(|()| Undo::Unpause(c.name.clone()))
        };
        Ok(match kind {
            FaultKind::KillLeader => vec![kill(leader)?],
            FaultKind::KillFollower => vec![kill(follower)?],
            FaultKind::PartitionFollower => vec![cut(follower)?],
            FaultKind::PartitionLeader => vec![cut(leader)?],
            FaultKind::PauseLeader => vec![pause(leader)?],
            FaultKind::RestartAll => {
                compose.restart_all()?;
                Vec::new()
            }
            FaultKind::Combined if round.is_multiple_of(2) => vec![kill(follower)?, cut(leader)?],
            FaultKind::Combined => vec![pause(follower)?, kill(leader)?],
        })
    }

    /// Undoes what [`Nemesis::inject`] did, last first.
    pub fn heal(&self, undo: Vec<Undo>) -> Result<(), String> {
        for step in undo.into_iter().rev() {
            match step {
                Undo::Start(name) => self.compose.start(&name)?,
                Undo::Unpause(name) => self.compose.unpause(&name)?,
                Undo::Reconnect(container) => self.compose.reconnect(&container)?,
            }
        }
        Ok(())
    }
}
