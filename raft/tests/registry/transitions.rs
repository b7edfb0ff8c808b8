//! The lifecycle table, generation fencing, and refusals leaving state alone.

use nexus_raft::{RegistryError, Response, SandboxState};
use SandboxState::*;

use super::*;

/// The lifecycle, written out independently of the crate's own table.
const TABLE: &[(SandboxState, SandboxState)] = &[
    (Created, Active),
    (Active, Suspended),
    (Active, Archived),
    (Suspended, Active),
    (Suspended, Frozen),
    (Frozen, Active),
    (Frozen, Archived),
    (Archived, Active),
    (Archived, Deleted),
];

const ALL: [SandboxState; 6] = [Created, Active, Suspended, Frozen, Archived, Deleted];

/// Valid hops from `created` to reach `state`.
fn path_to(state: SandboxState) -> &'static [SandboxState] {
    match state {
        Created => &[],
        Active => &[Active],
        Suspended => &[Active, Suspended],
        Frozen => &[Active, Suspended, Frozen],
        Archived => &[Active, Archived],
        Deleted => &[Active, Archived, Deleted],
    }
}

/// A registry with tenant `t1` and sandbox `sb` walked to `state`.
fn sandbox_in(state: SandboxState) -> Registry {
    let mut reg = fresh();
    setup_tenant(&mut reg, "t1", "acme");
    setup_sandbox(&mut reg, "sb", "t1", "box");
    for (generation, to) in path_to(state).iter().enumerate() {
        ok(
            &mut reg,
            &transition("sb", "t1", *to, generation as u64, 1000),
        );
    }
    let s = reg.sandbox("t1", "sb").unwrap().unwrap();
    assert_eq!(
        (s.state, s.generation),
        (state, path_to(state).len() as u64)
    );
    reg
}

#[test]
fn the_crate_table_matches_the_design() {
    for from in ALL {
        for to in ALL {
            let expected = TABLE.contains(&(from, to));
            assert_eq!(from.can_transition_to(to), expected, "{from} -> {to}");
            assert_eq!(
                from.allowed_next().contains(&to),
                expected,
                "{from} -> {to}"
            );
        }
    }
    assert_eq!(SandboxState::ALL, ALL);
}

#[test]
fn all_36_pairs_through_apply() {
    let (mut valid, mut invalid) = (0, 0);
    for from in ALL {
        for to in ALL {
            let mut reg = sandbox_in(from);
            let before = reg.sandbox("t1", "sb").unwrap().unwrap();
            let gen = before.generation;
            let result = reg.apply(&transition("sb", "t1", to, gen, 9999));
            let after = reg.sandbox("t1", "sb").unwrap().unwrap();
            if TABLE.contains(&(from, to)) {
                valid += 1;
                let Ok(Response::Transitioned(s)) = result else {
                    panic!("{from} -> {to} refused: {result:?}");
                };
                assert_eq!(s, after);
                assert_eq!(
                    (s.state, s.generation, s.updated_at_ms),
                    (to, gen + 1, 9999)
                );
                assert_eq!(s.created_at_ms, before.created_at_ms);
            } else {
                invalid += 1;
                match result {
                    Err(RegistryError::InvalidTransition {
                        sandbox_id,
                        from: f,
                        to: t,
                        allowed,
                    }) => {
                        assert_eq!((sandbox_id.as_str(), f, t), ("sb", from, to));
                        let expected: Vec<_> = TABLE
                            .iter()
                            .filter(|(a, _)| *a == from)
                            .map(|(_, b)| *b)
                            .collect();
                        assert_eq!(allowed, expected, "{from} -> {to}");
                    }
                    other => panic!("{from} -> {to}: expected InvalidTransition, got {other:?}"),
                }
                assert_eq!(after, before, "refused {from} -> {to} changed the sandbox");
            }
        }
    }
    assert_eq!((valid, invalid), (9, 27));
}

#[test]
fn invalid_transition_message_lists_allowed_states() {
    let mut reg = sandbox_in(Suspended);
    let err = reg
        .apply(&transition("sb", "t1", Archived, 2, 1))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "sandbox sb is suspended and cannot become archived; allowed next states: active, frozen"
    );
    let mut reg = sandbox_in(Deleted);
    let err = reg
        .apply(&transition("sb", "t1", Active, 3, 1))
        .unwrap_err();
    assert!(
        err.to_string().ends_with("allowed next states: none"),
        "{err}"
    );
}

#[test]
fn stale_generation_is_refused_and_changes_nothing() {
    let mut reg = sandbox_in(Active); // generation 1
    let before = reg.sandbox("t1", "sb").unwrap().unwrap();
    for stale in [0, 2, u64::MAX] {
        let err = reg
            .apply(&transition("sb", "t1", Suspended, stale, 77))
            .unwrap_err();
        match err {
            RegistryError::StaleGeneration {
                ref sandbox_id,
                expected,
                current,
            } => assert_eq!((sandbox_id.as_str(), expected, current), ("sb", stale, 1)),
            ref other => panic!("expected StaleGeneration, got {other:?}"),
        }
        assert!(err.to_string().contains("sb"), "{err}");
        assert_eq!(reg.sandbox("t1", "sb").unwrap().unwrap(), before);
    }
    // The fresh generation still works afterwards.
    ok(&mut reg, &transition("sb", "t1", Suspended, 1, 78));
}

#[test]
fn generation_is_checked_before_the_lifecycle_rule() {
    let mut reg = sandbox_in(Created);
    // Stale AND an invalid hop: the writer is told it is stale.
    let err = reg
        .apply(&transition("sb", "t1", Deleted, 5, 1))
        .unwrap_err();
    assert!(matches!(
        err,
        RegistryError::StaleGeneration {
            expected: 5,
            current: 0,
            ..
        }
    ));
    // Current generation, invalid hop: the lifecycle rule answers.
    let err = reg
        .apply(&transition("sb", "t1", Deleted, 0, 1))
        .unwrap_err();
    assert!(matches!(err, RegistryError::InvalidTransition { .. }));
}

#[test]
fn two_writers_with_the_same_generation_only_one_wins() {
    let mut reg = sandbox_in(Suspended); // generation 2
    ok(&mut reg, &transition("sb", "t1", Active, 2, 10)); // idle driver lost the race
    let err = reg
        .apply(&transition("sb", "t1", Frozen, 2, 11))
        .unwrap_err();
    assert!(matches!(
        err,
        RegistryError::StaleGeneration {
            expected: 2,
            current: 3,
            ..
        }
    ));
    let s = reg.sandbox("t1", "sb").unwrap().unwrap();
    assert_eq!((s.state, s.generation, s.updated_at_ms), (Active, 3, 10));
}

#[test]
fn full_lifecycle_walk_and_revival() {
    let mut reg = fresh();
    setup_tenant(&mut reg, "t1", "acme");
    setup_sandbox(&mut reg, "sb", "t1", "box");
    let walk = [
        Active, Suspended, Frozen, Active, Archived, Active, Archived, Deleted,
    ];
    for (i, to) in walk.iter().enumerate() {
        let resp = ok(
            &mut reg,
            &transition("sb", "t1", *to, i as u64, 100 + i as u64),
        );
        let Response::Transitioned(s) = resp else {
            panic!("unexpected {resp:?}");
        };
        assert_eq!((s.state, s.generation), (*to, i as u64 + 1));
    }
    // Deleted is terminal, but the record (and its name) stays until removed.
    for to in ALL {
        assert!(reg.apply(&transition("sb", "t1", to, 8, 1)).is_err());
    }
    assert!(matches!(
        reg.apply(&dock("sb2", "t1", "box", 1)),
        Err(RegistryError::SandboxNameTaken { .. })
    ));
    ok(&mut reg, &remove("sb", "t1"));
    setup_sandbox(&mut reg, "sb2", "t1", "box");
}

#[test]
fn transition_of_an_unknown_sandbox_is_not_found() {
    let mut reg = sandbox_in(Created);
    let err = reg
        .apply(&transition("nope", "t1", Active, 0, 1))
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::SandboxNotFound { ref sandbox_id } if sandbox_id == "nope")
    );
    assert_eq!(err.to_string(), "sandbox nope not found");
}

#[test]
fn a_move_changes_the_home_once_and_fences_the_old_generation() {
    let mut reg = sandbox_in(Suspended); // generation 2, home 7
    let before = reg.sandbox("t1", "sb").unwrap().unwrap();
    assert_eq!(before.home_node, 7);
    let move_to = |to_node, expected_generation| Command::MoveSandbox {
        sandbox_id: "sb".into(),
        tenant_id: "t1".into(),
        to_node,
        expected_generation,
        at_ms: 90,
    };
    let moved = match reg.apply(&move_to(2, 2)).unwrap() {
        Response::SandboxMoved(sandbox) => sandbox,
        other => panic!("expected SandboxMoved, got {other:?}"),
    };
    assert_eq!(
        (
            moved.home_node,
            moved.generation,
            moved.state,
            moved.updated_at_ms
        ),
        (2, 3, Suspended, 90)
    );
    assert_eq!(reg.sandbox("t1", "sb").unwrap().unwrap(), moved);
    // The same move again, or any write fenced by the old generation, is
    // refused: the old home can no longer act for the sandbox.
    let err = reg.apply(&move_to(3, 2)).unwrap_err();
    assert!(
        matches!(err, RegistryError::StaleGeneration { current: 3, .. }),
        "{err:?}"
    );
    let err = reg
        .apply(&transition("sb", "t1", Active, 2, 91))
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::StaleGeneration { current: 3, .. }),
        "{err:?}"
    );
    assert_eq!(reg.sandbox("t1", "sb").unwrap().unwrap(), moved);
    // Another tenant's sandbox is not found.
    let err = reg
        .apply(&Command::MoveSandbox {
            sandbox_id: "sb".into(),
            tenant_id: "t2".into(),
            to_node: 3,
            expected_generation: 3,
            at_ms: 92,
        })
        .unwrap_err();
    assert!(err.to_string().contains("sb"), "{err}");
}
