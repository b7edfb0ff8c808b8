//! `fanout KERNEL WIDTH TIER INPUT...`: maps kernel `KERNEL` of this
//! workbook over the inputs through `nexus_guest::fabric` (width 0: the
//! default; tier `instance`, `process`, `node` or `container`) and prints one line per
//! input, in input order: `INDEX ok OUTPUT` or `INDEX err CODE MESSAGE`.
//! A call that fails as a whole prints `error: ERROR` and exits 3; bad
//! arguments exit 2.

use std::process::ExitCode;

use nexus_guest::fabric::{self, Options, Tier};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(kernel), Some(width), Some(tier)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("usage: fanout KERNEL WIDTH TIER INPUT...");
        return ExitCode::from(2);
    };
    let tier = match tier.as_str() {
        "instance" => Tier::Instance,
        "process" => Tier::Process,
        "node" => Tier::Node,
        "container" => Tier::Container,
        other => {
            eprintln!("unknown tier {other:?}");
            return ExitCode::from(2);
        }
    };
    let Ok(width) = width.parse::<u32>() else {
        eprintln!("width {width:?} is not a number");
        return ExitCode::from(2);
    };
    let inputs = args[3..].iter().map(|a| a.as_bytes().to_vec());
    let results = if width == 0 && tier == Tier::Instance {
        fabric::map(kernel, inputs)
    } else {
        fabric::map_with(kernel, inputs, Options { width, tier })
    };
    match results {
        Ok(results) => {
            for (index, result) in results.iter().enumerate() {
                match result {
                    Ok(output) => println!("{index} ok {}", String::from_utf8_lossy(output)),
                    Err(failure) => println!("{index} err {} {}", failure.code, failure.message),
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("error: {e}");
            ExitCode::from(3)
        }
    }
}
