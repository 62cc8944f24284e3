//! Native filters over [`V`] where jaq's differ from jq's or jq has one jaq lacks:
//! `tojson`, `tostring`, `fromjson`, `tonumber`, `length`, `utf8bytelength`,
//! `contains`, `has`, `_strindices`, `bsearch`, `implode`, `ltrimstr`, `rtrimstr`,
//! `trim`/`ltrim`/`rtrim`, `builtins` and the `@format` strings.

#![allow(
    clippy::many_single_char_names,
    reason = "short names for operands, as in jaq"
)]

mod strings;
mod values;

use super::format::{self, dump};
use super::value::{Error, V, describe, err};
use jaq_core::native::{Filter, Fun, bome, run, unary, v};
use jaq_core::{DataT, RunPtr};
use jaq_json::Val;
use std::sync::OnceLock;
use strings::{fromjson, groups, implode, tonumber, trim, trim_str};
use values::{contains, has, indices, length, str_indices};

fn string(s: impl Into<String>) -> V {
    V::from(s.into())
}

/// Names of all definitions, as `name/arity`, for `builtins`.
pub(crate) static BUILTINS: OnceLock<Vec<String>> = OnceLock::new();

/// The native filters, named `_n_*`; `defs.jq` puts them under jq's names.
pub(crate) fn funs<D: for<'a> DataT<V<'a> = V>>() -> impl Iterator<Item = Fun<D>> {
    base().into_vec().into_iter().map(run)
}

fn base<D: for<'a> DataT<V<'a> = V>>() -> Box<[Filter<RunPtr<D>>]> {
    Box::new([
        ("_n_tojson", v(0), |cv| bome(Ok(string(dump(&cv.1.0))))),
        ("_n_env", v(0), |_| {
            bome(Ok(V(super::interp::to_val(super::environment()))))
        }),
        ("_n_tostring", v(0), |cv| {
            bome(Ok(string(format::text(&cv.1.0))))
        }),
        ("_n_fromjson", v(0), |cv| bome(fromjson(&cv.1.0))),
        ("_n_tonumber", v(0), |cv| bome(tonumber(&cv.1.0))),
        ("_n_length", v(0), |cv| bome(length(&cv.1.0))),
        ("_n_utf8bytelength", v(0), |cv| {
            bome(match &cv.1.0 {
                Val::TStr(s) => Ok(V::from(s.len())),
                other => Err(err(format!(
                    "{} only strings have UTF-8 byte length",
                    describe(other)
                ))),
            })
        }),
        ("_n_contains", v(1), |cv| {
            unary(cv, |x, y| contains(&x.0, &y.0).map(V::from))
        }),
        ("_n_has", v(1), |cv| {
            unary(cv, |x, k| has(&x.0, &k.0).map(V::from))
        }),
        ("_n_strindices", v(1), |cv| {
            unary(cv, |s, x| str_indices(&s.0, &x.0))
        }),
        ("_n_bsearch", v(1), |cv| {
            unary(cv, |a, x| match &a.0 {
                Val::Arr(items) => Ok(V::from(match items.binary_search(&x.0) {
                    Ok(i) => i.cast_signed(),
                    Err(i) => -1 - i.cast_signed(),
                })),
                other => Err(err(format!("{} cannot be searched from", describe(other)))),
            })
        }),
        ("_n_implode", v(0), |cv| bome(implode(&cv.1.0))),
        ("_n_ltrimstr", v(1), |cv| {
            unary(cv, |s, x| trim_str(&s, &x, true))
        }),
        ("_n_rtrimstr", v(1), |cv| {
            unary(cv, |s, x| trim_str(&s, &x, false))
        }),
        ("_n_trim", v(0), |cv| bome(trim(&cv.1.0, true, true))),
        ("_n_ltrim", v(0), |cv| bome(trim(&cv.1.0, true, false))),
        ("_n_rtrim", v(0), |cv| bome(trim(&cv.1.0, false, true))),
        ("_n_format", v(1), |cv| {
            unary(cv, |x, name| {
                let name = format::text(&name.0);
                format::apply(&name, &x.0).map(string).map_err(err)
            })
        }),
        // Under jaq-json's names too: jaq's own definitions call these.
        ("fromjson", v(0), |cv| bome(fromjson(&cv.1.0))),
        ("tojson", v(0), |cv| bome(Ok(string(dump(&cv.1.0))))),
        ("length", v(0), |cv| bome(length(&cv.1.0))),
        ("contains", v(1), |cv| {
            unary(cv, |x, y| contains(&x.0, &y.0).map(V::from))
        }),
        ("has", v(1), |cv| {
            unary(cv, |x, k| has(&x.0, &k.0).map(V::from))
        }),
        ("indices", v(1), |cv| unary(cv, |x, y| indices(&x.0, &y.0))),
        ("_n_isnan", v(0), |cv| {
            bome(Ok(V::from(
                matches!(&cv.1.0, Val::Num(n) if super::value::num_f64(n).is_nan()),
            )))
        }),
        ("_n_comparable", v(0), |cv| {
            let deep = super::value::depth(&cv.1.0, super::value::MAX_NESTING);
            bome(if deep > super::value::MAX_NESTING {
                Err(err("Comparison too deep"))
            } else {
                Ok(cv.1)
            })
        }),
        ("_n_groups", v(1), |cv| {
            unary(cv, |_, re| Ok(groups(&format::text(&re.0))))
        }),
        ("_n_nan", v(0), |_| bome(Ok(V::from(f64::NAN)))),
        ("_n_infinite", v(0), |_| bome(Ok(V::from(f64::INFINITY)))),
        ("_n_describe", v(0), |cv| {
            bome(Ok(string(describe(&cv.1.0))))
        }),
        ("_n_builtins", v(0), |_| {
            let names = BUILTINS.get().cloned().unwrap_or_default();
            bome(Ok(names.into_iter().map(string).collect()))
        }),
    ])
}
