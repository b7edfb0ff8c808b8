//! Progress on stderr for the CLI's long operations. indicatif draws only
//! when stderr is a terminal, so pipes and logs stay clean.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

fn styled(bar: ProgressBar, template: &str) -> ProgressBar {
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// A bar over `total` bytes, labelled `what`.
pub fn bytes(total: u64, what: &str) -> ProgressBar {
    let bar = styled(
        ProgressBar::new(total),
        "{msg} {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
    );
    bar.set_message(what.to_owned());
    bar
}

/// A bar over `total` steps; each step's name goes in the message.
pub fn steps(total: u64) -> ProgressBar {
    styled(
        ProgressBar::new(total),
        "{bar:30} {pos}/{len} {msg} ({elapsed})",
    )
}

/// A spinner saying `what`, with the time since it started.
pub fn spinner(what: String) -> ProgressBar {
    let spinner = styled(ProgressBar::new_spinner(), "{spinner} {msg} ({elapsed})");
    spinner.set_message(what);
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}
