//! Byte offsets to 1-based line and column numbers.

/// A 1-based line and column; the column counts characters, as editors do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub col: usize,
}

impl LineCol {
    /// The position of byte `offset` in `text` (clamped to the text, and to a
    /// character boundary).
    pub fn of(text: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = text[line_start..offset].chars().count() + 1;
        Self { line, col }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lines_and_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(LineCol::of(text, 0), LineCol { line: 1, col: 1 });
        assert_eq!(LineCol::of(text, 6), LineCol { line: 2, col: 1 });
        // after "bé = " (é is two bytes)
        assert_eq!(LineCol::of(text, 12), LineCol { line: 2, col: 6 });
        assert_eq!(LineCol::of(text, 999), LineCol { line: 3, col: 1 });
    }

    #[test]
    fn clamps_inside_a_character() {
        let text = "é";
        assert_eq!(LineCol::of(text, 1), LineCol { line: 1, col: 1 });
    }
}
