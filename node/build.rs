//! Links the release `nexus` binary with the code it runs to start and idle
//! laid out together at the front of `.text`, in the order
//! `link/startup-order.txt` lists (made by `scripts/startup-order.sh`).
//!
//! An idle node's memory is mostly this binary's code as Linux maps it, and
//! Linux maps a file's code a whole page-cache folio (up to megabytes) at a
//! time: start-up code spread over the 34 MiB `.text` made an idle node
//! hold 15–23 MiB of it; the same functions side by side take under 5 MiB.
//!
//! The relative relocations are packed too (RELR) where the machine's glibc
//! reads them: the loader reads them all at every start.
//!
//! Only for the release profile on x86_64 Linux with Rust's default linker
//! (LLD, whose `--symbol-ordering-file` this is): a linker chosen by
//! `RUSTC_LINKER` or flags naming one is left alone. Symbols the list names
//! that a build no longer has are skipped without a warning; a stale list
//! only orders less.

use std::env;
use std::path::Path;
use std::process::Command;

const ORDER: &str = "link/startup-order.txt";

fn main() {
    println!("cargo:rerun-if-changed={ORDER}");
    let release = env::var("PROFILE").is_ok_and(|p| p == "release");
    let target = env::var("TARGET").unwrap_or_default();
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let default_linker = env::var_os("RUSTC_LINKER").is_none() && !flags.contains("link");
    if !(release && target == "x86_64-unknown-linux-gnu" && default_linker) {
        return;
    }
    let manifest = env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let order = Path::new(&manifest).join(ORDER);
    if order.is_file() {
        println!(
            "cargo:rustc-link-arg-bin=nexus=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bin=nexus=-Wl,--no-warn-symbol-ordering");
    }
    if glibc_reads_packed_relocations() {
        // The loader reads every relocation at start: 40,000 relative ones
        // took 0.9 MiB of `.rela.dyn`, packed (RELR) they take a few KiB.
        println!("cargo:rustc-link-arg-bin=nexus=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether this machine's glibc (2.36 or later) loads binaries with packed
/// relative relocations; a binary linked with them refuses to start on an
/// older one.
fn glibc_reads_packed_relocations() -> bool {
    let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    // "glibc 2.36"
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.trim().strip_prefix("glibc ").unwrap_or_default();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (2, 36)
}
