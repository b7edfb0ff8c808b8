//! Linearizability by search: the Wing–Gong algorithm with Lowe's
//! memoisation (the "WGL" search of Knossos and Porcupine). Operations are
//! tried in every order their real-time intervals allow, against a
//! sequential model; a (set of linearized operations, model state) pair
//! already explored is not explored again.

use std::collections::HashSet;
use std::hash::Hash;

/// A sequential specification: the state after one operation.
pub trait Model: Clone + Eq + Hash {
    /// What an operation asks for.
    type Input;
    /// What it returned.
    type Output;
    /// The state after `input` returned `output` from this state (`None`
    /// output: unknown, any is possible), or `None` if the model cannot
    /// return that.
    fn step(&self, input: &Self::Input, output: Option<&Self::Output>) -> Option<Self>;
}

/// One operation: its interval and what it did.
#[derive(Debug, Clone)]
pub struct Entry<I, O> {
    /// When it was invoked.
    pub invoke: u64,
    /// When it returned; `None`: never (it may take effect at any later time).
    pub complete: Option<u64>,
    /// What it asked for.
    pub input: I,
    /// What it returned; `None`: unknown.
    pub output: Option<O>,
}

/// The search's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Some order of the operations is legal for the model.
    Linearizable,
    /// No order is.
    NotLinearizable,
    /// The search passed its step budget undecided.
    GaveUp,
}

/// How many steps one search may take before it gives up.
const STEP_BUDGET: u64 = 50_000_000;

#[derive(Clone, Copy)]
enum Event {
    Call(usize),
    Return(usize),
}

/// The events in a doubly linked list that can lift out an operation's
/// call and return and put them back (in reverse order).
struct Events {
    kind: Vec<Event>,
    /// Index of the other event of the same operation.
    partner: Vec<usize>,
    next: Vec<usize>,
    prev: Vec<usize>,
}

/// The list's head sentinel (the last slot); `NONE` ends it.
const NONE: usize = usize::MAX;

impl Events {
    fn new<I, O>(entries: &[Entry<I, O>]) -> Events {
        // Calls sort before returns at the same time: touching operations
        // count as concurrent (the lenient reading).
        let mut timed: Vec<(u64, u8, Event)> = Vec::with_capacity(entries.len() * 2);
        for (i, e) in entries.iter().enumerate() {
            timed.push((e.invoke, 0, Event::Call(i)));
            timed.push((e.complete.unwrap_or(u64::MAX), 1, Event::Return(i)));
        }
        timed.sort_by_key(|&(at, order, _)| (at, order));
        let n = timed.len();
        let kind: Vec<Event> = timed.into_iter().map(|(_, _, e)| e).collect();
        let mut call_at = vec![0; entries.len()];
        let mut return_at = vec![0; entries.len()];
        for (at, event) in kind.iter().enumerate() {
            match *event {
                Event::Call(i) => call_at[i] = at,
                Event::Return(i) => return_at[i] = at,
            }
        }
        let partner = kind
            .iter()
            .map(|e| match *e {
                Event::Call(i) => return_at[i],
                Event::Return(i) => call_at[i],
            })
            .collect();
        // Slot n is the head: head -> 0 -> 1 -> ... -> n-1.
        let mut next: Vec<usize> = (1..=n).collect();
        if let Some(last) = next.last_mut() {
            *last = NONE;
        }
        next.push(if n == 0 { NONE } else { 0 });
        let mut prev: Vec<usize> = (0..n).map(|at| if at == 0 { n } else { at - 1 }).collect();
        prev.push(NONE);
        Events {
            kind,
            partner,
            next,
            prev,
        }
    }

    fn head(&self) -> usize {
        self.kind.len()
    }

    fn unlink(&mut self, at: usize) {
        let (prev, next) = (self.prev[at], self.next[at]);
        self.next[prev] = next;
        if next != NONE {
            self.prev[next] = prev;
        }
    }

    fn relink(&mut self, at: usize) {
        let (prev, next) = (self.prev[at], self.next[at]);
        self.next[prev] = at;
        if next != NONE {
            self.prev[next] = at;
        }
    }

    /// Takes a call and its return out of the list.
    fn lift(&mut self, call: usize) {
        self.unlink(call);
        self.unlink(self.partner[call]);
    }

    /// Puts back what [`Events::lift`] took out (the last lifted first).
    fn unlift(&mut self, call: usize) {
        self.relink(self.partner[call]);
        self.relink(call);
    }
}

/// Whether `entries` are a linearizable history of `model` from `init`.
pub fn check<M: Model>(init: M, entries: &[Entry<M::Input, M::Output>]) -> Verdict {
    let mut events = Events::new(entries);
    let head = events.head();
    let words = entries.len().div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut seen: HashSet<(Vec<u64>, M)> = HashSet::new();
    let mut stack: Vec<(usize, M)> = Vec::new();
    let mut state = init;
    let mut at = events.next[head];
    let mut steps = 0u64;
    while events.next[head] != NONE {
        steps += 1;
        if steps > STEP_BUDGET {
            return Verdict::GaveUp;
        }
        match events.kind[at] {
            Event::Call(i) => {
                let entry = &entries[i];
                let stepped = state.step(&entry.input, entry.output.as_ref());
                if let Some(next_state) = stepped {
                    linearized[i / 64] |= 1 << (i % 64);
                    if seen.insert((linearized.clone(), next_state.clone())) {
                        stack.push((at, std::mem::replace(&mut state, next_state)));
                        events.lift(at);
                        at = events.next[head];
                        continue;
                    }
                    linearized[i / 64] &= !(1 << (i % 64));
                }
                at = events.next[at];
            }
            Event::Return(_) => {
                let Some((call, previous)) = stack.pop() else {
                    return Verdict::NotLinearizable;
                };
                if let Event::Call(i) = events.kind[call] {
                    linearized[i / 64] &= !(1 << (i % 64));
                }
                state = previous;
                events.unlift(call);
                at = events.next[call];
            }
        }
    }
    Verdict::Linearizable
}

#[cfg(test)]
mod tests {
    use super::{check, Entry, Model, Verdict};

    /// A read/write register of one number, 0 at first.
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    struct Register(u64);

    enum Op {
        Write(u64),
        Read,
    }

    impl Model for Register {
        type Input = Op;
        type Output = u64;
        fn step(&self, input: &Op, output: Option<&u64>) -> Option<Register> {
            match (input, output) {
                (Op::Write(v), _) => Some(Register(*v)),
                (Op::Read, Some(seen)) if *seen != self.0 => None,
                (Op::Read, _) => Some(self.clone()),
            }
        }
    }

    fn op(invoke: u64, complete: Option<u64>, input: Op, output: Option<u64>) -> Entry<Op, u64> {
        Entry {
            invoke,
            complete,
            input,
            output,
        }
    }

    #[test]
    fn a_read_overlapping_a_write_may_see_either_value() {
        for seen in [0, 1] {
            let history = [
                op(0, Some(10), Op::Write(1), None),
                op(5, Some(15), Op::Read, Some(seen)),
            ];
            assert_eq!(
                check(Register(0), &history),
                Verdict::Linearizable,
                "read saw {seen}"
            );
        }
    }

    #[test]
    fn a_read_after_a_completed_write_must_see_it() {
        let history = [
            op(0, Some(10), Op::Write(1), None),
            op(11, Some(15), Op::Read, Some(0)),
        ];
        assert_eq!(check(Register(0), &history), Verdict::NotLinearizable);
    }

    #[test]
    fn two_reads_cannot_see_a_write_then_not_see_it() {
        // Both reads overlap the write, but the second starts after the
        // first ended: once seen, the new value stays.
        let history = [
            op(0, Some(100), Op::Write(1), None),
            op(10, Some(20), Op::Read, Some(1)),
            op(30, Some(40), Op::Read, Some(0)),
        ];
        assert_eq!(check(Register(0), &history), Verdict::NotLinearizable);
    }

    #[test]
    fn a_write_that_never_returned_may_take_effect_late_or_not_at_all() {
        let late = [
            op(0, None, Op::Write(1), None),
            op(10, Some(20), Op::Read, Some(0)),
            op(30, Some(40), Op::Read, Some(1)),
        ];
        assert_eq!(check(Register(0), &late), Verdict::Linearizable);
        let never = [
            op(0, None, Op::Write(1), None),
            op(10, Some(20), Op::Read, Some(0)),
        ];
        assert_eq!(check(Register(0), &never), Verdict::Linearizable);
    }

    #[test]
    fn an_empty_history_is_linearizable() {
        assert_eq!(check(Register(0), &[]), Verdict::Linearizable);
    }

    #[test]
    fn the_search_backtracks_through_concurrent_writes() {
        // Writes of 1 and 2 overlap; reads see 2 then 1: only the order
        // write 2, read, write 1, read works.
        let history = [
            op(0, Some(50), Op::Write(1), None),
            op(0, Some(50), Op::Write(2), None),
            op(10, Some(20), Op::Read, Some(2)),
            op(30, Some(60), Op::Read, Some(1)),
        ];
        assert_eq!(check(Register(0), &history), Verdict::Linearizable);
        let impossible = [
            op(0, Some(5), Op::Write(1), None),
            op(0, Some(5), Op::Write(2), None),
            op(10, Some(20), Op::Read, Some(2)),
            op(30, Some(40), Op::Read, Some(1)),
        ];
        assert_eq!(check(Register(0), &impossible), Verdict::NotLinearizable);
    }
}
