//! The wordcount kernel: for each input, answers `lines words bytes` (as
//! `wc` does). One instance serves many calls (the kernel call shape).

nexus_guest::kernel!(count);

fn count(input: &[u8]) -> Vec<u8> {
    let lines = input.iter().filter(|b| **b == b'\n').count();
    let words = input
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .count();
    format!("{lines} {words} {}", input.len()).into_bytes()
}
