//! A cheap pre-scan of jq filters for how deeply they nest, run before compiling them.
//!
//! The jq parser, compiler and interpreter recurse once per level of the syntax tree,
//! so a filter nested thousands of levels deep (`((((…))))`, `1 + 1 + … + 1`,
//! `- - - … 1`) overflows the stack and aborts the process — a crash no error
//! handling can catch. This scan bounds the tree depth from the text alone: every
//! open bracket (and `if … end`) is one level, and every operator adds one more
//! within its bracket, since chains of binary operators nest too. It over-estimates
//! (multi-character operators count per character), which only matters for filters
//! far larger than anyone writes by hand.

/// How deep a jq filter may nest (brackets and operators, see the module docs).
/// Measured on a debug build's 2 MiB worker-thread stack, the interpreter survives
/// chains of about 300 operators; this leaves a margin.
pub(crate) const MAX_JQ_DEPTH: usize = 200;

/// What is wrong with a filter [`too_deep`] refuses.
#[must_use]
pub(crate) fn message() -> String {
    format!(
        "the filter nests more than {MAX_JQ_DEPTH} levels deep (brackets, `if`s and operators); split it into smaller filters or steps"
    )
}

/// One open bracket, `if`, or string interpolation.
struct Frame {
    /// What closes it: `)`, `]`, `}`, or `e` for `end`.
    close: u8,
    /// Operators seen at this level so far.
    ops: usize,
}

/// The open levels and the depth they add up to.
#[derive(Default)]
struct Levels {
    frames: Vec<Frame>,
    depth: usize,
}

impl Levels {
    fn open(&mut self, close: u8) {
        self.frames.push(Frame { close, ops: 0 });
        self.depth += 1;
    }

    /// Closes the innermost level if `close` closes it.
    fn close(&mut self, close: u8) -> bool {
        if self.frames.last().is_some_and(|f| f.close == close) {
            let f = self.frames.pop().expect("checked above");
            self.depth -= 1 + f.ops;
            true
        } else {
            false
        }
    }

    fn op(&mut self) {
        if let Some(f) = self.frames.last_mut() {
            f.ops += 1;
        }
        self.depth += 1;
    }

    /// Whether commas here separate the entries of an object construction, which
    /// do not nest.
    fn in_object(&self) -> bool {
        self.frames.last().is_some_and(|f| f.close == b'}')
    }
}

/// The byte offset in `src` where the filter first nests deeper than `max`, if it does.
#[must_use]
pub(crate) fn too_deep(src: &str, max: usize) -> Option<usize> {
    let b = src.as_bytes();
    let mut levels = Levels::default();
    // Levels at which a string interpolation `\(…)` opened: after its `)` the string
    // goes on.
    let mut interpolations: Vec<usize> = Vec::new();
    let mut in_str = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_str {
            match c {
                b'\\' if b.get(i + 1) == Some(&b'(') => {
                    in_str = false;
                    interpolations.push(levels.frames.len());
                    levels.open(b')');
                    i += 1;
                }
                b'\\' => i += 1,
                b'"' => in_str = false,
                _ => {}
            }
        } else {
            match c {
                b'"' => in_str = true,
                b'#' => {
                    while i + 1 < b.len() && b[i + 1] != b'\n' {
                        i += 1;
                    }
                }
                b'(' => levels.open(b')'),
                b'[' => levels.open(b']'),
                b'{' => levels.open(b'}'),
                b')' | b']' | b'}' => {
                    let closed = levels.close(c);
                    // The `)` of an interpolation goes back into its string.
                    if closed && interpolations.last() == Some(&levels.frames.len()) {
                        interpolations.pop();
                        in_str = true;
                    }
                }
                b',' if levels.in_object() => {}
                b'|' | b',' | b'+' | b'-' | b'*' | b'/' | b'%' | b'=' | b'<' | b'>' | b'!' => {
                    levels.op();
                }
                b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                    let start = i;
                    while b
                        .get(i + 1)
                        .is_some_and(|n| n.is_ascii_alphanumeric() || *n == b'_')
                    {
                        i += 1;
                    }
                    // `.end` and `$if` are a field and a variable, not keywords.
                    let prev = start.checked_sub(1).map(|p| b[p]);
                    if !matches!(prev, Some(b'.' | b'$')) {
                        match &src[start..=i] {
                            "if" => levels.open(b'e'),
                            "end" => {
                                levels.close(b'e');
                            }
                            "then" | "elif" | "else" | "and" | "or" | "as" | "try" | "catch"
                            | "reduce" | "foreach" | "label" | "def" => levels.op(),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if levels.depth > max {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_filters_pass() {
        for f in [
            ".",
            "map({order_id: .id, email: (.customer.email | ascii_downcase)})",
            r#".email | contains("@")"#,
            r#"if .a then "x\(.b | tostring)" elif .c then 1 else 2 end"#,
            "reduce .[] as $x (0; . + $x) # a comment with ((((",
            ".end | .if",
        ] {
            assert_eq!(too_deep(f, 8), None, "{f}");
        }
    }

    #[test]
    fn deep_brackets_and_chains_are_found() {
        let parens = format!("{}.{}", "(".repeat(300), ")".repeat(300));
        assert_eq!(too_deep(&parens, MAX_JQ_DEPTH), Some(MAX_JQ_DEPTH));
        let sum = format!("{}1", "1 + ".repeat(300));
        assert!(too_deep(&sum, MAX_JQ_DEPTH).is_some());
        let negs = format!("{}1", "-".repeat(300));
        assert!(too_deep(&negs, MAX_JQ_DEPTH).is_some());
        let ifs = format!("{}1{}", "if . then ".repeat(150), " else 2 end".repeat(150));
        assert!(too_deep(&ifs, MAX_JQ_DEPTH).is_some());
        let interp = format!("{}{}", "\"\\(".repeat(300), ")\"".repeat(300));
        assert!(too_deep(&interp, MAX_JQ_DEPTH).is_some());
    }

    #[test]
    fn closed_levels_no_longer_count() {
        let many = "(.a | .b) + ".repeat(50) + "1";
        assert_eq!(too_deep(&many, 60), None);
        let objects = format!("{{{}}}", "a: 1, ".repeat(500));
        assert_eq!(too_deep(&objects, 8), None);
    }

    #[test]
    fn stops_at_the_end_of_odd_text() {
        assert_eq!(too_deep("\"unclosed \\", 8), None);
        assert_eq!(too_deep(")))]]}}} end end", 8), None);
        assert_eq!(too_deep("é(ü[", 8), None);
    }
}
