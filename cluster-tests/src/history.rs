//! A history of client operations, as a checker needs it: when each was
//! invoked, when it completed (if it did) and how — `ok` with a value,
//! `fail` (certainly not applied) or `unknown` (maybe applied: a timeout,
//! a dropped connection, a 5xx).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// Create the tenant with this (unique) name: a registry write.
    AddTenant(String),
    /// List every tenant name: a linearizable registry read.
    ReadTenants,
    /// Call the counter workbook once: it adds one to its kv count.
    Increment,
}

impl Call {
    /// Whether the call changes state.
    pub fn is_write(&self) -> bool {
        !matches!(self, Call::ReadTenants)
    }
}

/// The prefix of the tenant names the workload creates: `w<client>-<n>`.
pub const TENANT_PREFIX: &str = "w";

/// The name of client `process`'s tenant number `seq`.
pub fn tenant_name(process: usize, seq: u64) -> String {
    format!("{TENANT_PREFIX}{process}-{seq}")
}

/// The key of a workload tenant name (client in the high 24 bits, number
/// in the low 40); `None` for other names.
pub fn tenant_key(name: &str) -> Option<u64> {
    let (process, seq) = name.strip_prefix(TENANT_PREFIX)?.split_once('-')?;
    let (process, seq): (u64, u64) = (process.parse().ok()?, seq.parse().ok()?);
    (process < 1 << 24 && seq < 1 << 40).then_some(process << 40 | seq)
}

/// What an `ok` operation returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A write without a value (a tenant created).
    Done,
    /// The workload's tenants a read saw, by [`tenant_key`], sorted
    /// (compact: a read late in a run sees thousands).
    Tenants(Vec<u64>),
    /// The count an increment produced.
    Count(u64),
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied; its value.
    Ok(Value),
    /// Certainly not applied (refused before it was sent or by a 4xx); why.
    Fail(String),
    /// Maybe applied; why it is not known.
    Unknown(String),
}

/// One operation of the history. Times are microseconds since the
/// history began.
#[derive(Debug, Clone)]
pub struct Op {
    /// The client process that ran it (one operation at a time each).
    pub process: usize,
    /// What it asked for.
    pub call: Call,
    /// When it was sent.
    pub invoke_us: u64,
    /// When its answer arrived (for `unknown`: when the client gave up).
    pub complete_us: u64,
    /// How it ended.
    pub outcome: Outcome,
}

impl Op {
    /// Whether it ended `ok`.
    pub fn is_ok(&self) -> bool {
        matches!(self.outcome, Outcome::Ok(_))
    }
}

/// The operations of a run, recorded by many client tasks at once.
#[derive(Debug)]
pub struct History {
    start: Instant,
    ops: Mutex<Vec<Op>>,
}

impl Default for History {
    fn default() -> Self {
        History::new()
    }
}

impl History {
    /// An empty history starting now.
    pub fn new() -> History {
        History {
            start: Instant::now(),
            ops: Mutex::new(Vec::new()),
        }
    }

    /// Microseconds since the history began.
    pub fn now_us(&self) -> u64 {
        duration_us(self.start.elapsed())
    }

    /// Records an operation that has ended.
    pub fn record(&self, op: Op) {
        self.ops.lock().unwrap_or_else(|p| p.into_inner()).push(op);
    }

    /// Every operation recorded so far, in invocation order.
    pub fn ops(&self) -> Vec<Op> {
        let mut ops = self.ops.lock().unwrap_or_else(|p| p.into_inner()).clone();
        ops.sort_by_key(|op| op.invoke_us);
        ops
    }
}

fn duration_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
