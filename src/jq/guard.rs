//! Refuses jq definitions that call themselves on every path: they can never return,
//! and the interpreter would recurse until the process's stack is exhausted (an abort,
//! not an error). Recursion behind a condition (`if`, `//`, `and`/`or`, the right side
//! of `|`, a call's arguments) is allowed: it ends on finite data.

use super::CompileError;
use jaq_core::load::parse::{BinaryOp, Def, Term};

/// A group of definitions as the parser gives them.
type Defs<'s> = [Def<&'s str, Term<&'s str>>];

/// The first definition in `source` that always calls itself.
pub(crate) fn check(source: &str) -> Result<(), CompileError> {
    let Some(term) = jaq_core::load::parse(source, |p| p.term()) else {
        // Parse errors are reported by the compiler.
        return Ok(());
    };
    match find(&term) {
        None => Ok(()),
        Some(name) => {
            let start = (name.as_ptr() as usize).wrapping_sub(source.as_ptr() as usize);
            let range = if start + name.len() <= source.len() {
                start..start + name.len()
            } else {
                0..source.len()
            };
            Err(CompileError {
                range,
                message: format!(
                    "jq: the definition `{name}` calls itself on every path, so it can never return"
                ),
            })
        }
    }
}

/// A definition anywhere in `t` whose body calls it unconditionally.
fn find<'s>(t: &Term<&'s str>) -> Option<&'s str> {
    let mut found = None;
    visit(t, &mut |defs: &Defs<'s>| {
        for d in defs {
            if found.is_none() && always_calls(&d.body, d.name, d.args.len()) {
                found = Some(d.name);
            }
        }
    });
    found
}

/// Calls `f` on every group of definitions in `t`.
fn visit<'s>(t: &Term<&'s str>, f: &mut dyn FnMut(&Defs<'s>)) {
    match t {
        Term::Def(defs, rest) => {
            f(defs);
            for d in defs {
                visit(&d.body, f);
            }
            visit(rest, f);
        }
        Term::Arr(Some(x)) | Term::Neg(x) | Term::Label(_, x) => visit(x, f),
        Term::BinOp(l, _, r) => {
            visit(l, f);
            visit(r, f);
        }
        Term::Obj(entries) => {
            for (k, v) in entries {
                visit(k, f);
                if let Some(v) = v {
                    visit(v, f);
                }
            }
        }
        Term::TryCatch(body, catch) => {
            visit(body, f);
            if let Some(c) = catch {
                visit(c, f);
            }
        }
        Term::IfThenElse(branches, else_) => {
            for (c, then) in branches {
                visit(c, f);
                visit(then, f);
            }
            if let Some(e) = else_ {
                visit(e, f);
            }
        }
        Term::Fold(_, xs, _, args) => {
            visit(xs, f);
            for a in args {
                visit(a, f);
            }
        }
        Term::Call(_, args) => {
            for a in args {
                visit(a, f);
            }
        }
        Term::Path(head, _) => visit(head, f),
        _ => {}
    }
}

/// Whether evaluating `t` always evaluates a call of `name` with `arity` arguments.
/// jq names a function by name and arity: in `def f(a; f): f`, the call `f` is the
/// parameter, not the definition.
fn always_calls(t: &Term<&str>, name: &str, arity: usize) -> bool {
    let again = |t: &Term<&str>| always_calls(t, name, arity);
    match t {
        Term::Call(n, args) => *n == name && args.len() == arity,
        Term::Arr(Some(x)) | Term::Neg(x) | Term::Label(_, x) | Term::Path(x, _) => again(x),
        Term::TryCatch(body, _) => again(body),
        Term::Fold(_, xs, _, _) => again(xs),
        Term::Def(defs, rest) => {
            !defs.iter().any(|d| d.name == name && d.args.len() == arity) && again(rest)
        }
        Term::IfThenElse(branches, _) => branches.first().is_some_and(|(cond, _)| again(cond)),
        Term::Obj(entries) => entries
            .iter()
            .any(|(k, v)| again(k) || v.as_ref().is_some_and(&again)),
        Term::BinOp(l, op, r) => match op {
            // The right side runs only for outputs (or falsy outputs) of the left.
            BinaryOp::Pipe(_) | BinaryOp::Alt | BinaryOp::Or | BinaryOp::And => again(l),
            // Both sides run: `,`, arithmetic, comparison and the assignments.
            _ => again(l) || again(r),
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unconditional_recursion_is_refused() {
        for src in [
            "def f: [f]; f",
            "def f: 1 + f; f",
            "def f: f; 1",
            "def g: {a: g}; g",
            ". as $x | def f: (f, 1); f",
            "def f(g): [f(g)]; 1",
        ] {
            let err = check(src).unwrap_err();
            assert!(
                err.message.contains("calls itself on every path"),
                "{src}: {err:?}"
            );
            assert_eq!(
                &src[err.range.clone()],
                &src[src.find("def ").unwrap() + 4..][..1],
                "{src}"
            );
        }
    }

    #[test]
    fn guarded_recursion_is_allowed() {
        for src in [
            "def fact: if . <= 1 then 1 else . * (. - 1 | fact) end; fact",
            "def walk2: [.[]? | walk2]; walk2",
            "def f: .a // f; f",
            "map(.a)",
            "def f: select(. > 0) | f; 1",
            // A parameter may share the definition's name: `f` is then the parameter.
            "def f(a;b;c;d;e;f): [a+1,b,c,d,e,f]; f(1;2;3;4;5;6)",
            "def f(f): f; f(1)",
            "def f: def f: 1; f; f",
            "def f(x): f; 1",
        ] {
            assert!(check(src).is_ok(), "{src}");
        }
    }
}
