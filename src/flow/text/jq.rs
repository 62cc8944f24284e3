//! Placeholders inside jq options: rewritten as jq variables (never pasted text), with
//! a map from positions in the rewritten code back to the option as written.

use super::{MissingEnv, Text, Var, VarKind, lookup_var, placeholder_at};

impl Text {
    /// The text as jq code: each placeholder becomes a jq variable, `$__env_NAME` or
    /// `$__secret_NAME` (the same length as the placeholder), or, inside a jq string,
    /// an interpolation of the variable's text, `\($__envstr_NAME)`.
    #[must_use]
    pub(crate) fn jq_code(&self) -> JqCode {
        let raw = self.raw.as_str();
        let mut out = JqCode {
            code: String::with_capacity(raw.len()),
            globals: Vec::new(),
            segments: Vec::new(),
        };
        // What encloses the current position: code (with its open parentheses) or a string.
        let mut stack: Vec<Option<usize>> = vec![Some(0)];
        let mut i = 0;
        while i < raw.len() {
            let rest = &raw[i..];
            if let Some((v, len)) = placeholder_at(rest, i) {
                let in_string = matches!(stack.last(), Some(None));
                // `.${env:FIELD}` names a field: `.[$__envstr_FIELD]`.
                let field = !in_string && out.code.ends_with('.');
                let as_text = in_string || field;
                let var = format!(
                    "$__{}{}_{}",
                    v.kind.prefix(),
                    if as_text { "str" } else { "" },
                    v.name
                );
                let new = if in_string {
                    format!("\\({var})")
                } else if field {
                    format!("[{var}]")
                } else {
                    var.clone()
                };
                out.segments.push(Segment {
                    new_start: out.code.len(),
                    new_len: new.len(),
                    old_start: i,
                    old_len: len,
                });
                out.code.push_str(&new);
                if !out.globals.iter().any(|g| g.var == var) {
                    out.globals.push(Global {
                        var,
                        name: v.name.to_owned(),
                        kind: v.kind,
                        as_text,
                    });
                }
                i += len;
                continue;
            }
            let c = rest.chars().next().expect("not at the end");
            let mut take = c.len_utf8();
            let nested = stack.len() > 1;
            match (stack.last_mut(), c) {
                (Some(Some(_)), '"') => stack.push(None),
                (Some(Some(_)), '#') => take = rest.find('\n').unwrap_or(rest.len()),
                (Some(Some(depth)), '(') => *depth += 1,
                (Some(Some(0)), ')') if nested => {
                    stack.pop();
                }
                (Some(Some(depth)), ')') => *depth = depth.saturating_sub(1),
                (Some(None), '"') => {
                    stack.pop();
                }
                (Some(None), '\\') => {
                    if rest[1..].starts_with('(') {
                        stack.push(Some(0));
                    }
                    take += rest[1..].chars().next().map_or(0, char::len_utf8);
                }
                _ => {}
            }
            out.code.push_str(&rest[..take]);
            i += take;
        }
        out
    }
}

/// A jq option rewritten so that its placeholders are jq variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JqCode {
    /// The jq code to compile.
    pub(crate) code: String,
    /// The variables it uses, each once, in order of first use.
    pub(crate) globals: Vec<Global>,
    segments: Vec<Segment>,
}

/// A jq variable standing for a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Global {
    /// The jq variable, with its `$`.
    pub(crate) var: String,
    /// The environment variable's name.
    pub(crate) name: String,
    /// `${env:…}` or `${secret:…}`.
    pub(crate) kind: VarKind,
    /// Inside a jq string: the value is the variable's text. Elsewhere a value that
    /// reads as JSON (`5`, `true`, `["a"]`) is that JSON value, anything else a string.
    pub(crate) as_text: bool,
}

impl Global {
    /// The jq value of the variable, looked up with `lookup`.
    ///
    /// # Errors
    /// The variable is not set.
    pub(crate) fn value(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<serde_json::Value, MissingEnv> {
        let text = lookup_var(
            lookup,
            Var {
                kind: self.kind,
                name: &self.name,
                offset: 0,
            },
        )?;
        if !self.as_text
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        {
            return Ok(v);
        }
        Ok(serde_json::Value::String(text))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    new_start: usize,
    new_len: usize,
    old_start: usize,
    old_len: usize,
}

impl JqCode {
    /// The names of the jq variables, for the compiler.
    #[must_use]
    pub(crate) fn var_names(&self) -> Vec<&str> {
        self.globals.iter().map(|g| g.var.as_str()).collect()
    }

    /// The byte offset in the text as written of offset `pos` in [`JqCode::code`]
    /// (a position inside a rewritten placeholder maps to the placeholder's start).
    #[must_use]
    pub(crate) fn original(&self, pos: usize) -> usize {
        let mut shift: isize = 0;
        for s in &self.segments {
            if pos < s.new_start {
                break;
            }
            if pos < s.new_start + s.new_len {
                return s.old_start;
            }
            shift = cast(s.old_start + s.old_len) - cast(s.new_start + s.new_len);
        }
        usize::try_from(cast(pos) + shift).unwrap_or(0)
    }
}

fn cast(n: usize) -> isize {
    isize::try_from(n).unwrap_or(isize::MAX)
}
