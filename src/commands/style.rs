//! Colour for statuses: only when stdout is a terminal, honouring `NO_COLOR` and
//! `CLICOLOR_FORCE` (as `anstream` decides), never in `--json` output.

use anstyle::{AnsiColor, Style};
use std::sync::OnceLock;

/// Whether stdout gets colour.
#[must_use]
pub(crate) fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        !matches!(
            anstream::AutoStream::choice(&std::io::stdout()),
            anstream::ColorChoice::Never
        )
    })
}

fn paint(text: &str, colour: AnsiColor) -> String {
    if !enabled() {
        return text.to_owned();
    }
    let style = Style::new().fg_color(Some(colour.into())).bold();
    format!("{style}{text}{style:#}")
}

/// A good status (`ok`, `success`).
#[must_use]
pub(crate) fn ok(text: &str) -> String {
    paint(text, AnsiColor::Green)
}

/// A bad status (`FAILED`, `failure`).
#[must_use]
pub(crate) fn bad(text: &str) -> String {
    paint(text, AnsiColor::Red)
}

/// A status in between (`interrupted`, `skipped`, `running`).
#[must_use]
pub(crate) fn warn(text: &str) -> String {
    paint(text, AnsiColor::Yellow)
}

/// A run status, padded to the `runs` column's width, coloured by what it says.
#[must_use]
pub(crate) fn status(word: &str) -> String {
    let padded = format!("{word:<11}");
    match word {
        "success" => ok(&padded),
        "failure" | "partial" => bad(&padded),
        _ => warn(&padded),
    }
}
