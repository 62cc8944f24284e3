//! Tests of the direct evaluator against the interpreter.

use super::super::{Engine, Jq};
use serde_json::{Value, json};
use std::time::Instant;

const W: &str = concat!(
    "map({order_id: .id, email: (.customer.email|ascii_downcase), ",
    "total: ([.lines[] | .qty * .price] | add), lines: [.lines[] | {sku, qty}]})"
);

/// Filters in the subset, one a line; the first four are the hot ones of workload W.
const SUPPORTED: &str = r#"
.total > 0
.email | contains("@")
.id
map(select(.total > 0))
.
."id"
.customer.email
.[0]
.[-1]
.[]
.lines[]
.lines[0].sku
.lines[-1]
.[]?
.a?
.lines[]?.qty
.customer?.email
.tags[.n]
.[.id]
1
-1
1.5
-2.25
"lit"
"esc\n\u00e9\"\t"
true
false
null
[]
{}
.id, .total
[.[]?]
[.lines[]?.qty]
{a: .id, "b": .total, id, ("k"): 1, "x y"}
{(.id|tostring): 1}
{a: (1,2), b: 3}
{a: empty, b: 1}
{a: 1, a: 2, b: 3}
.total + 1
.total - 1
.total * 2
.total / 2
.total % 2
.n + 1
.n * 2
.m - 1
-.m
1 + 2 * 3 - 4 / 8 % 3
.lines[0].qty * .lines[0].price
.id + "x"
.tags + ["z"]
. + {z: 1}
null + .id
.tags - ["x"]
-.total
-.id
10 / 4
7 % 3
-7 % 3
5 % -2
5.5 % 2
1 / 3
0.1 + 0.2
1 / 0
(1, 2) * (10, 20)
.total >= 0
.total < 10
.total <= 45.48
.total == 45.48
.total != null
.id == "ORD-1"
1 == 1.5 - 0.5
[1, 2] < [1, 3]
{a: 1} == {a: (0.5 + 0.5)}
{b: 1, a: 2} < {a: 3}
{} < {a: 1}
null < false
"a" < "b"
.customer > .lines
.n > .m
.n == .n + 0
.big | tostring
.big + 1
.big == .big
.n < .total
.total > 0 and .id != null
.total < 0 or .email
(true, false) and (true, false)
(true, false) or (true, false)
not
.total | not
.x // "default"
.id // .total
(null, false) // 3
empty // 1
(1, null, 2) // 3
if .total > 0 then "pos" elif .total == 0 then "zero" else "neg" end
if .id then 1 end
if (true, false) then 1 else 2 end
length
.id | length
.email | length
.total | length
type
[.[]? | type]
keys
.customer | keys
has("id")
has(0)
.tags | has(-1)
.tags | has(5)
tostring
.id | tostring
.total | tostring
.n | tostring
tonumber
"12" | tonumber
"-0" | tonumber
"1.5" | tonumber
.id | tonumber
add
.tags | add
[.lines[]? | .qty] | add
.lines | add
map(.qty)
.lines | map(.qty * .price)
map(.)
select(.total > 0)
[.[]? | select(. != null)]
contains({id: 7})
.tags | contains(["x"])
contains(1)
.email | ascii_downcase
.email | ascii_upcase
.email | startswith("a")
.email | endswith(".de")
.id | ltrimstr("ORD-")
.id | rtrimstr("1")
.tags | join(",")
.tags | join(", ")
first
last
.tags | first
empty
[.[]? | -.]
map(.email | contains("@"))
.n - 10
.n + 1
.m - 1
.big * 1
.n * 2
.total % 2
.n % 3
.id | contains(1)
.tags | contains(["x"])
.tags | contains("x")
.tags | has(0)
.email | ltrimstr(1)
.id | tostring
.n | tostring
.total / 0
"#;

/// Filters outside the subset, one a line: they must stay with the interpreter.
const UNSUPPORTED: &str = r#"
..
reduce .[] as $x (0; . + $x)
.a as $x | $x
try .a
"\(.id)"
@base64
def f: 1; f
.[1:]
.a = 1
[.[]? | numbers]
1.0
1e3
first(.[])
limit(1; .[])
.[] |= 1
"#;

/// Inputs, as a stream of JSON texts.
const INPUTS: &str = r#"
{"id":"ORD-1","customer":{"email":"Anna.Müller@Example.COM","name":"Anna"},
 "lines":[{"sku":"A","qty":2,"price":19.99},{"sku":"B","qty":1,"price":5.5}],
 "total":45.48,"email":"a@b","tags":["x","y"],"n":1}
{"id":"ORD-2","customer":{"email":"BEN@SHOP.TEST"},
 "lines":[{"sku":"C","qty":3,"price":10},{"sku":"D","qty":2,"price":12.0}],
 "total":0,"email":"ben.de","tags":[],"n":0}
{"id":7}
{"id":null,"customer":null,"lines":null,"total":null,"email":null}
{"id":"x","customer":{"email":""},"lines":[],"total":-3,"email":"noat"}
{"id":-5,"total":-1.5,"n":9223372036854775807,"m":-9223372036854775808,
 "big":18446744073709551615,"lines":[{"qty":9223372036854775807,"price":2}]}
{"id":"ÄÖÜ","email":"ÄÖÜ@ß.de","tags":["é","a",null,1],"total":1e300}
{"b":1,"a":{"c":[1,2,{"d":null}]},"é":2,"A":3,"total":1808.1999999999998}
{"a":0.1,"b":0.2,"c":1e17,"d":123456789012345680000.0,"e":-0.0,"total":3.0}
[1, 2.5, "a", null, true, [1], {"a": 1}, -0.0, 3.0]
[{"id":"ORD-1","customer":{"email":"X@Y.Z"},"lines":[{"sku":"A","qty":2,"price":19.99}]},
 {"id":"ORD-2","customer":{"email":"q"},"lines":[{"sku":"B","qty":1,"price":0}],"total":0},
 {"id":"ORD-3","customer":{"email":"W@v"},"lines":[],"total":2.5}]
[] {} 0 -0.0 3.0 1e300 "str" null true [1,2,3] ["a","b"]
"#;

fn lines(list: &str) -> impl Iterator<Item = &str> {
    list.lines().filter(|l| !l.is_empty())
}

#[test]
fn fast_path_agrees_with_the_interpreter() {
    let inputs = serde_json::Deserializer::from_str(INPUTS).into_iter::<Value>();
    let inputs: Vec<Value> = inputs.collect::<Result<_, _>>().unwrap();
    let mut answered = 0;
    for src in lines(SUPPORTED).chain([W]) {
        let interp = Jq::compile_with(src, Engine::Interpreter).unwrap();
        let fast = super::compile(src).unwrap();
        for input in &inputs {
            let expected = interp.run(input);
            if let Some(got) = fast.eval_all(input) {
                answered += 1;
                let got = got.unwrap();
                let Ok(expected) = &expected else {
                    panic!("{src} on {input}: fast gave {got:?}, interpreter {expected:?}");
                };
                assert_eq!(&got, expected, "{src} on {input}");
                let text = |v: &[Value]| serde_json::to_string(v).unwrap();
                assert_eq!(text(&got), text(expected), "{src} on {input}");
            }
            if let Some(got) = fast.eval_test(input) {
                assert_eq!(got, interp.test(input), "{src} on {input} as a condition");
            }
        }
    }
    // Most cases must be answered, not just handed back to the interpreter.
    assert!(
        answered > 1000,
        "the fast path answered only {answered} cases"
    );
}

#[test]
fn subset_is_compiled() {
    for src in lines(SUPPORTED).chain([W]) {
        assert_eq!(Jq::compile(src).unwrap().engine(), Engine::Fast, "{src}");
    }
    for src in lines(UNSUPPORTED) {
        let jq = Jq::compile(src).unwrap();
        assert_eq!(jq.engine(), Engine::Interpreter, "{src}");
    }
}

#[test]
fn hot_filters_answer_on_orders() {
    let mapped = &super::compile(W)
        .unwrap()
        .eval_all(&orders(50))
        .unwrap()
        .unwrap()[0];
    let hot: Vec<_> = lines(SUPPORTED)
        .take(4)
        .map(|f| super::compile(f).unwrap())
        .collect();
    assert!(hot[3].eval_all(mapped).is_some());
    for order in mapped.as_array().unwrap() {
        for fast in &hot[..3] {
            assert!(fast.eval_all(order).is_some() && fast.eval_test(order).is_some());
        }
    }
}

/// Orders shaped as `bench/gen_orders.py` makes them (deterministic).
fn orders(n: usize) -> Value {
    let mut seed: u64 = 20_240_601;
    let mut next = move |m: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (seed >> 33) % m
    };
    let order = |i: usize| {
        let free = next(200) == 0;
        let lines: Vec<Value> = (0..=next(5))
            .map(|_| {
                let cents = if free { 0 } else { 50 + next(24_950) };
                let price = format!("{}.{:02}", cents / 100, cents % 100);
                let price: Value = serde_json::from_str(&price).unwrap();
                let sku = format!("SKU-{:06}", next(1_000_000));
                json!({"sku": sku, "qty": 1 + next(6), "price": price})
            })
            .collect();
        let email = format!("Asa.Muller{}@Example.COM", next(1000));
        json!({
            "id": format!("ORD-{i:08}"), "created_at": "2024-03-05T12:34:56Z",
            "status": "shipped", "customer": {"name": "Åsa Müller", "email": email},
            "lines": lines, "shipping": {"country": "DE", "city": "München"},
        })
    };
    (1..=n).map(order).collect()
}

#[test]
#[ignore = "micro-benchmark: cargo test --release --lib jq::fast -- --ignored --nocapture"]
fn bench_w() {
    let n = 10_000;
    let orders = orders(n);
    let batches: Vec<Value> = orders
        .as_array()
        .unwrap()
        .chunks(1000)
        .map(Value::from)
        .collect();
    let w = Jq::compile(W).unwrap();
    let mapped: Vec<Value> = batches.iter().map(|b| w.run_one(b).unwrap()).collect();
    let time = |src: &str, engine: Engine, inputs: &[Value], per_element: bool| {
        // Compiling loads jaq's definitions (milliseconds): keep it out of the timing.
        let jq = Jq::compile_with(src, engine).unwrap();
        assert_eq!(jq.engine(), engine, "{src}");
        let start = Instant::now();
        let mut outs = Vec::new();
        for batch in inputs {
            if per_element {
                let elements = batch.as_array().unwrap();
                outs.extend(elements.iter().map(|x| Value::Bool(jq.test(x).unwrap())));
            } else {
                outs.extend(jq.run(batch).unwrap());
            }
        }
        #[allow(clippy::cast_precision_loss, reason = "small counts")]
        let micros = start.elapsed().as_secs_f64() * 1e6 / n as f64;
        (micros, outs)
    };
    let cases = [
        (W, &batches, false),
        (".total > 0", &mapped, true),
        (r#".email | contains("@")"#, &mapped, true),
        ("map(select(.total > 0))", &mapped, false),
    ];
    for (src, inputs, per_element) in cases {
        let _ = time(src, Engine::Fast, inputs, per_element);
        let (fast, a) = time(src, Engine::Fast, inputs, per_element);
        let (interp, b) = time(src, Engine::Interpreter, inputs, per_element);
        assert_eq!(a, b, "{src}");
        let ratio = interp / fast;
        println!(
            "{src}\n  fast {fast:.2} µs/order, interpreter {interp:.2} µs/order ({ratio:.1}x)"
        );
    }
}
