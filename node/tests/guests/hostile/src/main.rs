//! A hostile guest: each command attacks the host in one way. The node's
//! tests run them and check that the node refuses, stops or bounds each one
//! and keeps serving.
//!
//! - `loop`: spins forever (CPU limit)
//! - `membomb`: allocates until the memory cap
//! - `flood`: writes to stdout without end (output cap)
//! - `recurse`: unbounded recursion (stack overflow trap)
//! - `open PATH`: opens a host path through WASI (no preopens: fails)
//! - `queue-flood NAME N`: pushes N messages, prints how many went in and the error
//! - `queue-push NAME MSG`, `queue-pop NAME`, `queue-len NAME`
//! - `sign MSG`: prints the hex signature; `pubkey`: the hex public key
//! - `exclusive NAME MS`: enters queue NAME, spins MS ms, prints `alone` if
//!   no other call entered meanwhile (else `overlap`), leaves

use std::hint::black_box;
use std::io::Write;
use std::process::ExitCode;

use nexus_guest::{clock, queue, sign, Error};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let result = match arg(0) {
        "loop" => spin(),
        "membomb" => membomb(),
        "flood" => flood(),
        "recurse" => {
            println!("depth {}", recurse(black_box(1)));
            Ok(())
        }
        "open" => open(arg(1)),
        "queue-flood" => queue_flood(arg(1), arg(2).parse().unwrap_or(0)),
        "queue-push" => queue::push(arg(1), arg(2).as_bytes()),
        "queue-pop" => queue::pop(arg(1)).map(|m| match m {
            Some(m) => println!("{}", String::from_utf8_lossy(&m)),
            None => println!("(empty)"),
        }),
        "queue-len" => queue::len(arg(1)).map(|n| println!("{n}")),
        "sign" => sign::sign(arg(1).as_bytes()).map(|s| println!("{}", hex(&s))),
        "pubkey" => sign::public_key().map(|k| println!("{}", hex(&k))),
        "exclusive" => exclusive(arg(1), arg(2).parse().unwrap_or(0)),
        other => {
            eprintln!("hostile: unknown command {other:?}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("error {}", e.code());
            ExitCode::FAILURE
        }
    }
}

fn spin() -> Result<(), Error> {
    let mut n = 0u64;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

fn membomb() -> Result<(), Error> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 1 << 20]);
        black_box(&hoard);
    }
}

fn flood() -> Result<(), Error> {
    let line = [b'x'; 4096];
    let mut out = std::io::stdout();
    loop {
        if out.write_all(&line).is_err() {
            return Ok(());
        }
    }
}

/// Recursion without end, its state in wasm locals (not on Rust's shadow
/// stack in linear memory), so the engine's call stack runs out first.
fn recurse(depth: u64) -> u64 {
    if depth == u64::MAX {
        return 0;
    }
    recurse(black_box(depth + 1)).wrapping_mul(depth | 1)
}

fn open(path: &str) -> Result<(), Error> {
    match std::fs::read(path) {
        Ok(data) => println!("read {} bytes", data.len()),
        Err(e) => println!("open failed: {}", e.kind()),
    }
    Ok(())
}

fn queue_flood(name: &str, n: usize) -> Result<(), Error> {
    for i in 0..n {
        if let Err(e) = queue::push(name, format!("m{i}").as_bytes()) {
            println!("pushed {i}, then error {}", e.code());
            return Ok(());
        }
    }
    println!("pushed {n}");
    Ok(())
}

fn exclusive(name: &str, ms: i64) -> Result<(), Error> {
    queue::push(name, b"in")?;
    let mut alone = queue::len(name)? == 1;
    let until = clock::monotonic_ns() + ms * 1_000_000;
    while clock::monotonic_ns() < until {
        alone &= queue::len(name)? == 1;
    }
    queue::pop(name)?;
    println!("{}", if alone { "alone" } else { "overlap" });
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
