//! Same commands in, same registry out; refused commands leave no trace.

use nexus_raft::{Command, Registry, Response, Role, SandboxState};

use super::*;

const TENANTS: &[&str] = &["t0", "t1", "t2"];
const SANDBOXES: &[&str] = &["s0", "s1", "s2", "s3", "s4", "s5"];
const NAMES: &[&str] = &["n0", "n1", "n2", "Bad"];
const SB_NAMES: &[&str] = &["a", "b", "c", "", ".."];
const KEYS: &[&str] = &["k0", "k1", "k2", "k3"];

fn snap(reg: &Registry) -> Snapshot {
    snapshot(reg, TENANTS, SANDBOXES, NAMES, KEYS)
}

/// A tiny deterministic generator (no clock, no OS randomness).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.next(xs.len())]
    }
}

/// A mix of valid and invalid commands over a small id space, so collisions,
/// stale generations and bad hops are frequent.
fn random_commands(seed: u64, n: usize) -> Vec<Command> {
    let mut rng = Lcg(seed);
    (0..n as u64)
        .map(|at| match rng.next(6) {
            0 => create_tenant(rng.pick(TENANTS), rng.pick(NAMES), at),
            1 => create_key(
                rng.pick(KEYS),
                rng.pick(TENANTS),
                rng.pick(KEYS),
                if rng.next(2) == 0 {
                    Role::Admin
                } else {
                    Role::Tenant
                },
            ),
            2 => dock(
                rng.pick(SANDBOXES),
                rng.pick(TENANTS),
                rng.pick(SB_NAMES),
                at,
            ),
            3 => remove(rng.pick(SANDBOXES), rng.pick(TENANTS)),
            _ => transition(
                rng.pick(SANDBOXES),
                rng.pick(TENANTS),
                SandboxState::ALL[rng.next(6)],
                rng.next(4) as u64,
                at,
            ),
        })
        .collect()
}

fn outcome(r: Result<Response, nexus_raft::RegistryError>) -> Result<Response, String> {
    r.map_err(|e| {
        assert!(e.is_refusal(), "unexpected local failure: {e}");
        e.to_string()
    })
}

#[test]
fn two_registries_agree_on_every_result_and_read() {
    for seed in [1, 2, 3] {
        let cmds = random_commands(seed, 400);
        let mut a = fresh();
        let mut b = fresh();
        let mut accepted_only = fresh();
        let (mut accepted, mut refused) = (0, 0);
        for cmd in &cmds {
            let before = snap(&a);
            let ra = outcome(a.apply(cmd));
            let rb = outcome(b.apply(cmd));
            assert_eq!(ra, rb, "seed {seed}: {cmd:?}");
            if ra.is_ok() {
                accepted += 1;
                assert_eq!(
                    outcome(accepted_only.apply(cmd)),
                    ra,
                    "seed {seed}: {cmd:?}"
                );
            } else {
                refused += 1;
                assert_eq!(
                    snap(&a),
                    before,
                    "seed {seed}: refused {cmd:?} left a trace"
                );
            }
            assert_eq!(snap(&a), snap(&b), "seed {seed}: after {cmd:?}");
        }
        // Replaying only the accepted commands reaches the same state: refusals
        // had no effect at all.
        assert_eq!(snap(&accepted_only), snap(&a), "seed {seed}");
        assert!(
            accepted > 20 && refused > 20,
            "seed {seed}: {accepted}/{refused}"
        );
        assert!(!a.all_sandboxes().unwrap().is_empty(), "seed {seed}");
    }
}

#[test]
fn commands_survive_serialization_with_identical_effect() {
    // What the Raft log will do: serialize, ship, deserialize, apply.
    let cmds = random_commands(7, 200);
    let mut direct = fresh();
    let mut via_log = fresh();
    for cmd in &cmds {
        let bytes = serde_json::to_vec(cmd).unwrap();
        let shipped: Command = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(outcome(direct.apply(cmd)), outcome(via_log.apply(&shipped)));
    }
    assert_eq!(snap(&direct), snap(&via_log));
}
