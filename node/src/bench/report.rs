//! Benchmark figures beside their performance targets, for humans or as JSON.

use std::time::Duration;

use serde::Serialize;

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// What was measured.
    pub name: String,
    /// The measured value.
    pub value: f64,
    /// Its unit (`µs`, `ms`, `×copy`, `MiB`, `count`).
    pub unit: String,
    /// The target from the design (docs/benchmarks.md), in the same unit, if there is one.
    pub target: Option<f64>,
    /// Whether lower is better (latencies, ratios) or higher (counts).
    pub lower_is_better: bool,
    /// How it was measured.
    pub note: String,
}

impl Figure {
    /// Whether the value meets the target (`None` without a target).
    pub fn meets_target(&self) -> Option<bool> {
        self.target.map(|t| match self.lower_is_better {
            true => self.value <= t,
            false => self.value >= t,
        })
    }
}

/// Every figure of one `nexus bench` run, with the machine it ran on.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `nproc`, memory, kernel: where the figures came from.
    pub machine: String,
    /// The figures.
    pub figures: Vec<Figure>,
}

impl Report {
    /// Prints an aligned table: figure, value, target, verdict.
    pub fn print_table(&self) {
        println!("machine: {}", self.machine);
        println!(
            "{:<46} {:>14} {:>14}  result",
            "figure", "measured", "target"
        );
        for f in &self.figures {
            // A figure without a target leaves the target cells empty.
            let target = match f.target {
                Some(t) => format!(
                    "{:>10} {:<3}",
                    format!("{} {t}", if f.lower_is_better { "≤" } else { "≥" }),
                    f.unit
                ),
                None => " ".repeat(14),
            };
            let verdict = match f.meets_target() {
                Some(true) => "meets",
                Some(false) => "MISSES",
                None => "",
            };
            println!(
                "{:<46} {:>10.2} {:<3} {target} {verdict}",
                f.name, f.value, f.unit
            );
        }
    }
}

/// The p-th percentile (0-100) of `samples`, in microseconds.
pub fn percentile_us(samples: &mut [Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort();
    let rank = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[rank.min(samples.len() - 1)].as_secs_f64() * 1e6
}

/// This process's resident set size in MiB (Linux; 0 elsewhere).
pub fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A one-line description of this machine.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} cores, {mem:.0} GiB, Linux {}", kernel.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_verdicts() {
        let mut samples: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(percentile_us(&mut samples, 50.0).round(), 51.0);
        assert_eq!(percentile_us(&mut samples, 99.0).round(), 99.0);
        let f = Figure {
            name: "x".into(),
            value: 2.0,
            unit: "ms".into(),
            target: Some(1.0),
            lower_is_better: true,
            note: String::new(),
        };
        assert_eq!(f.meets_target(), Some(false));
    }
}
