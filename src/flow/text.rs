//! String options with `${env:NAME}` and `${secret:NAME}` placeholders, resolved when a
//! run starts; inside jq options placeholders become jq variables, never pasted text.

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

/// One placeholder of a flow, with what it is treated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Use {
    /// The step using it.
    pub(crate) step: String,
    /// The option, e.g. `headers.Authorization`.
    pub(crate) option: String,
    /// The variable's name.
    pub(crate) name: String,
    /// How it is written.
    pub(crate) kind: VarKind,
    /// Whether its value is treated as a secret: every `${secret:…}`, and an `${env:…}`
    /// where credentials travel (see [`Use::implied`]).
    pub(crate) secret: bool,
    /// An `${env:…}` treated as a secret because of where it is used: an `http` step's
    /// `headers`, `query` or the user and password of its `url`, a `command`'s `env`.
    pub(crate) implied: bool,
}

impl crate::flow::Flow {
    /// Every placeholder of the flow, in file order, with what it is treated as.
    #[must_use]
    pub(crate) fn placeholders(&self) -> Vec<Use> {
        use crate::steps::Carries;
        let mut out = Vec::new();
        // `[notify]`'s webhook counts as a step named `notify` (its secrets are masked
        // like every other); the names of its command are data.
        let notify = self.notify.as_ref();
        let webhook = notify.and_then(|n| n.webhook.as_ref());
        let specs = self
            .steps
            .iter()
            .map(|s| (s.id.as_str(), &s.spec))
            .chain(webhook.map(|w| ("notify", w)));
        for (id, spec) in specs {
            let mut add = |option: &str, t: &Text, credential: &dyn Fn(&Var<'_>) -> bool| {
                for v in t.vars() {
                    let implied = v.kind == VarKind::Env && credential(&v);
                    out.push(Use {
                        step: id.to_owned(),
                        option: option.to_owned(),
                        name: v.name.to_owned(),
                        kind: v.kind,
                        secret: implied || v.kind == VarKind::Secret,
                        implied,
                    });
                }
            };
            spec.texts(&mut |option, t, carries| match carries {
                Carries::Data => add(option, t, &|_| false),
                Carries::Credentials => add(option, t, &|_| true),
                Carries::Url => {
                    let userinfo = userinfo_range(t.raw());
                    add(option, t, &|v| userinfo.contains(&v.offset));
                }
            });
        }
        for t in notify.map(|n| n.run.as_slice()).unwrap_or_default() {
            for v in t.vars() {
                out.push(Use {
                    step: "notify".to_owned(),
                    option: "run".to_owned(),
                    name: v.name.to_owned(),
                    kind: v.kind,
                    secret: v.kind == VarKind::Secret,
                    implied: false,
                });
            }
        }
        out
    }
}

/// Byte range of the `user:password` part of a URL (empty when it has none).
fn userinfo_range(url: &str) -> std::ops::Range<usize> {
    let Some(scheme) = url.find("://") else {
        return 0..0;
    };
    let start = scheme + 3;
    let authority = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |e| start + e);
    match url[start..authority].rfind('@') {
        Some(at) => start..start + at,
        None => 0..0,
    }
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
