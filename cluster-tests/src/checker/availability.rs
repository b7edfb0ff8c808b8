//! How long a fault kept writes from succeeding: the longest stretch of a
//! fault's window in which no write completed `ok`.

/// The longest time in `[from, to]` without a completion from
/// `ok_completions` (sorted), counting from `from` to the first completion
/// after it, between completions, and from the last to `to`.
pub fn longest_gap(ok_completions: &[u64], from: u64, to: u64) -> u64 {
    let mut last = from;
    let mut longest = 0;
    for &at in ok_completions.iter().filter(|&&at| at > from) {
        longest = longest.max(at.min(to) - last);
        last = at;
        if at >= to {
            return longest;
        }
    }
    longest.max(to.saturating_sub(last))
}

#[cfg(test)]
mod tests {
    use super::longest_gap;

    #[test]
    fn the_gap_runs_from_the_fault_to_the_first_write_and_between_writes() {
        assert_eq!(longest_gap(&[5, 40, 50, 90, 200], 10, 100), 40);
        assert_eq!(longest_gap(&[5, 15, 95], 10, 100), 80);
        assert_eq!(longest_gap(&[5], 10, 100), 90);
        assert_eq!(longest_gap(&[], 10, 100), 90);
    }
}
