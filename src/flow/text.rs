//! String options with `${env:NAME}` placeholders, resolved when a run starts.

use std::fmt;

/// A string option as written in the flow file, placeholders unresolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    raw: String,
}

/// A placeholder that is not `${env:NAME}` with NAME = `[A-Za-z_][A-Za-z0-9_]*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPlaceholder {
    /// Byte offset of the `${env:` in the string.
    pub offset: usize,
}

/// An environment variable a flow needs and the environment does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable `{name}` is not set (the flow uses ${{env:{name}}})")]
pub struct MissingEnv {
    /// The variable's name.
    pub name: String,
}

const OPEN: &str = "${env:";

impl Text {
    /// Checks the placeholders in `raw`.
    ///
    /// # Errors
    /// The first malformed placeholder.
    pub fn parse(raw: &str) -> Result<Text, BadPlaceholder> {
        let text = Text {
            raw: raw.to_owned(),
        };
        for part in text.parts() {
            if let Part::Bad(offset) = part {
                return Err(BadPlaceholder { offset });
            }
        }
        Ok(text)
    }

    /// The text as written.
    #[must_use]
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Whether the text holds any placeholder.
    #[must_use]
    pub fn has_placeholders(&self) -> bool {
        self.raw.contains(OPEN)
    }

    /// Names of the variables the text uses.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts().filter_map(|p| match p {
            Part::Var(name) => Some(name),
            _ => None,
        })
    }

    /// Replaces placeholders using `lookup`; every resolved value is reported to `seen`
    /// so that it can be kept out of the run store.
    ///
    /// # Errors
    /// The first variable `lookup` does not know.
    pub fn resolve(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
        seen: &mut dyn FnMut(&str),
    ) -> Result<String, MissingEnv> {
        let mut out = String::with_capacity(self.raw.len());
        for part in self.parts() {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Var(name) => {
                    let value = lookup(name).ok_or_else(|| MissingEnv {
                        name: name.to_owned(),
                    })?;
                    seen(&value);
                    out.push_str(&value);
                }
                Part::Bad(_) => unreachable!("placeholders are checked in Text::parse"),
            }
        }
        Ok(out)
    }

    /// The text with each placeholder replaced by `null` padded with spaces to the
    /// placeholder's length: a jq filter can be checked before the variables are known,
    /// and positions in it still match the text as written.
    #[must_use]
    pub fn with_stand_ins(&self) -> String {
        let mut out = String::with_capacity(self.raw.len());
        for part in self.parts() {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Var(name) => {
                    let len = OPEN.len() + name.len() + 1;
                    out.push_str("null");
                    out.extend(std::iter::repeat_n(' ', len.saturating_sub(4)));
                }
                Part::Bad(_) => unreachable!("placeholders are checked in Text::parse"),
            }
        }
        out
    }

    fn parts(&self) -> Parts<'_> {
        Parts {
            raw: &self.raw,
            pos: 0,
        }
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

enum Part<'a> {
    Lit(&'a str),
    Var(&'a str),
    Bad(usize),
}

struct Parts<'a> {
    raw: &'a str,
    pos: usize,
}

impl<'a> Iterator for Parts<'a> {
    type Item = Part<'a>;

    fn next(&mut self) -> Option<Part<'a>> {
        let rest = &self.raw[self.pos..];
        if rest.is_empty() {
            return None;
        }
        match rest.find(OPEN) {
            Some(0) => {
                let body = &rest[OPEN.len()..];
                let end = body.find('}');
                let name = end.map(|e| &body[..e]);
                match name {
                    Some(name) if is_var_name(name) => {
                        self.pos += OPEN.len() + name.len() + 1;
                        Some(Part::Var(name))
                    }
                    _ => {
                        let at = self.pos;
                        self.pos = self.raw.len();
                        Some(Part::Bad(at))
                    }
                }
            }
            Some(n) => {
                self.pos += n;
                Some(Part::Lit(&rest[..n]))
            }
            None => {
                self.pos = self.raw.len();
                Some(Part::Lit(rest))
            }
        }
    }
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cr3t".to_owned())
    }

    #[test]
    fn resolves_and_reports_secrets() {
        let t = Text::parse("Bearer ${env:TOKEN}!").unwrap();
        let mut seen = Vec::new();
        let out = t.resolve(&env, &mut |s| seen.push(s.to_owned())).unwrap();
        assert_eq!(out, "Bearer s3cr3t!");
        assert_eq!(seen, ["s3cr3t"]);
        assert_eq!(t.vars().collect::<Vec<_>>(), ["TOKEN"]);
    }

    #[test]
    fn missing_variable_is_named() {
        let t = Text::parse("${env:NOPE}").unwrap();
        let err = t.resolve(&env, &mut |_| {}).unwrap_err();
        assert_eq!(err.name, "NOPE");
        assert!(err.to_string().contains("${env:NOPE}"));
    }

    #[test]
    fn stand_ins_keep_positions() {
        let t = Text::parse(".n < ${env:LIMIT} | \"${env:A}\"").unwrap();
        let s = t.with_stand_ins();
        assert_eq!(s, ".n < null         | \"null    \"");
        assert_eq!(s.len(), t.raw().len());
    }

    #[test]
    fn bad_placeholders_are_found() {
        assert_eq!(Text::parse("a ${env:} b").unwrap_err().offset, 2);
        assert_eq!(Text::parse("${env:A-B}").unwrap_err().offset, 0);
        assert_eq!(Text::parse("x${env:OPEN").unwrap_err().offset, 1);
        assert!(Text::parse("${HOME} and $x").is_ok());
    }
}
