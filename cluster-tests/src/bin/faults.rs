//! `nexus-faults`: the fault suite over the docker-compose cluster
//! (scripts/faults.sh builds the image and the counter workbook, then runs
//! this). Prints the summary, writes it to `--out`, exits 1 on an anomaly.

use std::path::PathBuf;
use std::time::Duration;

use nexus_cluster_tests::suite::{self, SuiteOptions};
use nexus_cluster_tests::workload::Workload;

fn usage() -> ! {
    eprintln!(
        "usage: nexus-faults --counter WORKBOOK [--rounds N] [--hold SECS] [--nodes N] [--out FILE] [-f COMPOSE.yml]..."
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut files = Vec::new();
    let (mut rounds, mut hold, mut nodes, mut out, mut counter) = (10, 4, 3, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "-f" => files.push(PathBuf::from(value())),
            "--rounds" => rounds = value().parse().unwrap_or_else(|_| usage()),
            "--hold" => hold = value().parse().unwrap_or_else(|_| usage()),
            "--nodes" => nodes = value().parse().unwrap_or_else(|_| usage()),
            "--out" => out = Some(PathBuf::from(value())),
            "--counter" => counter = Some(PathBuf::from(value())),
            _ => usage(),
        }
    }
    if files.is_empty() {
        files.push(PathBuf::from("docker-compose.yml"));
    }
    let options = SuiteOptions {
        files,
        nodes,
        rounds,
        hold: Duration::from_secs(hold),
        counter_workbook: counter.unwrap_or_else(|| usage()),
        workload: Workload::default(),
    };
    let summary = match suite::run(&options).await {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!("nexus-faults: {e}");
            std::process::exit(1);
        }
    };
    let report = summary.report();
    print!("{report}");
    if let Some(out) = out {
        if let Err(e) = std::fs::write(&out, &report) {
            eprintln!("nexus-faults: cannot write {}: {e}", out.display());
        }
    }
    std::process::exit(if summary.anomalies() == 0 { 0 } else { 1 });
}
