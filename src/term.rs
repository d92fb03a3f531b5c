//! Whether output is coloured: only on a terminal, and never when `NO_COLOR`
//! is set to a non-empty value (<https://no-color.org>). Every command asks here.

use std::io::IsTerminal;

/// Colour for `stream` (`std::io::stdout()` or `std::io::stderr()`)?
pub fn colour(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
