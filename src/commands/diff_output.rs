//! Prints a diff report for both `diff --base` and `diff --env`: the
//! `--format` chosen on the command line, through the one renderer in
//! [`crate::manifest_diff`], coloured only on a terminal without `NO_COLOR`.

use crate::cli::OutputFormat;
use crate::manifest_diff::{ColorChoice, DiffReport, Format, render};

/// The renderer's format for `--format`, colouring text for stdout.
pub(crate) fn format_for_stdout(format: OutputFormat) -> Format {
    match format {
        OutputFormat::Text => {
            Format::Text(ColorChoice::from(crate::term::colour(&std::io::stdout())))
        }
        OutputFormat::Markdown => Format::Markdown,
        OutputFormat::Json => Format::Json,
    }
}

/// Prints the report to stdout in `format`.
pub(crate) fn print_report(report: &DiffReport, format: OutputFormat) {
    crate::term::out(&render(report, format_for_stdout(format)));
}
