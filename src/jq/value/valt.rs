//! How the interpreter reads and updates a [`V`]: iteration, indexing, slicing and
//! path updates (`.a = …`, `del(…)`), with jq's rules and error messages.

#![allow(
    clippy::many_single_char_names,
    reason = "short names for operands, as in jaq"
)]

use super::{Error, V, describe, err, num_f64, str_val, type_name};
use crate::jq::limits;
use jaq_core::path::Opt;
use jaq_core::{Exn, ValR, ValX, val};
use jaq_json::{Num, Val};
use std::rc::Rc;

fn iter_err(v: &Val) -> Error {
    match v {
        Val::Null => err("Cannot iterate over null"),
        _ => err(format!("Cannot iterate over {}", describe(v))),
    }
}

fn index_err(v: &Val, i: &Val) -> Error {
    let idx = match i {
        Val::TStr(_) | Val::BStr(_) | Val::Num(_) => describe(i),
        other => type_name(other).to_owned(),
    };
    err(format!("Cannot index {} with {idx}", type_name(v)))
}

/// An index as jq reads it: floats round down; `None` for NaN.
fn as_index(n: &Num) -> Option<isize> {
    match n {
        Num::Int(i) => Some(*i),
        _ => {
            let f = num_f64(n).floor();
            #[allow(clippy::cast_possible_truncation, reason = "saturating on purpose")]
            (!f.is_nan()).then_some(f as isize)
        }
    }
}

/// Clips a slice's bounds to `0..=len` (jq rounds the start down and the end up).
fn bounds(range: &val::Range<&V>, len: usize) -> Result<(usize, usize), Error> {
    #[allow(clippy::cast_possible_wrap, reason = "lengths fit isize")]
    let len_i = len as isize;
    let bound = |b: Option<&V>, default: usize, up: bool| -> Result<usize, Error> {
        match b.map(|v| &v.0) {
            None | Some(Val::Null) => Ok(default),
            Some(Val::Num(n)) => {
                let f = num_f64(n);
                if f.is_nan() {
                    return Ok(default);
                }
                let f = if up { f.ceil() } else { f.floor() };
                #[allow(clippy::cast_possible_truncation, reason = "saturating on purpose")]
                let i = f as isize;
                let i = if i < 0 { i.saturating_add(len_i) } else { i };
                #[allow(clippy::cast_sign_loss, reason = "clamped to 0..=len")]
                Ok(i.clamp(0, len_i) as usize)
            }
            Some(other) => Err(err(format!(
                "Start and end indices of an array slice must be numbers, not {}",
                type_name(other)
            ))),
        }
    };
    let from = bound(range.start, 0, false)?;
    let upto = bound(range.end, len, true)?;
    Ok((from, upto.max(from)))
}

fn char_offsets(s: &[u8]) -> Vec<usize> {
    let text = String::from_utf8_lossy(s);
    let mut offs: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    offs.push(text.len());
    offs
}

fn wrap_iter(it: impl Iterator<Item = Val> + 'static) -> Box<dyn Iterator<Item = ValR<V>>> {
    Box::new(it.map(|v| Ok(V(v))))
}

fn unwrap_rc<T: Clone>(a: Rc<T>) -> T {
    Rc::try_unwrap(a).unwrap_or_else(|a| (*a).clone())
}

impl jaq_core::ValT for V {
    fn from_num(n: &str) -> ValR<V> {
        Ok(V(Val::Num(Num::from_dec_str(n))))
    }

    fn from_map<I: IntoIterator<Item = (Self, Self)>>(iter: I) -> ValR<V> {
        let mut map = jaq_json::Map::default();
        for (k, v) in iter {
            V::key(&k.0)?;
            map.insert(k.0, v.0);
        }
        Ok(V(Val::obj(map)))
    }

    fn key_values(self) -> Box<dyn Iterator<Item = ValR<(V, V), V>>> {
        match self.0 {
            Val::Arr(a) => Box::new(
                unwrap_rc(a)
                    .into_iter()
                    .enumerate()
                    .map(|(i, x)| Ok((V::from(i), V(x)))),
            ),
            Val::Obj(o) => Box::new(unwrap_rc(o).into_iter().map(|(k, x)| Ok((V(k), V(x))))),
            v => Box::new(std::iter::once(Err(iter_err(&v)))),
        }
    }

    fn values(self) -> Box<dyn Iterator<Item = ValR<V>>> {
        match self.0 {
            Val::Arr(a) => wrap_iter(unwrap_rc(a).into_iter()),
            Val::Obj(o) => wrap_iter(unwrap_rc(o).into_iter().map(|(_, x)| x)),
            v => Box::new(std::iter::once(Err(iter_err(&v)))),
        }
    }

    fn index(self, index: &Self) -> ValR<V> {
        match (&self.0, &index.0) {
            (Val::Null, Val::TStr(_) | Val::BStr(_) | Val::Num(_) | Val::Null) => Ok(V(Val::Null)),
            (Val::Obj(o), k @ (Val::TStr(_) | Val::BStr(_))) => {
                Ok(V(o.get(k).cloned().unwrap_or_default()))
            }
            (Val::Arr(a), Val::Num(n)) => Ok(V(as_index(n)
                .and_then(|i| {
                    let i = if i < 0 {
                        i.checked_add_unsigned(a.len())?
                    } else {
                        i
                    };
                    usize::try_from(i).ok()
                })
                .and_then(|i| a.get(i).cloned())
                .unwrap_or_default())),
            (Val::Arr(_), Val::Arr(_)) => jaq_core::ValT::index(self.0, &index.0)
                .map(V)
                .map_err(|_| index_err(&Val::Null, &Val::Null)),
            (Val::Arr(_) | Val::TStr(_) | Val::BStr(_) | Val::Null, Val::Obj(o)) => {
                let start = o.get(&Val::utf8_str("start")).cloned().map(V);
                let end = o.get(&Val::utf8_str("end")).cloned().map(V);
                self.range(start.as_ref()..end.as_ref())
            }
            (l, r) => Err(index_err(l, r)),
        }
    }

    fn range(self, range: val::Range<&Self>) -> ValR<V> {
        match self.0 {
            Val::Null => Ok(V(Val::Null)),
            Val::Arr(a) => {
                let (from, upto) = bounds(&range, a.len())?;
                Ok(V::arr(a[from..upto].to_vec()))
            }
            Val::TStr(s) => {
                let offs = char_offsets(&s);
                let (from, upto) = bounds(&range, offs.len() - 1)?;
                Ok(V(Val::utf8_str(s.slice(offs[from]..offs[upto]))))
            }
            v => Err(err(format!("Cannot index {} with object", type_name(&v)))),
        }
    }

    fn map_values<'a, I: Iterator<Item = ValX<'a, V>>>(
        self,
        opt: Opt,
        f: impl Fn(V) -> I,
    ) -> ValX<'a, V> {
        match self.0 {
            Val::Arr(a) => {
                let mut out = Vec::new();
                for x in unwrap_rc(a) {
                    if let Some(y) = f(V(x)).next() {
                        out.push(y?.0);
                    }
                }
                Ok(V::arr(out))
            }
            Val::Obj(o) => {
                let mut map = jaq_json::Map::default();
                for (k, x) in unwrap_rc(o) {
                    if let Some(y) = f(V(x)).next() {
                        map.insert(k, y?.0);
                    }
                }
                Ok(V(Val::obj(map)))
            }
            Val::Null => Ok(V(Val::Null)),
            v => opt.fail(V(v), |v| Exn::from(iter_err(&v.0))),
        }
    }

    fn map_index<'a, I: Iterator<Item = ValX<'a, V>>>(
        self,
        index: &Self,
        opt: Opt,
        f: impl Fn(V) -> I,
    ) -> ValX<'a, V> {
        let (mut this, index) = match (self.0, &index.0) {
            (Val::Null, Val::TStr(_) | Val::BStr(_)) => (Val::obj(jaq_json::Map::default()), index),
            (Val::Null, Val::Num(_)) => (Val::Arr(Rc::default()), index),
            (v @ (Val::Arr(_) | Val::TStr(_) | Val::Null), Val::Obj(o)) => {
                let start = o.get(&Val::utf8_str("start")).cloned().map(V);
                let end = o.get(&Val::utf8_str("end")).cloned().map(V);
                return V(v).map_range(start.as_ref()..end.as_ref(), opt, f);
            }
            (v, _) => (v, index),
        };
        match (&mut this, &index.0) {
            (Val::Obj(o), k @ (Val::TStr(_) | Val::BStr(_))) => {
                let o = Rc::make_mut(o);
                let old = o.get(k).cloned().unwrap_or_default();
                match f(V(old)).next().transpose()? {
                    Some(y) => {
                        o.insert(k.clone(), y.0);
                    }
                    None => {
                        o.shift_remove(k);
                    }
                }
                Ok(V(this))
            }
            (Val::Arr(a), Val::Num(n)) => {
                let len = a.len();
                // The index, or why it cannot be written (deleting there is a no-op).
                let at = match as_index(n) {
                    None => Err("Cannot set array element at NaN index"),
                    Some(i) if i < 0 => i
                        .checked_add_unsigned(len)
                        .and_then(|i| usize::try_from(i).ok())
                        .ok_or("Out of bounds negative array index"),
                    Some(i) if i > 536_870_911 => Err("Array index too large"),
                    Some(i) => Ok(usize::try_from(i).unwrap_or(usize::MAX)),
                };
                let old = at.ok().and_then(|i| a.get(i).cloned()).unwrap_or_default();
                let new = f(V(old)).next().transpose()?;
                let a = Rc::make_mut(a);
                match (at, new) {
                    (Err(why), Some(_)) => return opt.fail(V(this), |_| Exn::from(err(why))),
                    (Err(_), None) => {}
                    (Ok(i), Some(y)) => {
                        limits::check_len(i.saturating_add(1));
                        if i >= a.len() {
                            a.resize(i + 1, Val::Null);
                        }
                        a[i] = y.0;
                    }
                    (Ok(i), None) if i < a.len() => {
                        a.remove(i);
                    }
                    (Ok(_), None) => {}
                }
                Ok(V(this))
            }
            (Val::Arr(_), Val::Arr(_)) => {
                let e = err("Cannot update field at array index of array");
                opt.fail(V(this), |_| Exn::from(e))
            }
            (l, r) => {
                let e = index_err(l, r);
                opt.fail(V(this), |_| Exn::from(e))
            }
        }
    }

    fn map_range<'a, I: Iterator<Item = ValX<'a, V>>>(
        self,
        range: val::Range<&Self>,
        opt: Opt,
        f: impl Fn(V) -> I,
    ) -> ValX<'a, V> {
        match self.0 {
            Val::Null | Val::Arr(_) => {
                let mut a = match self.0 {
                    Val::Arr(a) => unwrap_rc(a),
                    _ => Vec::new(),
                };
                let (from, upto) = bounds(&range, a.len())?;
                let part = V::arr(a[from..upto].to_vec());
                let new = match f(part).next().transpose()? {
                    Some(V(Val::Arr(y))) => unwrap_rc(y),
                    None => Vec::new(),
                    Some(_) => {
                        return Err(Exn::from(err(
                            "A slice of an array can only be assigned another array",
                        )));
                    }
                };
                a.splice(from..upto, new);
                Ok(V::arr(a))
            }
            Val::TStr(_) => Err(Exn::from(err("Cannot update string slices"))),
            Val::BStr(s) => {
                let offs = char_offsets(&s);
                let (from, upto) = bounds(&range, offs.len() - 1)?;
                let part = V(Val::utf8_str(s.slice(offs[from]..offs[upto])));
                let new = match f(part).next().transpose()? {
                    Some(V(Val::TStr(y))) => y.to_vec(),
                    None => Vec::new(),
                    Some(_) => {
                        return Err(Exn::from(err(
                            "A slice of a string can only be assigned another string",
                        )));
                    }
                };
                let mut out = s[..offs[from]].to_vec();
                out.extend_from_slice(&new);
                out.extend_from_slice(&s[offs[upto]..]);
                Ok(V(str_val(out)))
            }
            v => opt.fail(V(v), |v| {
                Exn::from(err(format!(
                    "Cannot update field at object index of {}",
                    type_name(&v.0)
                )))
            }),
        }
    }

    fn as_bool(&self) -> bool {
        !matches!(self.0, Val::Null | Val::Bool(false))
    }

    fn into_string(self) -> Self {
        match self.0 {
            Val::TStr(_) => self,
            Val::BStr(b) => V(Val::TStr(b)),
            v => V(str_val(crate::jq::format::dump(&v).into_bytes())),
        }
    }
}

impl jaq_std::ValT for V {
    fn into_seq<S: FromIterator<Self>>(self) -> Result<S, Self> {
        self.0
            .into_seq::<Vec<Val>>()
            .map(|a| a.into_iter().map(V).collect())
            .map_err(V)
    }
    fn is_int(&self) -> bool {
        self.0.is_int()
    }
    fn as_isize(&self) -> Option<isize> {
        self.0.as_isize()
    }
    fn as_f64(&self) -> Option<f64> {
        jaq_std::ValT::as_f64(&self.0)
    }
    fn is_utf8_str(&self) -> bool {
        self.0.is_utf8_str()
    }
    fn as_bytes(&self) -> Option<&[u8]> {
        self.0.as_bytes()
    }
    fn as_sub_str(&self, sub: &[u8]) -> Self {
        V(self.0.as_sub_str(sub))
    }
    fn from_utf8_bytes(b: impl AsRef<[u8]> + Send + 'static) -> Self {
        V(Val::from_utf8_bytes(b))
    }
}
