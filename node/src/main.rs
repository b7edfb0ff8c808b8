//! The `nexus` binary.

use clap::Parser;
use nexus_node::cli::{report_error, run, Cli};

fn main() {
    // One rustls crypto provider (ring) for every TLS stack in the process.
    nexus_tls::install_crypto_provider();
    let cli = Cli::parse();
    let json = cli.json;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("NEXUS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            report_error(&error, json);
            1
        }
    };
    std::process::exit(code);
}
