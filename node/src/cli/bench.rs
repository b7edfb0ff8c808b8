//! `nexus bench`: runs the node's benchmarks and prints the figures.

use clap::Args;

use super::output::print_json;
use super::progress;
use crate::bench::{run as run_bench, BenchOptions, Group};
use nexus_errors::UserError;

/// Arguments of `nexus bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A short run (seconds) with small counts, to check the harness.
    #[arg(long)]
    pub quick: bool,
    /// Sandboxes to dock for the density figures.
    #[arg(long)]
    pub docked: Option<usize>,
    /// Of those, sandboxes to call round-robin (and at once) for the
    /// density figures.
    #[arg(long)]
    pub active: Option<usize>,
    /// Seconds of the density run's round-robin load.
    #[arg(long, value_name = "SECONDS")]
    pub density_seconds: Option<u64>,
    /// MiB of workbook data the data-plane scenario moves.
    #[arg(long, value_name = "MIB")]
    pub move_mib: Option<usize>,
    /// Run only these scenario groups (repeatable; default: all).
    #[arg(long, value_enum)]
    pub only: Vec<Group>,
}

/// Runs the benchmarks.
pub async fn run(args: BenchArgs, json: bool) -> Result<(), UserError> {
    let mut options = if args.quick {
        BenchOptions::quick()
    } else {
        BenchOptions::default()
    };
    options.docked = args.docked.unwrap_or(options.docked);
    options.active = args.active.unwrap_or(options.active);
    options.density_seconds = args.density_seconds.unwrap_or(options.density_seconds);
    options.data_plane.mib = args.move_mib.unwrap_or(options.data_plane.mib);
    options.only = args.only;
    let bar = progress::steps(0);
    if json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let report = run_bench(&options, |step| {
        bar.set_length(step.total);
        bar.set_position(step.done);
        bar.set_message(step.name);
    })
    .await;
    bar.finish_and_clear();
    let report = report?;
    if json {
        print_json(&report);
    } else {
        report.print_table();
    }
    Ok(())
}
