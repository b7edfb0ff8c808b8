//! `nexus workbook new | pack | inspect | export | sign | verify`: workbook
//! files on this machine (no node needed).

mod signing;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde::Serialize;

use super::output::print_json;
use super::progress;
use nexus_errors::{Coded, UserError};
use nexus_workbook::{self, Inspection, Workbook, FORMAT_VERSION};

/// Workbook file commands.
#[derive(Debug, Subcommand)]
pub enum WorkbookCommand {
    /// Create an empty workbook file.
    New {
        /// Workbook name: 1-63 characters from a-z, A-Z, 0-9, '.', '-' and '_'.
        name: String,
        /// Output file [default: ./NAME.workbook]; never overwritten.
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
    /// Build a workbook from DIR/workbook.toml (replaces OUT atomically).
    Pack {
        /// Directory holding workbook.toml.
        dir: PathBuf,
        /// Output file.
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Validate a workbook and summarise it; never modifies the file.
    Inspect {
        /// The workbook file.
        file: PathBuf,
    },
    /// Write a copy with only the workspace volume (memory and tmp stripped).
    Export {
        /// The workbook file (only read).
        file: PathBuf,
        /// Output file (replaced atomically).
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Sign the workbook's code (name, entry, modules) with your signer key;
    /// prints the signer's did:key.
    Sign {
        /// The workbook file (a signature is added to it).
        file: PathBuf,
        /// Signer key file [default: $NEXUS_SIGNER_KEY or ~/.nexus/signer.key];
        /// created (mode 0600) if missing.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Check every signature against the workbook's code; prints the signers.
    Verify {
        /// The workbook file (only read).
        file: PathBuf,
        /// Also require a valid signature by this did:key.
        #[arg(long)]
        signer: Option<String>,
    },
}

/// `--json` answer of `new`.
#[derive(Debug, Serialize)]
struct Created<'a> {
    path: &'a Path,
    name: &'a str,
    format_version: u32,
}

/// `--json` answer of `export`.
#[derive(Debug, Serialize)]
struct Exported<'a> {
    source: &'a Path,
    out: &'a Path,
    bytes: u64,
}

/// Runs a workbook command, printing human output or JSON.
pub fn run(cmd: WorkbookCommand, json: bool) -> Result<(), UserError> {
    let user = |e: nexus_workbook::WorkbookError| e.to_user_error();
    match cmd {
        WorkbookCommand::New { name, out } => {
            let out = out.unwrap_or_else(|| PathBuf::from(format!("{name}.workbook")));
            Workbook::create(&out, &name)
                .and_then(Workbook::close)
                .map_err(user)?;
            if json {
                print_json(&Created {
                    path: &out,
                    name: &name,
                    format_version: FORMAT_VERSION,
                });
            } else {
                println!(
                    "created {} (workbook {name}, format {FORMAT_VERSION})",
                    out.display()
                );
            }
        }
        WorkbookCommand::Pack { dir, out } => {
            let bar = progress::bytes(0, "packing");
            if json {
                bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            let packed = nexus_workbook::pack_with_progress(&dir, &out, |p| {
                bar.set_length(p.total_bytes);
                bar.set_position(p.done_bytes);
            });
            bar.finish_and_clear();
            let inspection = packed.map_err(user)?;
            if json {
                print_json(&inspection);
            } else {
                println!("packed {} -> {}", dir.display(), out.display());
                print!("{}", render(&out, &inspection));
            }
        }
        WorkbookCommand::Inspect { file } => {
            let inspection = Workbook::open_read_only(&file)
                .and_then(|wb| wb.inspect())
                .map_err(user)?;
            if json {
                print_json(&inspection);
            } else {
                print!("{}", render(&file, &inspection));
            }
        }
        WorkbookCommand::Export { file, out } => {
            Workbook::open_read_only(&file)
                .and_then(|wb| wb.export(&out))
                .map_err(user)?;
            let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            if json {
                print_json(&Exported {
                    source: &file,
                    out: &out,
                    bytes,
                });
            } else {
                println!(
                    "exported {} -> {} ({}, workspace only)",
                    file.display(),
                    out.display(),
                    fmt_bytes(bytes)
                );
            }
        }
        WorkbookCommand::Sign { file, key } => signing::sign(&file, key, json)?,
        WorkbookCommand::Verify { file, signer } => signing::verify(&file, signer, json)?,
    }
    Ok(())
}

/// The human form of an inspection: aligned label/value lines, then one
/// aligned row per module, volume and schedule.
fn render(path: &Path, ins: &Inspection) -> String {
    let mut s = String::new();
    let entry = match (&ins.entry, ins.modules.as_slice()) {
        (Some(entry), _) => entry.clone(),
        (None, [only]) => format!("{} (unset: the only module)", only.name),
        (None, _) => "(unset)".to_string(),
    };
    let _ = writeln!(s, "{}", path.display());
    let _ = writeln!(s, "  name       {}", ins.name);
    let _ = writeln!(s, "  format     {}", ins.format_version);
    let _ = writeln!(s, "  entry      {entry}");
    let _ = writeln!(s, "  profile    {}", ins.profile);

    let _ = writeln!(s, "  modules    {}", ins.modules.len());
    let rows: Vec<[String; 3]> = ins
        .modules
        .iter()
        .map(|m| {
            let short = m.sha256.get(..12).unwrap_or(&m.sha256).to_string();
            [m.name.clone(), short, fmt_bytes(m.size)]
        })
        .collect();
    table(&mut s, &rows);

    let _ = writeln!(s, "  volumes");
    let rows: Vec<[String; 3]> = ins
        .volumes
        .iter()
        .map(|v| {
            let files = if v.files == 1 { "file" } else { "files" };
            [
                v.volume.to_string(),
                format!("{} {files}", v.files),
                fmt_bytes(v.bytes),
            ]
        })
        .collect();
    table(&mut s, &rows);

    let _ = writeln!(s, "  kv         {} entries", ins.kv_entries);
    let _ = writeln!(s, "  schedules  {}", ins.schedules.len());
    let rows: Vec<[String; 4]> = ins
        .schedules
        .iter()
        .map(|sc| {
            [
                sc.name.clone(),
                sc.cron.clone(),
                format!("entry {}", sc.entry.as_deref().unwrap_or("(default)")),
                format!("input {}", fmt_bytes(sc.input_bytes)),
            ]
        })
        .collect();
    table(&mut s, &rows);
    let _ = writeln!(s, "  env        {}", ins.env.len());
    let rows: Vec<[String; 1]> = ins
        .env
        .iter()
        .map(|(name, value)| [format!("{name}={value}")])
        .collect();
    table(&mut s, &rows);
    s
}

/// Appends `rows` indented by 4, each column padded to its widest cell.
fn table<const N: usize>(s: &mut String, rows: &[[String; N]]) {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in rows {
        let mut line = String::from("    ");
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ");
            }
        }
        let _ = writeln!(s, "{}", line.trim_end());
    }
}

/// `512 B`, `3.0 KiB`, `1.5 MiB`, `2.0 GiB`.
fn fmt_bytes(n: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use nexus_workbook::{ModuleInfo, Schedule, Volume, VolumeStats};

    #[test]
    fn bytes_are_human() {
        assert_eq!(fmt_bytes(0), "0 B");
        assert_eq!(fmt_bytes(1023), "1023 B");
        assert_eq!(fmt_bytes(3 * 1024), "3.0 KiB");
        assert_eq!(fmt_bytes(3 << 20 | 1 << 19), "3.5 MiB");
        assert_eq!(fmt_bytes(5 << 40), "5120.0 GiB");
    }

    #[test]
    fn inspection_renders_aligned() {
        let ins = Inspection {
            format_version: 1,
            name: "hello".into(),
            entry: Some("hello".into()),
            profile: "compute".into(),
            modules: vec![
                ModuleInfo {
                    name: "hello".into(),
                    sha256: "ab".repeat(32),
                    size: 2048,
                },
                ModuleInfo {
                    name: "h".into(),
                    sha256: "cd".repeat(32),
                    size: 10,
                },
            ],
            volumes: Volume::ALL
                .into_iter()
                .map(|volume| VolumeStats {
                    volume,
                    files: 1,
                    bytes: 3,
                })
                .collect(),
            kv_entries: 2,
            schedules: vec![Schedule {
                name: "nightly".into(),
                cron: "0 3 * * *".into(),
                entry: None,
                input_bytes: 20,
            }],
            env: [("LANG".to_string(), "C".to_string())].into(),
        };
        let text = render(Path::new("x.workbook"), &ins);
        assert!(
            text.ends_with(
                "  env        1
    LANG=C
"
            ),
            "{text}"
        );
        assert!(
            text.contains("    hello  abababababab  2.0 KiB\n"),
            "{text}"
        );
        assert!(text.contains("    h      cdcdcdcdcdcd  10 B\n"), "{text}");
        assert!(text.contains("    workspace  1 file  3 B\n"), "{text}");
        assert!(text.contains("    tmp        1 file  3 B\n"), "{text}");
        assert!(
            text.contains("    nightly  0 3 * * *  entry (default)  input 20 B\n"),
            "{text}"
        );
    }

    #[test]
    fn new_then_inspect_then_export() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("t.workbook");
        let new = WorkbookCommand::New {
            name: "t".into(),
            out: Some(file.clone()),
        };
        run(new, true).expect("new");
        run(WorkbookCommand::Inspect { file: file.clone() }, false).expect("inspect");
        let out = dir.path().join("shipped.workbook");
        let export = WorkbookCommand::Export {
            file: file.clone(),
            out: out.clone(),
        };
        run(export, true).expect("export");
        assert!(out.is_file());
        let again = WorkbookCommand::New {
            name: "t".into(),
            out: Some(file),
        };
        let err = run(again, false).expect_err("refuses to overwrite");
        assert_eq!(err.code, "WORKBOOK_WRITE_FAILED");
    }
}
