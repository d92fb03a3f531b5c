//! The terminal: whether output is coloured (only on a terminal, and never
//! when `NO_COLOR` is set to a non-empty value, <https://no-color.org>), and
//! writing data to stdout. Every command asks and writes here.

use std::io::{IsTerminal, Write};

/// Colour for `stream` (`std::io::stdout()` or `std::io::stderr()`)?
pub fn colour(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Writes `text` to stdout. A reader that went away (`modelctl rbac | head`)
/// ends the process quietly with exit 0, as Unix tools do, instead of a
/// panic; any other write error ends it with exit 2.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout: {err}");
        std::process::exit(2);
    }
}

/// A text table: each column padded to its widest cell (counted in
/// characters, as `format!` pads), columns two spaces apart, no trailing
/// blanks. The plain output of `status` and `runs`.
pub fn aligned_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: &mut dyn Iterator<Item = &str>| {
        let padded: Vec<String> = cols.zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&mut header.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}
