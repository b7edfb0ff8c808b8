//! The notes workbook: `notes add TEXT...` saves a note as a file in the
//! workspace volume, `notes list` prints them in order, `notes clear`
//! removes them all. The notes ship with the workbook when it is exported.

use std::process::ExitCode;

use nexus_guest::vfs::{self, Volume};
use nexus_guest::Error;

const DIR: &str = "notes/";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("add") if args.len() > 1 => add(&args[1..].join(" ")),
        Some("list") => list(),
        Some("clear") => clear(),
        _ => {
            eprintln!("usage: notes add TEXT... | notes list | notes clear");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("notes: {e}");
            ExitCode::FAILURE
        }
    }
}

fn add(text: &str) -> Result<(), Error> {
    let n = vfs::list(Volume::Workspace, DIR)?.len() + 1;
    let path = format!("{DIR}{n:04}.txt");
    vfs::write(Volume::Workspace, &path, text.as_bytes())?;
    println!("saved note {n}");
    Ok(())
}

fn list() -> Result<(), Error> {
    for path in vfs::list(Volume::Workspace, DIR)? {
        let text = vfs::read(Volume::Workspace, &path)?.unwrap_or_default();
        println!(
            "{}: {}",
            path.trim_start_matches(DIR),
            String::from_utf8_lossy(&text)
        );
    }
    Ok(())
}

fn clear() -> Result<(), Error> {
    let paths = vfs::list(Volume::Workspace, DIR)?;
    for path in &paths {
        vfs::delete(Volume::Workspace, path)?;
    }
    println!("removed {} notes", paths.len());
    Ok(())
}
