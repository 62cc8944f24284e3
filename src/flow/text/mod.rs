//! String options with `${env:NAME}` and `${secret:NAME}` placeholders, resolved when a
//! run starts; inside jq options placeholders become jq variables, never pasted text
//! ([`jq`]); [`uses`] lists a flow's placeholders and which are secrets.

mod jq;
mod uses;

use std::fmt;

/// A string option as written in the flow file, placeholders unresolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text {
    raw: String,
}

/// A placeholder that is not `${env:NAME}` or `${secret:NAME}` with
/// NAME = `[A-Za-z_][A-Za-z0-9_]*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadPlaceholder {
    /// Byte offset of the `${env:` or `${secret:` in the string.
    pub(crate) offset: usize,
}

/// Which kind of placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarKind {
    /// `${env:NAME}`: a plain setting.
    Env,
    /// `${secret:NAME}`: a secret, masked everywhere.
    Secret,
}

impl VarKind {
    /// The placeholder's prefix, `env` or `secret`.
    #[must_use]
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            VarKind::Env => "env",
            VarKind::Secret => "secret",
        }
    }
}

/// One placeholder in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Var<'a> {
    /// Its kind.
    pub(crate) kind: VarKind,
    /// The variable's name.
    pub(crate) name: &'a str,
    /// Byte offset of the `$` in the text.
    pub(crate) offset: usize,
}

/// A variable a flow needs and the environment does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable `{name}` is not set (the flow uses ${{{prefix}:{name}}})", prefix = .kind.prefix())]
pub(crate) struct MissingEnv {
    /// The variable's name.
    pub(crate) name: String,
    /// How the flow uses it.
    pub(crate) kind: VarKind,
}

const OPENS: [(&str, VarKind); 2] = [("${env:", VarKind::Env), ("${secret:", VarKind::Secret)];

impl Text {
    /// Checks the placeholders in `raw`.
    ///
    /// # Errors
    /// The first malformed placeholder.
    pub(crate) fn parse(raw: &str) -> Result<Text, BadPlaceholder> {
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
    pub(crate) fn raw(&self) -> &str {
        &self.raw
    }

    /// Whether the text holds any placeholder.
    #[must_use]
    pub(crate) fn has_placeholders(&self) -> bool {
        self.vars().next().is_some()
    }

    /// The placeholders the text uses, in order.
    pub(crate) fn vars(&self) -> impl Iterator<Item = Var<'_>> {
        self.parts().filter_map(|p| match p {
            Part::Var(v) => Some(v),
            _ => None,
        })
    }

    /// Replaces placeholders using `lookup`.
    ///
    /// # Errors
    /// The first variable `lookup` does not know.
    pub(crate) fn resolve(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String, MissingEnv> {
        let mut out = String::with_capacity(self.raw.len());
        for part in self.parts() {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Var(v) => out.push_str(&lookup_var(lookup, v)?),
                Part::Bad(_) => unreachable!("placeholders are checked in Text::parse"),
            }
        }
        Ok(out)
    }

    fn parts(&self) -> Parts<'_> {
        Parts {
            raw: &self.raw,
            pos: 0,
        }
    }
}

fn lookup_var(lookup: &dyn Fn(&str) -> Option<String>, v: Var<'_>) -> Result<String, MissingEnv> {
    lookup(v.name).ok_or_else(|| MissingEnv {
        name: v.name.to_owned(),
        kind: v.kind,
    })
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

enum Part<'a> {
    Lit(&'a str),
    Var(Var<'a>),
    Bad(usize),
}

struct Parts<'a> {
    raw: &'a str,
    pos: usize,
}

/// The placeholder (or malformed placeholder: `None` inside) that `rest` starts with.
fn opening(rest: &str) -> Option<(&'static str, VarKind)> {
    OPENS
        .iter()
        .copied()
        .find(|(open, _)| rest.starts_with(open))
}

/// A well-formed placeholder at the start of `rest` (at `offset`) and its length.
fn placeholder_at(rest: &str, offset: usize) -> Option<(Var<'_>, usize)> {
    let (open, kind) = opening(rest)?;
    let body = &rest[open.len()..];
    let name = &body[..body.find('}')?];
    is_var_name(name).then_some((Var { kind, name, offset }, open.len() + name.len() + 1))
}

fn next_opening(rest: &str) -> Option<usize> {
    OPENS.iter().filter_map(|(open, _)| rest.find(open)).min()
}

impl<'a> Iterator for Parts<'a> {
    type Item = Part<'a>;

    fn next(&mut self) -> Option<Part<'a>> {
        let rest = &self.raw[self.pos..];
        if rest.is_empty() {
            return None;
        }
        match next_opening(rest) {
            Some(0) => match placeholder_at(rest, self.pos) {
                Some((v, len)) => {
                    self.pos += len;
                    Some(Part::Var(v))
                }
                None => {
                    let at = self.pos;
                    self.pos = self.raw.len();
                    Some(Part::Bad(at))
                }
            },
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
    fn resolves_both_kinds() {
        let t = Text::parse("Bearer ${env:TOKEN}/${secret:TOKEN}!").unwrap();
        assert_eq!(t.resolve(&env).unwrap(), "Bearer s3cr3t/s3cr3t!");
        let kinds: Vec<_> = t.vars().map(|v| (v.kind, v.name, v.offset)).collect();
        assert_eq!(
            kinds,
            [(VarKind::Env, "TOKEN", 7), (VarKind::Secret, "TOKEN", 20)]
        );
    }

    #[test]
    fn missing_variable_is_named() {
        let t = Text::parse("${secret:NOPE}").unwrap();
        let err = t.resolve(&env).unwrap_err();
        assert_eq!(err.name, "NOPE");
        assert!(err.to_string().contains("${secret:NOPE}"), "{err}");
    }

    #[test]
    fn jq_code_uses_variables_and_keeps_positions() {
        let t = Text::parse(".n < ${env:LIMIT} | .w == \"a${secret:W}\\\"\" # ${env:C}").unwrap();
        let c = t.jq_code();
        assert_eq!(
            c.code,
            ".n < $__env_LIMIT | .w == \"a\\($__secretstr_W)\\\"\" # ${env:C}"
        );
        assert_eq!(c.var_names(), ["$__env_LIMIT", "$__secretstr_W"]);
        // Outside strings the variable has the placeholder's length.
        assert_eq!(c.original(7), 5);
        assert_eq!(c.original(17), 17);
        let after = c.code.find(" #").unwrap();
        assert_eq!(c.original(after), t.raw().find(" #").unwrap());
        let inside = c.code.find("$__secretstr").unwrap();
        assert_eq!(c.original(inside), t.raw().find("${secret").unwrap());
    }

    #[test]
    fn a_placeholder_after_a_dot_names_a_field() {
        let t = Text::parse(".${env:F} | .a.${secret:G}").unwrap();
        assert_eq!(t.jq_code().code, ".[$__envstr_F] | .a.[$__secretstr_G]");
    }

    #[test]
    fn jq_code_follows_interpolations() {
        let t = Text::parse(r#""x\(.a | "${env:A}") ${env:B}" + ${env:C}"#).unwrap();
        assert_eq!(
            t.jq_code().code,
            r#""x\(.a | "\($__envstr_A)") \($__envstr_B)" + $__env_C"#
        );
    }

    #[test]
    fn bad_placeholders_are_found() {
        assert_eq!(Text::parse("a ${env:} b").unwrap_err().offset, 2);
        assert_eq!(Text::parse("${env:A-B}").unwrap_err().offset, 0);
        assert_eq!(Text::parse("x${secret:OPEN").unwrap_err().offset, 1);
        assert!(Text::parse("${HOME} and $x").is_ok());
    }
}
