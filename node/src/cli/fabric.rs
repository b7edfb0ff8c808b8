//! `nexus fabric`: fan a kernel out over many inputs (`run`), and list,
//! inspect and cancel jobs. `run` shows a progress bar on a terminal
//! (done/total, inputs/s, per-node counts, ETA) or JSON events with `--json`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use clap::{Args, Subcommand};
use serde_json::json;

use super::output::print_json;
use super::progress;
use crate::client::NodeClient;
use crate::encoding::Encoding;
use crate::fabric::request::{InputRange, DEFAULT_WIDTH};
use crate::fabric::{JobRequest, JobState, JobStatus, ResultLine, ResultOrder, Tier};
use nexus_errors::{Coded, ErrorCode, UserError};
use nexus_workbook::Workbook;

/// `nexus fabric ...`.
#[derive(Debug, Subcommand)]
pub enum FabricCommand {
    /// Run a kernel over many inputs; prints one JSON result per line.
    Run(RunArgs),
    /// List your fabric jobs on this node.
    Ls,
    /// Show a job's status and counts.
    Status {
        /// Job id.
        id: String,
    },
    /// Cancel a job: inputs not yet started never run.
    Cancel {
        /// Job id.
        id: String,
    },
}

/// `nexus fabric run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A workbook file (its module runs with in-memory data) or a sandbox id,
    /// `sb_…` (its module runs with the sandbox's data, on its home node).
    pub source: String,
    /// The kernel: a module name of the workbook.
    #[arg(long)]
    pub kernel: String,
    /// A JSONL file (each line one input) or a directory (each file one
    /// input, in name order).
    #[arg(long, conflicts_with = "range", required_unless_present = "range")]
    pub inputs: Option<PathBuf>,
    /// Inputs START..END (END excluded), each its number in decimal.
    #[arg(long, value_parser = parse_range)]
    pub range: Option<InputRange>,
    /// How many inputs run at once (1-256).
    #[arg(long, default_value_t = DEFAULT_WIDTH)]
    pub width: usize,
    /// How each input runs.
    #[arg(long, value_enum, default_value_t = Tier::Instance)]
    pub tier: Tier,
    /// Write each output to DIR/INDEX instead of printing results.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print results as they complete instead of in input order.
    #[arg(long)]
    pub unordered: bool,
    /// Stop the job at the first failed input.
    #[arg(long)]
    pub fail_fast: bool,
}

/// `START..END` of `--range`.
fn parse_range(text: &str) -> Result<InputRange, String> {
    let (start, end) = text
        .split_once("..")
        .ok_or_else(|| format!("{text:?} is not START..END"))?;
    let number = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|e| format!("{s:?} in {text:?}: {e}"))
    };
    Ok(InputRange {
        start: number(start)?,
        end: number(end)?,
    })
}

/// Runs a `nexus fabric` subcommand.
pub async fn run(
    client: &NodeClient,
    command: FabricCommand,
    json: bool,
) -> Result<i32, UserError> {
    match command {
        FabricCommand::Run(args) => run_job(client, args, json).await,
        FabricCommand::Ls => {
            let jobs = client.fabric_jobs().await?;
            if json {
                print_json(&jobs);
            } else {
                println!(
                    "{:<26} {:<10} {:<9} {:>9} {:>7}  KERNEL",
                    "ID", "STATE", "TIER", "DONE", "FAILED"
                );
                for job in jobs {
                    let done = format!("{}/{}", job.done, job.total);
                    let (state, tier) = (label(&job.state), label(&job.tier));
                    println!(
                        "{:<26} {state:<10} {tier:<9} {done:>9} {:>7}  {}",
                        job.id, job.failed, job.kernel
                    );
                }
            }
            Ok(0)
        }
        FabricCommand::Status { id } => {
            let job = client.fabric_job(&id).await?;
            if json {
                print_json(&job);
            } else {
                print_status(&job);
            }
            Ok(0)
        }
        FabricCommand::Cancel { id } => {
            let job = client.fabric_cancel(&id).await?;
            if json {
                print_json(&job);
            } else {
                println!(
                    "{} {}: {}/{} done",
                    job.id,
                    label(&job.state),
                    job.done,
                    job.total
                );
            }
            Ok(0)
        }
    }
}

/// A serde enum's name (`running`, `instance`).
fn label<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

async fn run_job(client: &NodeClient, args: RunArgs, json: bool) -> Result<i32, UserError> {
    let inputs = match &args.inputs {
        Some(path) => read_inputs(path)?
            .into_iter()
            .map(|bytes| BASE64.encode(bytes))
            .collect(),
        None => Vec::new(),
    };
    let mut request = kernel_request(&args.source, &args.kernel)?;
    request.inputs = inputs;
    request.inputs_encoding = Encoding::Base64;
    request.range = args.range;
    request.width = args.width;
    request.tier = args.tier;
    request.fail_fast = args.fail_fast;
    let order = if args.unordered {
        ResultOrder::Completion
    } else {
        ResultOrder::Input
    };
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).map_err(|e| cannot_write(dir, &e))?;
    }
    let mut stdout = std::io::stdout().lock();
    let mut write_error = None;
    let status = follow(client, &request, order, json, |line| {
        let written = match &args.out {
            Some(dir) if line.error.is_none() => line
                .output_bytes()
                .map_err(|e| std::io::Error::other(e.to_string()))
                .and_then(|bytes| std::fs::write(dir.join(line.index.to_string()), bytes)),
            Some(_) => Ok(()),
            None if json => Ok(()),
            None => serde_json::to_writer(&mut stdout, &line)
                .map_err(std::io::Error::other)
                .and_then(|()| stdout.write_all(b"\n")),
        };
        if let Err(e) = written {
            write_error.get_or_insert(e);
        }
    })
    .await?;
    if let Some(e) = write_error {
        let target = args.out.as_deref().unwrap_or(Path::new("stdout"));
        return Err(cannot_write(target, &e));
    }
    Ok(exit_code(&status))
}

/// 0 when every input gave an output, 2 when the job finished with failed
/// inputs, 1 when it stopped early (failed or cancelled).
pub fn exit_code(status: &JobStatus) -> i32 {
    match status.state {
        JobState::Done if status.failed == 0 => 0,
        JobState::Done => 2,
        _ => 1,
    }
}

/// The kernel part of a job: a sandbox's module, or a workbook file's
/// module under the workbook's profile.
pub fn kernel_request(source: &str, kernel: &str) -> Result<JobRequest, UserError> {
    let mut request = JobRequest {
        kernel: kernel.to_owned(),
        sandbox: None,
        module: None,
        profile: None,
        inputs: Vec::new(),
        inputs_encoding: Encoding::Utf8,
        range: None,
        width: DEFAULT_WIDTH,
        tier: Tier::Instance,
        fail_fast: false,
    };
    let path = Path::new(source);
    if !is_sandbox_id(source, path) {
        let workbook = Workbook::open_read_only(path).map_err(|e| e.to_user_error())?;
        let wasm = workbook
            .module_wasm(kernel)
            .map_err(|e| e.to_user_error())?;
        let meta = workbook.meta().map_err(|e| e.to_user_error())?;
        request.module = Some(BASE64.encode(wasm));
        request.profile = Some(meta.profile);
    } else {
        request.sandbox = Some(source.to_owned());
    }
    Ok(request)
}

/// Whether `source` names a sandbox (`sb_…`, and no such file) rather
/// than a workbook file or directory.
pub fn is_sandbox_id(source: &str, path: &Path) -> bool {
    source.starts_with("sb_") && !path.exists()
}

/// Submits `request`, follows its results in `order` (each to `on_result`)
/// with a progress bar, or JSON events with `json`, and reports failed
/// inputs on stderr. Returns the job's final status.
pub async fn follow(
    client: &NodeClient,
    request: &JobRequest,
    order: ResultOrder,
    json: bool,
    mut on_result: impl FnMut(&ResultLine),
) -> Result<JobStatus, UserError> {
    let started = Instant::now();
    let job = client.fabric_submit(request).await?;
    if json {
        println!("{}", json!({"event": "started", "job": job}));
    }
    let bar = progress::steps(job.total as u64);
    bar.set_message(job.id.clone());
    let mut per_node = std::collections::BTreeMap::<u64, usize>::new();
    let mut failures = Vec::new();
    client
        .fabric_results(&job.id, order, |line| {
            *per_node.entry(line.node).or_default() += 1;
            if let Some(error) = &line.error {
                failures.push((line.index, error.clone()));
            }
            if json {
                println!("{}", json!({"event": "result", "result": line}));
            }
            on_result(&line);
            bar.inc(1);
            let nodes: Vec<String> = per_node
                .iter()
                .map(|(n, c)| format!("node {n}: {c}"))
                .collect();
            bar.set_message(nodes.join(", "));
        })
        .await?;
    bar.finish_and_clear();
    let status = client.fabric_job(&job.id).await?;
    if json {
        println!("{}", json!({"event": "finished", "job": status}));
        return Ok(status);
    }
    for (index, error) in failures.iter().take(20) {
        eprintln!("input {index} failed: {}: {}", error.code, error.message);
    }
    if failures.len() > 20 {
        eprintln!("… and {} more failed inputs", failures.len() - 20);
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{} {}: {}/{} inputs, {} failed, {:.2} s ({:.0} inputs/s){}",
        status.id,
        label(&status.state),
        status.done,
        status.total,
        status.failed,
        seconds,
        status.done as f64 / seconds.max(1e-9),
        status
            .error
            .as_deref()
            .map(|e| format!("; {e}"))
            .unwrap_or_default()
    );
    Ok(status)
}

fn print_status(job: &JobStatus) {
    println!("id:       {}", job.id);
    println!("state:    {}", label(&job.state));
    println!("kernel:   {} ({})", job.kernel, job.sha256);
    println!("tier:     {} × {}", label(&job.tier), job.width);
    println!(
        "done:     {}/{} ({} failed)",
        job.done, job.total, job.failed
    );
    for (node, count) in &job.per_node {
        println!("node {node}:   {count}");
    }
    if let Some(error) = &job.error {
        println!("error:    {error}");
    }
}

/// The inputs in a JSONL file (each non-empty line) or a directory (each
/// regular file, in name order).
fn read_inputs(path: &Path) -> Result<Vec<Vec<u8>>, UserError> {
    let unreadable = |e: std::io::Error| {
        UserError::new(
            ErrorCode::RequestInvalid,
            format!("cannot read --inputs {}: {e}", path.display()),
        )
    };
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(unreadable)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        return files
            .iter()
            .map(|file| std::fs::read(file).map_err(unreadable))
            .collect();
    }
    let text = std::fs::read(path).map_err(unreadable)?;
    Ok(text
        .split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

fn cannot_write(path: &Path, error: &std::io::Error) -> UserError {
    UserError::new(
        ErrorCode::RequestInvalid,
        format!("cannot write results to {}: {error}", path.display()),
    )
}
