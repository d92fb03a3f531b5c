//! Colours and fences for diff text: ANSI colours for a terminal (only when
//! asked: the command decides from `NO_COLOR` and whether stdout is a
//! terminal) and fenced `diff` blocks for markdown.

/// Whether text output is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    /// ANSI colours.
    Always,
    /// Plain text.
    Never,
}

impl ColorChoice {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset or empty.
    pub fn for_stdout() -> ColorChoice {
        ColorChoice::from(crate::term::colour(&std::io::stdout()))
    }
}

impl From<bool> for ColorChoice {
    fn from(color: bool) -> ColorChoice {
        if color {
            ColorChoice::Always
        } else {
            ColorChoice::Never
        }
    }
}

/// `s` in the ANSI colour `code` (e.g. `"31"` red) when `color` is `Always`.
pub fn paint(color: ColorChoice, code: &str, s: &str) -> String {
    match color {
        ColorChoice::Always => format!("\x1b[{code}m{s}\x1b[0m"),
        ColorChoice::Never => s.to_owned(),
    }
}

/// One line of a unified diff, coloured by its role (header, added, removed,
/// hunk) when `color` is `Always`.
pub fn diff_line(line: &str, color: ColorChoice) -> String {
    let code = if line.starts_with("+++") || line.starts_with("---") {
        "1"
    } else if line.starts_with('+') {
        "32"
    } else if line.starts_with('-') {
        "31"
    } else if line.starts_with("@@") {
        "36"
    } else {
        return line.to_owned();
    };
    paint(color, code, line)
}

/// A diff as a fenced `diff` block for markdown. The fence is longer than
/// any backtick run in the diff, so the diff cannot close it early.
pub fn fenced_diff(diff: &str) -> String {
    let longest = diff.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}diff\n{diff}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_when_asked() {
        assert_eq!(diff_line("-k: 1", ColorChoice::Never), "-k: 1");
        assert_eq!(
            diff_line("-k: 1", ColorChoice::Always),
            "\x1b[31m-k: 1\x1b[0m"
        );
        assert_eq!(
            diff_line("+k: 2", ColorChoice::Always),
            "\x1b[32m+k: 2\x1b[0m"
        );
        assert_eq!(diff_line(" k: 0", ColorChoice::Always), " k: 0");
    }

    #[test]
    fn fence_outlasts_backticks_in_the_diff() {
        let fenced = fenced_diff("+a: '````'\n");
        assert!(fenced.starts_with("`````diff\n"), "{fenced}");
        assert!(fenced.ends_with("\n`````"), "{fenced}");
    }
}
