//! The jaq interpreter behind [`super::Jq`], with conversions between `Value` and jaq's `Val`.

use super::value::V;
use super::{CompileError, limits, natives};
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data::JustLut, unwrap_valr};
use jaq_json::{Num, Val};
use serde_json::{Map, Number, Value};

type Filter = jaq_core::Filter<JustLut<V>>;

/// jaq's definitions that flowrun replaces or refuses (see `defs.jq`).
const REFUSED: [&str; 3] = ["input", "inputs", "env"];

/// Why a name is refused, when it is.
fn refused(name: &str) -> Option<&'static str> {
    match name {
        "input" | "inputs" => Some(
            "is not supported in flowrun: a step sees one payload at a time, so there is no further input to read",
        ),
        _ => None,
    }
}

/// A filter compiled by jaq.
pub(crate) struct Program {
    filter: Filter,
    /// Whether the filter uses `$ENV`, bound after the caller's variables.
    uses_env: bool,
}

impl Program {
    /// Compiles `source` with jq's standard definitions.
    /// `vars` are the global variables it may use (names with `$`).
    pub(crate) fn compile_with_vars(
        source: &str,
        vars: &[&str],
    ) -> Result<Program, Vec<CompileError>> {
        let prepared = prepare(source);
        let source = prepared.as_ref();
        // `$ENV` is bound only for filters that mention it: the others need not pay for
        // turning the environment into a value on every run.
        let uses_env = source.contains("$ENV");
        let mut vars = vars.to_vec();
        if uses_env {
            vars.push("$ENV");
        }
        let (defs, funs) = library();
        let arena = Arena::default();
        let file = File {
            code: source,
            path: (),
        };
        let offset = |s: &str| -> std::ops::Range<usize> {
            // jaq reports locations as slices of the source text.
            let start = (s.as_ptr() as usize).wrapping_sub(source.as_ptr() as usize);
            if start <= source.len() && start + s.len() <= source.len() {
                start..start + s.len()
            } else {
                0..source.len()
            }
        };
        let modules = Loader::new(defs).load(&arena, file).map_err(|errs| {
            let mut out = Vec::new();
            for (_file, err) in errs {
                match err {
                    jaq_core::load::Error::Io(items) => {
                        for (path, msg) in items {
                            out.push(CompileError {
                                range: offset(path),
                                message: format!(
                                    "jq modules are not supported in flowrun (cannot load {path}: {msg}); a filter must be self-contained"
                                ),
                            });
                        }
                    }
                    jaq_core::load::Error::Lex(items) => {
                        for (expect, at) in items {
                            out.push(CompileError {
                                range: offset(at),
                                message: format!(
                                    "jq syntax error: expected {}",
                                    lex_expect(&expect)
                                ),
                            });
                        }
                    }
                    jaq_core::load::Error::Parse(items) => {
                        for (expect, token) in items {
                            let found = if token.is_empty() {
                                "end of filter".to_owned()
                            } else {
                                let shown: String = token.chars().take(20).collect();
                                format!("`{shown}`")
                            };
                            let at = offset(token);
                            let range = at.start..at.start + token.len().min(1);
                            out.push(CompileError {
                                range,
                                message: format!(
                                    "jq syntax error: expected {}, found {found}",
                                    expect.as_str()
                                ),
                            });
                        }
                    }
                }
            }
            out
        })?;
        let filter = Compiler::default()
            .with_funs(funs)
            .with_global_vars(vars.iter().copied())
            .compile(modules)
            .map_err(|errs| {
                errs.into_iter()
                    .flat_map(|(_file, items)| items)
                    .map(|(name, undefined)| CompileError {
                        range: offset(name),
                        message: match refused(name) {
                            Some(why) => format!("jq: `{name}` {why}"),
                            None => format!("jq: undefined {} `{name}`", undefined.as_str()),
                        },
                    })
                    .collect::<Vec<_>>()
            })?;
        Ok(Program { filter, uses_env })
    }

    /// Runs the filter with the values of its global variables (in the order they were
    /// compiled with) and collects its outputs; stops at the first error or when a
    /// budget of [`limits`] runs out.
    pub(crate) fn run(&self, input: &Value, vars: &[Value]) -> Result<Vec<Value>, String> {
        // A bug inside the interpreter must fail the step, not the process.
        let guarded = crate::panic::quietly(|| {
            limits::with_budget(|| {
                let env = self.uses_env.then(super::environment);
                let vars = Vars::new(vars.iter().chain(env).map(|v| V(to_val(v))));
                let ctx = Ctx::<JustLut<V>>::new(&self.filter.lut, vars);
                let mut out = Vec::new();
                for item in self.filter.id.run((ctx, V(to_val(input)))).map(unwrap_valr) {
                    match item {
                        Ok(v) => {
                            limits::check_outputs(out.len() + 1);
                            out.push(from_val(&v.0, 0).ok_or_else(|| {
                                format!(
                                    "jq: the filter built a value nested more than {MAX_DEPTH} levels deep"
                                )
                            })?);
                        }
                        Err(e) => return Err(format!("jq error: {}", error_text(&e))),
                    }
                }
                Ok(out)
            })
        });
        guarded.unwrap_or_else(|msg| {
            limits::reset();
            match msg.strip_prefix(limits::MARK) {
                Some(why) => Err(format!("jq: {why}")),
                None => Err(format!("jq: internal error in the interpreter: {msg}")),
            }
        })
    }
}

/// jq's definitions and native filters: jaq's, then flowrun's (which win).
fn library() -> (
    Vec<jaq_core::load::parse::Def<&'static str>>,
    Vec<jaq_core::native::Fun<JustLut<V>>>,
) {
    let ours = jaq_core::load::parse(include_str!("defs.jq"), |p| p.defs()).unwrap_or_default();
    let defs: Vec<_> = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs())
        .chain(ours)
        .collect();
    let funs: Vec<_> = jaq_core::funs()
        .chain(jaq_std::funs())
        .filter(|(name, _, _)| !REFUSED.contains(name))
        .chain(natives::funs())
        .collect();
    natives::BUILTINS.get_or_init(|| {
        let mut names: Vec<String> = defs
            .iter()
            .map(|d| format!("{}/{}", d.name, d.args.len()))
            .chain(funs.iter().map(|(n, a, _)| format!("{n}/{}", a.len())))
            .filter(|n| !n.starts_with('_'))
            .collect();
        names.sort();
        names.dedup();
        names
    });
    (defs, funs)
}

/// The program as jaq is given it: `$__loc__` (jq's location of itself, `{file, line}`)
/// replaced by its value, and destructuring alternatives `?//` rewritten.
fn prepare(source: &str) -> std::borrow::Cow<'_, str> {
    let mut text = std::borrow::Cow::Borrowed(source);
    if text.contains("$__loc__") {
        text = std::borrow::Cow::Owned(with_locations(&text));
    }
    if text.contains("?//")
        && let Some(rewritten) = super::alt::rewrite(&text)
    {
        text = std::borrow::Cow::Owned(rewritten);
    }
    text
}

fn with_locations(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut line = 1;
    let mut rest = source;
    while let Some(at) = rest.find("$__loc__") {
        let before = &rest[..at];
        line += before.matches('\n').count();
        out.push_str(before);
        rest = &rest[at + "$__loc__".len()..];
        let loc = format!("{{\"file\":\"<top-level>\",\"line\":{line}}}");
        // `{$__loc__}` is short for `{"__loc__": $__loc__}`.
        let in_object =
            out.trim_end().ends_with(['{', ',']) && rest.trim_start().starts_with([',', '}']);
        if in_object {
            out.push_str("\"__loc__\": ");
        }
        out.push_str(&loc);
    }
    out.push_str(rest);
    out
}

fn lex_expect(expect: &jaq_core::load::lex::Expect<&str>) -> &'static str {
    use jaq_core::load::lex::Expect;
    match expect {
        Expect::Delim(d) if matches!(*d, "(" | "[" | "{" | "\"") => expect.as_str(),
        Expect::Delim(_) => "closing delimiter",
        other => other.as_str(),
    }
}

fn error_text(e: &jaq_core::Error<V>) -> String {
    // Secrets are masked before the message is cut, so no piece of one is kept.
    let text = crate::secrets::mask_output(&e.to_string()).into_owned();
    // Keep messages to one readable line even when the error carries a huge value.
    if text.len() > 300 {
        let mut cut = 300;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}…", &text[..cut])
    } else {
        text
    }
}

/// Converts a payload into jaq's value type.
pub(crate) fn to_val(v: &Value) -> Val {
    match v {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => Val::Num(if let Some(i) = n.as_i64() {
            Num::from_integral(i)
        } else if let Some(u) = n.as_u64() {
            Num::from_integral(u)
        } else {
            Num::Float(n.as_f64().unwrap_or(f64::NAN))
        }),
        Value::String(s) => Val::utf8_str(s.clone().into_bytes()),
        Value::Array(a) => a.iter().map(to_val).collect(),
        Value::Object(o) => Val::obj(
            o.iter()
                .map(|(k, v)| (Val::utf8_str(k.clone().into_bytes()), to_val(v)))
                .collect(),
        ),
    }
}

/// Payloads nest at most this deep: deeper values would exhaust the stack of every
/// recursive walk over them (printing, hashing, dropping).
pub(crate) const MAX_DEPTH: usize = 10_000;

/// Converts jaq's value type back into a payload, as jq would print it; `None` when
/// the value nests deeper than [`MAX_DEPTH`].
pub(crate) fn from_val(v: &Val, depth: usize) -> Option<Value> {
    if depth > MAX_DEPTH {
        return None;
    }
    Some(match v {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => num_to_value(n),
        Val::TStr(b) | Val::BStr(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        Val::Arr(a) => Value::Array(
            a.iter()
                .map(|x| from_val(x, depth + 1))
                .collect::<Option<_>>()?,
        ),
        Val::Obj(o) => {
            let mut map = Map::with_capacity(o.len());
            for (k, v) in o.iter() {
                let key = match k {
                    Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(b).into_owned(),
                    other => other.to_string(),
                };
                map.insert(key, from_val(v, depth + 1)?);
            }
            Value::Object(map)
        }
    })
}

fn num_to_value(n: &Num) -> Value {
    match n {
        Num::Int(i) => Value::from(*i as i64),
        Num::Float(f) => float_value(*f),
        Num::BigInt(_) | Num::Dec(_) => {
            let text = n.to_string();
            serde_json::from_str::<Value>(&text)
                .ok()
                .filter(Value::is_number)
                .unwrap_or_else(|| float_value(text.parse().unwrap_or(f64::NAN)))
        }
    }
}

/// jq prints NaN as null and infinities as the largest finite doubles.
pub(crate) fn float_value(f: f64) -> Value {
    if f.is_nan() {
        Value::Null
    } else if f.is_infinite() {
        Value::Number(Number::from_f64(f64::MAX.copysign(f)).expect("finite"))
    } else if f.fract() == 0.0 && f.abs() < 1e17 {
        // jq prints integral floats without a fraction: 3.0 → 3.
        #[allow(
            clippy::cast_possible_truncation,
            reason = "checked to be integral and in range"
        )]
        Value::from(f as i64)
    } else {
        Value::Number(Number::from_f64(f).expect("finite"))
    }
}
