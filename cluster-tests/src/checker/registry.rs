//! The registry workload's check: tenant creations (adds) and tenant lists
//! (reads) must be a linearizable history of a set. A set's history is
//! linearizable exactly when, for every element, the adds and the reads'
//! answers about that element are (P-compositionality), so each tenant
//! name is checked on its own as a register that goes from absent to
//! present — with the [`wgl`](super::wgl) search where intervals overlap.

use std::collections::BTreeMap;

use super::wgl::{self, Entry, Model, Verdict};
use crate::history::{tenant_key, Call, Op, Outcome, Value};

/// One element of the set: whether it is present yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Present(bool);

/// An operation on one element: its add, or a read that saw it or not.
#[derive(Debug, Clone, Copy)]
enum ElementOp {
    Add,
    Read,
}

impl Model for Present {
    type Input = ElementOp;
    type Output = bool;
    fn step(&self, input: &ElementOp, output: Option<&bool>) -> Option<Present> {
        match (input, output) {
            (ElementOp::Add, _) => Some(Present(true)),
            (ElementOp::Read, Some(seen)) if *seen != self.0 => None,
            (ElementOp::Read, _) => Some(*self),
        }
    }
}

/// What the registry check found.
#[derive(Debug, Default)]
pub struct RegistryReport {
    /// Tenant names the workload tried to create.
    pub elements: usize,
    /// Reads with an answer.
    pub reads: usize,
    /// One line per element whose history is not linearizable.
    pub anomalies: Vec<String>,
    /// Elements the search gave up on.
    pub undecided: usize,
}

/// A read with an answer: its interval and the tenants it saw.
struct Read<'a> {
    invoke: u64,
    complete: u64,
    keys: &'a [u64],
}

impl Read<'_> {
    fn saw(&self, key: u64) -> bool {
        self.keys.binary_search(&key).is_ok()
    }
}

/// Checks the workload's tenant operations in `ops` (other tenants, e.g.
/// `default`, are not the workload's and are ignored).
pub fn check(ops: &[Op]) -> RegistryReport {
    let reads: Vec<Read> = ops
        .iter()
        .filter_map(|op| match (&op.call, &op.outcome) {
            (Call::ReadTenants, Outcome::Ok(Value::Tenants(keys))) => Some(Read {
                invoke: op.invoke_us,
                complete: op.complete_us,
                keys,
            }),
            _ => None,
        })
        .collect();
    // Every tenant the workload tried to add, with its add (None when the
    // add certainly failed: the name must never be seen).
    let mut adds: BTreeMap<u64, (&str, Option<&Op>)> = BTreeMap::new();
    for op in ops {
        if let Call::AddTenant(name) = &op.call {
            if let Some(key) = tenant_key(name) {
                let add = (!matches!(op.outcome, Outcome::Fail(_))).then_some(op);
                adds.insert(key, (name, add));
            }
        }
    }
    // A tenant only reads mention was never asked for: it must not be seen.
    for read in &reads {
        for key in read.keys {
            adds.entry(*key)
                .or_insert(("(a name no client created)", None));
        }
    }
    let mut report = RegistryReport {
        elements: adds.len(),
        reads: reads.len(),
        ..RegistryReport::default()
    };
    for (key, (name, add)) in adds {
        match check_element(key, name, add, &reads) {
            Ok(Verdict::Linearizable) => {}
            Ok(Verdict::GaveUp) => report.undecided += 1,
            Ok(Verdict::NotLinearizable) => report.anomalies.push(format!(
                "tenant {name}: no order of its creation ({}) and the reads around it is legal",
                describe(add),
            )),
            Err(anomaly) => report.anomalies.push(anomaly),
        }
    }
    report
}

fn describe(add: Option<&Op>) -> String {
    match add.map(|op| &op.outcome) {
        None => "failed".to_owned(),
        Some(Outcome::Ok(_)) => "ok".to_owned(),
        Some(_) => "unknown".to_owned(),
    }
}

/// One element's history. Reads wholly before its add must not see it;
/// reads begun after it certainly took effect (its add returned, or a read
/// saw it) must; the reads in between are searched.
fn check_element(
    key: u64,
    name: &str,
    add: Option<&Op>,
    reads: &[Read],
) -> Result<Verdict, String> {
    let add_invoke = add.map_or(u64::MAX, |op| op.invoke_us);
    let add_complete = add.and_then(|op| op.is_ok().then_some(op.complete_us));
    let first_seen_complete = reads
        .iter()
        .filter(|r| r.saw(key))
        .map(|r| r.complete)
        .min();
    let certain = add_complete.into_iter().chain(first_seen_complete).min();
    let mut window = Vec::new();
    for read in reads {
        let seen = read.saw(key);
        if read.complete < add_invoke {
            if seen {
                return Err(format!(
                    "tenant {name} was read at {} µs, when no creation of it could have taken effect",
                    read.complete
                ));
            }
        } else if certain.is_some_and(|c| read.invoke > c) {
            if !seen {
                return Err(format!(
                    "tenant {name} was missing from a read begun at {} µs, after its creation took effect",
                    read.invoke
                ));
            }
        } else {
            window.push(Entry {
                invoke: read.invoke,
                complete: Some(read.complete),
                input: ElementOp::Read,
                output: Some(seen),
            });
        }
    }
    if let Some(op) = add {
        window.push(Entry {
            invoke: op.invoke_us,
            complete: op.is_ok().then_some(op.complete_us),
            input: ElementOp::Add,
            output: None,
        });
    }
    Ok(wgl::check(Present(false), &window))
}

#[cfg(test)]
mod tests {
    use super::check;
    use crate::history::{tenant_key, Call, Op, Outcome, Value};

    fn add(name: &str, invoke: u64, complete: u64, outcome: Outcome) -> Op {
        Op {
            process: 0,
            call: Call::AddTenant(name.to_owned()),
            invoke_us: invoke,
            complete_us: complete,
            outcome,
        }
    }

    fn read(invoke: u64, complete: u64, names: &[&str]) -> Op {
        let mut keys: Vec<u64> = names.iter().filter_map(|n| tenant_key(n)).collect();
        keys.sort_unstable();
        Op {
            process: 1,
            call: Call::ReadTenants,
            invoke_us: invoke,
            complete_us: complete,
            outcome: Outcome::Ok(Value::Tenants(keys)),
        }
    }

    #[test]
    fn reads_that_follow_the_adds_are_linearizable() {
        let ops = [
            add("w0-1", 0, 10, Outcome::Ok(Value::Done)),
            read(5, 8, &["default"]),
            read(11, 20, &["default", "w0-1"]),
            add("w0-2", 15, 40, Outcome::Unknown("timeout".into())),
            read(21, 30, &["w0-1"]),
            read(31, 50, &["w0-1", "w0-2"]),
        ];
        let report = check(&ops);
        assert_eq!(report.anomalies, Vec::<String>::new());
        assert_eq!((report.elements, report.reads, report.undecided), (2, 4, 0));
    }

    #[test]
    fn an_acknowledged_add_missing_from_a_later_read_is_an_anomaly() {
        let ops = [
            add("w0-1", 0, 10, Outcome::Ok(Value::Done)),
            read(11, 20, &[]),
        ];
        let report = check(&ops);
        assert_eq!(
            report.anomalies,
            ["tenant w0-1 was missing from a read begun at 11 µs, after its creation took effect"]
        );
    }

    #[test]
    fn a_name_seen_then_unseen_is_an_anomaly_even_if_its_add_never_returned() {
        let ops = [
            add("w0-1", 0, 100, Outcome::Unknown("timeout".into())),
            read(10, 20, &["w0-1"]),
            read(30, 40, &[]),
        ];
        let report = check(&ops);
        assert_eq!(report.anomalies.len(), 1, "{:?}", report.anomalies);
    }

    #[test]
    fn a_failed_add_must_never_be_seen() {
        let ops = [
            add("w0-1", 0, 10, Outcome::Fail("connection refused".into())),
            read(20, 30, &["w0-1"]),
        ];
        assert_eq!(check(&ops).anomalies.len(), 1);
    }

    #[test]
    fn overlapping_reads_are_searched() {
        // Both reads overlap the add; the one that saw it may come second.
        let ops = [
            add("w0-1", 0, 100, Outcome::Ok(Value::Done)),
            read(10, 50, &["w0-1"]),
            read(20, 60, &[]),
        ];
        assert_eq!(check(&ops).anomalies, Vec::<String>::new());
    }
}
