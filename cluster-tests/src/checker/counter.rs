//! The counter workload's check. Each increment returns the count it made,
//! so an acknowledged increment is identified by its count: every count
//! returned at most once (none lost by a stale copy, none applied twice),
//! none above the final count, counts growing in real time, and no more
//! increments applied than clients attempted.

use crate::history::{Call, Op, Outcome, Value};

/// What the counter check found.
#[derive(Debug, Default)]
pub struct CounterReport {
    /// Increments that returned a count.
    pub acknowledged: usize,
    /// Increments that may or may not have been applied.
    pub unknown: usize,
    /// Increments certainly not applied.
    pub failed: usize,
    /// The count after the run.
    pub final_count: u64,
    /// One line per violation.
    pub anomalies: Vec<String>,
}

/// Checks the increments of `ops` against the count the workbook holds
/// after the run.
pub fn check(ops: &[Op], final_count: u64) -> CounterReport {
    let mut report = CounterReport {
        final_count,
        ..CounterReport::default()
    };
    // (count, invoked, completed) of every acknowledged increment.
    let mut acked: Vec<(u64, u64, u64)> = Vec::new();
    for op in ops.iter().filter(|op| op.call == Call::Increment) {
        match &op.outcome {
            Outcome::Ok(Value::Count(count)) => acked.push((*count, op.invoke_us, op.complete_us)),
            Outcome::Ok(other) => report
                .anomalies
                .push(format!("an increment returned {other:?}, not a count")),
            Outcome::Fail(_) => report.failed += 1,
            Outcome::Unknown(_) => report.unknown += 1,
        }
    }
    report.acknowledged = acked.len();

    acked.sort_unstable();
    for pair in acked.windows(2) {
        if pair[0].0 == pair[1].0 {
            report.anomalies.push(format!(
                "count {} was returned to two acknowledged increments (ended at {} and {} µs): one increment was lost",
                pair[0].0, pair[0].2, pair[1].2
            ));
        }
    }
    for &(count, _, completed) in acked.iter().filter(|a| a.0 > final_count) {
        report.anomalies.push(format!(
            "count {count} was acknowledged at {completed} µs but the final count is {final_count}: an acknowledged increment was lost"
        ));
    }
    let attempted = (report.acknowledged + report.unknown) as u64;
    if final_count > attempted {
        report.anomalies.push(format!(
            "the final count is {final_count} but only {attempted} increments were acknowledged or unknown: {} were applied that no client saw succeed or left in doubt",
            final_count - attempted
        ));
    }
    report.anomalies.extend(real_time_violations(&acked));
    report
}

/// Increments that began after another ended yet returned a count not
/// above it.
fn real_time_violations(acked: &[(u64, u64, u64)]) -> Vec<String> {
    let mut by_completion: Vec<(u64, u64)> = acked.iter().map(|&(c, _, done)| (done, c)).collect();
    by_completion.sort_unstable();
    let mut by_invocation: Vec<(u64, u64)> =
        acked.iter().map(|&(c, start, _)| (start, c)).collect();
    by_invocation.sort_unstable();
    let mut violations = Vec::new();
    let mut ended = 0;
    let mut highest_ended: Option<(u64, u64)> = None;
    for (start, count) in by_invocation {
        while ended < by_completion.len() && by_completion[ended].0 < start {
            let (done, c) = by_completion[ended];
            if highest_ended.is_none_or(|(_, h)| c > h) {
                highest_ended = Some((done, c));
            }
            ended += 1;
        }
        if let Some((done, highest)) = highest_ended.filter(|&(_, h)| h >= count) {
            violations.push(format!(
                "an increment begun at {start} µs returned {count}, but one that ended at {done} µs had already returned {highest}"
            ));
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::check;
    use crate::history::{Call, Op, Outcome, Value};

    fn inc(invoke: u64, complete: u64, outcome: Outcome) -> Op {
        Op {
            process: 0,
            call: Call::Increment,
            invoke_us: invoke,
            complete_us: complete,
            outcome,
        }
    }

    fn ok(count: u64) -> Outcome {
        Outcome::Ok(Value::Count(count))
    }

    #[test]
    fn a_clean_run_has_no_anomalies() {
        let ops = [
            inc(0, 10, ok(1)),
            inc(5, 20, ok(3)),
            inc(6, 15, ok(2)),
            inc(30, 40, Outcome::Unknown("timeout".into())),
            inc(50, 60, Outcome::Fail("connection refused".into())),
        ];
        let report = check(&ops, 4);
        assert_eq!(report.anomalies, Vec::<String>::new());
        assert_eq!(
            (report.acknowledged, report.unknown, report.failed),
            (3, 1, 1)
        );
    }

    #[test]
    fn a_count_returned_twice_is_a_lost_increment() {
        let ops = [inc(0, 10, ok(1)), inc(20, 30, ok(1))];
        let anomalies = check(&ops, 1).anomalies;
        assert!(
            anomalies.contains(&"count 1 was returned to two acknowledged increments (ended at 10 and 30 µs): one increment was lost".to_owned()),
            "{anomalies:?}"
        );
    }

    #[test]
    fn an_acknowledged_count_above_the_final_count_was_lost() {
        let anomalies = check(&[inc(0, 10, ok(1)), inc(20, 30, ok(2))], 1).anomalies;
        assert_eq!(
            anomalies,
            ["count 2 was acknowledged at 30 µs but the final count is 1: an acknowledged increment was lost"]
        );
    }

    #[test]
    fn more_increments_than_attempted_is_an_anomaly() {
        let anomalies = check(&[inc(0, 10, ok(1))], 3).anomalies;
        assert_eq!(
            anomalies,
            ["the final count is 3 but only 1 increments were acknowledged or unknown: 2 were applied that no client saw succeed or left in doubt"]
        );
    }

    #[test]
    fn counts_must_grow_in_real_time() {
        let anomalies = check(&[inc(0, 10, ok(2)), inc(20, 30, ok(1))], 2).anomalies;
        assert_eq!(
            anomalies,
            ["an increment begun at 20 µs returned 1, but one that ended at 10 µs had already returned 2"]
        );
    }
}
