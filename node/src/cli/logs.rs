//! `nexus logs ID [--follow]`: a sandbox's recent stderr and lifecycle events
//! from its home node's log.

use std::time::Duration;

use clap::Args;

use crate::api::types::SandboxLogs;
use crate::client::NodeClient;
use crate::clock::rfc3339;
use crate::lifecycle::journal::{LogEntry, LogKind, LOG_ENTRIES};
use nexus_errors::UserError;

/// How often `--follow` asks for new entries.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

/// `nexus logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The sandbox.
    pub id: String,
    /// Keep printing new entries until interrupted (Ctrl-C).
    #[arg(long, short = 'f')]
    pub follow: bool,
}

/// Prints the log (JSON Lines with `--json`: one entry per line).
pub async fn run(client: &NodeClient, args: LogsArgs, json: bool) -> Result<i32, UserError> {
    let mut after = 0;
    loop {
        let page = client.logs(&args.id, after).await?;
        print_page(&page, after, json);
        after = page.last_seq;
        if !args.follow {
            return Ok(0);
        }
        if page.entries.len() < LOG_ENTRIES {
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
    }
}

fn print_page(page: &SandboxLogs, after: u64, json: bool) {
    if page.missed > 0 {
        eprintln!(
            "({} earlier entries were dropped: node {} keeps the last {LOG_ENTRIES})",
            page.missed, page.node_id
        );
    }
    if page.last_seq < after {
        eprintln!(
            "(the log starts over: the sandbox now lives on node {}, or it restarted)",
            page.node_id
        );
    }
    for entry in &page.entries {
        if json {
            match serde_json::to_string(entry) {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("error: cannot encode a log entry: {e}"),
            }
        } else {
            print!("{}", render(entry));
        }
    }
}

/// One entry as text: every line prefixed with its time and kind.
fn render(entry: &LogEntry) -> String {
    let kind = match entry.kind {
        LogKind::Stderr => "stderr",
        LogKind::Event => "event ",
    };
    let at = rfc3339(entry.at_ms);
    entry
        .text
        .trim_end_matches('\n')
        .lines()
        .map(|line| format!("{at} {kind} {line}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_of_an_entry_gets_its_time_and_kind() {
        let entry = LogEntry {
            seq: 1,
            at_ms: 1_764_661_533_120,
            kind: LogKind::Stderr,
            text: "first\nsecond\n".to_owned(),
        };
        assert_eq!(
            render(&entry),
            "2025-12-02T07:45:33.120Z stderr first\n2025-12-02T07:45:33.120Z stderr second\n"
        );
        let event = LogEntry {
            kind: LogKind::Event,
            text: "active → suspended".to_owned(),
            ..entry
        };
        assert_eq!(
            render(&event),
            "2025-12-02T07:45:33.120Z event  active → suspended\n"
        );
    }
}
