//! Random sequences of writes, shipped after each: the replica always
//! equals the checkpointed live file.

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Op {
    Insert { size: usize, fill: u8 },
    Update { id: i64, size: usize },
    Delete { id: i64 },
    Vacuum,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1usize..6000, any::<u8>()).prop_map(|(size, fill)| Op::Insert { size, fill }),
        2 => (1i64..40, 1usize..6000).prop_map(|(id, size)| Op::Update { id, size }),
        2 => (1i64..40).prop_map(|id| Op::Delete { id }),
        1 => Just(Op::Vacuum),
    ]
}

fn run(live: &Live, op: &Op) {
    match op {
        Op::Insert { size, fill } => live.insert(1, *size, *fill),
        Op::Update { id, size } => {
            live.conn
                .execute(
                    "UPDATE t SET v = ?1 WHERE id = ?2",
                    params![vec![3u8; *size], id],
                )
                .unwrap();
        }
        Op::Delete { id } => {
            live.conn
                .execute("DELETE FROM t WHERE id = ?1", params![id])
                .unwrap();
        }
        Op::Vacuum => live.conn.execute_batch("VACUUM;").unwrap(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn random_writes_shipped_one_by_one_keep_the_replica_identical(
        ops in proptest::collection::vec(op(), 1..25),
    ) {
        let live = Live::new();
        live.insert(20, 800, 1);
        let replica = live.seed("replica.db");
        let mut cursor = None;
        for op in &ops {
            run(&live, op);
            ship(&live.db, &mut cursor, &replica);
        }
        live.assert_replica(&replica);
    }
}
