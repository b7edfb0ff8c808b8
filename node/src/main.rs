//! The `nexus` binary.

use clap::Parser;
use nexus_node::cli::{report_error, run, Cli};

fn main() {
    // One rustls crypto provider (ring) for every TLS stack in the process.
    nexus_tls::install_crypto_provider();
    let cli = Cli::parse();
    let json = cli.json;
    // A process that runs a node keeps its files to its own user.
    if cli.command.runs_a_node() {
        nexus_node::file_modes::make_private();
    }
    // A benchmark prints a table; its nodes' logs would break it up
    // (NEXUS_LOG turns them back on).
    let default_filter = match cli.command {
        nexus_node::cli::Command::Bench(_) => "off",
        // A container worker's stderr ends up in the job's failure message.
        nexus_node::cli::Command::FabricWorker => "warn",
        _ => "info,openraft=warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("NEXUS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        // Colours for a terminal only: not in `docker logs`, journald or files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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
