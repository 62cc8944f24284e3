//! jq's arithmetic on [`V`]: numbers in doubles (integers exact while they fit),
//! string repetition within the size budget, division by zero as an error, and jq's
//! messages for operands that do not go together.

#![allow(
    clippy::many_single_char_names,
    reason = "short names for operands, as in jaq"
)]

use super::limits;
use super::value::{V, depth, describe, err, math_err, num_f64, str_val, type_name};
use jaq_core::ValR;
use jaq_json::{Num, Val};
use std::rc::Rc;

/// How deeply jq's recursive operations (merging, comparing) may nest.
pub(crate) const MAX_NESTING: usize = 10_000;

/// Integers up to this magnitude are exact in a double.
const EXACT: i64 = 1 << 53;

/// `l op r` as jq computes it, in doubles; integers stay integers while exact.
fn num_op(l: &Num, r: &Num, op: fn(f64, f64) -> f64, int: fn(i64, i64) -> Option<i64>) -> V {
    if let (Num::Int(a), Num::Int(b)) = (l, r) {
        let (a, b) = (*a as i64, *b as i64);
        if a.unsigned_abs() <= EXACT.unsigned_abs()
            && b.unsigned_abs() <= EXACT.unsigned_abs()
            && let Some(c) = int(a, b).filter(|c| c.unsigned_abs() <= EXACT.unsigned_abs())
        {
            return V(Val::Num(Num::from_integral(c)));
        }
    }
    V::from(op(num_f64(l), num_f64(r)))
}

/// Whether `v` is the number zero.
fn is_zero(v: &Val) -> bool {
    matches!(v, Val::Num(n) if super::value::num_f64(n) == 0.0)
}

impl std::ops::Add for V {
    type Output = ValR<V>;
    fn add(self, r: V) -> ValR<V> {
        match (self.0, r.0) {
            (Val::Num(a), Val::Num(b)) => Ok(num_op(&a, &b, |x, y| x + y, i64::checked_add)),
            (Val::Null, x) | (x, Val::Null) => Ok(V(x)),
            (Val::TStr(l), Val::TStr(r)) => {
                limits::check_bytes(l.len() + r.len());
                let mut s = l.to_vec();
                s.extend_from_slice(&r);
                Ok(V(str_val(s)))
            }
            (Val::Arr(mut l), Val::Arr(r)) => {
                limits::check_len(l.len() + r.len());
                Rc::make_mut(&mut l).extend(r.iter().cloned());
                Ok(V(Val::Arr(l)))
            }
            (l @ (Val::Num(_) | Val::Obj(_)), r) if type_name(&l) == type_name(&r) => {
                (l + r).map(V).map_err(err)
            }
            (l, r) => Err(math_err(&l, "added", &r)),
        }
    }
}

impl std::ops::Sub for V {
    type Output = ValR<V>;
    fn sub(self, r: V) -> ValR<V> {
        match (self.0, r.0) {
            (Val::Num(a), Val::Num(b)) => Ok(num_op(&a, &b, |x, y| x - y, i64::checked_sub)),
            (l @ (Val::Num(_) | Val::Arr(_)), r) if type_name(&l) == type_name(&r) => {
                (l - r).map(V).map_err(err)
            }
            (l, r) => Err(math_err(&l, "subtracted", &r)),
        }
    }
}

impl std::ops::Mul for V {
    type Output = ValR<V>;
    fn mul(self, r: V) -> ValR<V> {
        match (self.0, r.0) {
            (Val::Num(a), Val::Num(b)) => Ok(num_op(&a, &b, |x, y| x * y, i64::checked_mul)),
            (Val::TStr(s), Val::Num(n)) | (Val::Num(n), Val::TStr(s)) => {
                let times = num_f64(&n);
                if times.is_nan() || times < 0.0 {
                    return Ok(V(Val::Null));
                }
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "checked >= 0"
                )]
                let times = times.min(1e18) as usize;
                if s.len().saturating_mul(times) > limits::MAX_STRING_BYTES {
                    return Err(err("Repeat string result too long"));
                }
                Ok(V(str_val(s.repeat(times))))
            }
            (l @ Val::Obj(_), r @ Val::Obj(_))
                if depth(&l, MAX_NESTING) > MAX_NESTING || depth(&r, MAX_NESTING) > MAX_NESTING =>
            {
                Err(err("Object merge too deep"))
            }
            (l @ (Val::Num(_) | Val::Obj(_)), r) if type_name(&l) == type_name(&r) => {
                (l * r).map(V).map_err(err)
            }
            (l, r) => Err(math_err(&l, "multiplied", &r)),
        }
    }
}

impl std::ops::Div for V {
    type Output = ValR<V>;
    fn div(self, r: V) -> ValR<V> {
        match (self.0, r.0) {
            (l @ Val::Num(_), r @ Val::Num(_)) if is_zero(&r) => Err(err(format!(
                "{} and {} cannot be divided because the divisor is zero",
                describe(&l),
                describe(&r)
            ))),
            (l @ (Val::Num(_) | Val::TStr(_)), r) if type_name(&l) == type_name(&r) => {
                (l / r).map(V).map_err(err)
            }
            (l, r) => Err(math_err(&l, "divided", &r)),
        }
    }
}

impl std::ops::Rem for V {
    type Output = ValR<V>;
    fn rem(self, r: V) -> ValR<V> {
        match (&self.0, &r.0) {
            (Val::Num(a), Val::Num(b)) => {
                let (x, y) = (super::value::num_f64(a), super::value::num_f64(b));
                if x.is_nan() || y.is_nan() {
                    return Ok(V::from(f64::NAN));
                }
                // jq truncates both operands to integers.
                #[allow(clippy::cast_possible_truncation, reason = "saturating like jq")]
                let (x, y) = (x as i64, y as i64);
                if y == 0 {
                    return Err(err(format!(
                        "{} and {} cannot be divided (remainder) because the divisor is zero",
                        describe(&self.0),
                        describe(&r.0)
                    )));
                }
                let m = x.unsigned_abs() % y.unsigned_abs();
                #[allow(clippy::cast_possible_wrap, reason = "smaller than |x|")]
                let m = if x < 0 { -(m as i64) } else { m as i64 };
                Ok(V(Val::Num(Num::from_integral(m))))
            }
            (l, r) => Err(math_err(l, "divided", r)),
        }
    }
}

impl std::ops::Neg for V {
    type Output = ValR<V>;
    fn neg(self) -> ValR<V> {
        match self.0 {
            n @ Val::Num(_) => (-n).map(V).map_err(err),
            v => Err(err(format!("{} cannot be negated", describe(&v)))),
        }
    }
}
