//! The fetch workbook: `fetch URL` gets the URL through the host's `net`
//! broker and prints the status line and the body. When the broker refuses
//! or fails, it prints the error and exits with the ABI code's magnitude
//! (10 for a loopback address, 11 for a private one...; docs/guest-abi.md).

use std::process::ExitCode;

use nexus_guest::net;

fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: fetch URL");
        return ExitCode::from(2);
    };
    match net::get(&url) {
        Ok(response) => {
            println!("{}", response.status);
            print!("{}", String::from_utf8_lossy(&response.body));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fetch {url}: {e}");
            ExitCode::from(u8::try_from(-e.code()).unwrap_or(1))
        }
    }
}
