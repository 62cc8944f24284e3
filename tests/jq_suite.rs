//! jq's own test suite (vendored from jqlang/jq 1.8.2 in `tests/jq-suite/`), run through
//! the code every jq step uses (`Jq::compile` + `Jq::run`), compared against a checked-in
//! list of known failures so that a regression fails the build.

use flowrun::testing::jq::Jq;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// The suite's files, in the order they are reported.
const FILES: [&str; 7] = [
    "jq.test",
    "man.test",
    "base64.test",
    "uri.test",
    "optional.test",
    "onig.test",
    "manonig.test",
];

/// One case of a `.test` file.
enum Case {
    /// Program, input, expected outputs.
    Run {
        program: String,
        input: String,
        expected: Vec<String>,
    },
    /// A program that jq refuses to compile.
    Fail { program: String },
}

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/jq-suite")
}

/// Parses jq's test format: blocks separated by blank lines, `#` comments, `%%FAIL` blocks.
fn parse(text: &str) -> Vec<(usize, Case)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() || line.starts_with('#') {
            i += 1;
            continue;
        }
        let start = i;
        let mut j = i + 1;
        while j < lines.len() && !lines[j].trim().is_empty() {
            j += 1;
        }
        // Comment lines inside a block (`# Runtime error: …`) are not part of the case.
        let block: Vec<&str> = lines[i..j]
            .iter()
            .copied()
            .filter(|l| !l.starts_with('#'))
            .collect();
        if line.starts_with("%%FAIL") {
            if let Some(program) = block.get(1) {
                out.push((
                    start + 2,
                    Case::Fail {
                        program: (*program).to_owned(),
                    },
                ));
            }
        } else if block.len() >= 2 {
            out.push((
                start + 1,
                Case::Run {
                    program: block[0].to_owned(),
                    input: block[1].to_owned(),
                    expected: block[2..].iter().map(|s| (*s).to_owned()).collect(),
                },
            ));
        }
        i = j;
    }
    out
}

/// jq's notion of equal values: numbers by value, objects regardless of key order.
#[allow(clippy::many_single_char_names, reason = "pairs of operands")]
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(i), Some(j)) => i == j,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Runs one case; `Ok(())` when flowrun agrees with jq, else why not.
fn check(case: &Case) -> Result<(), String> {
    match case {
        Case::Fail { program } => match Jq::compile(program) {
            Err(_) => Ok(()),
            Ok(_) => Err("compiles, jq refuses it".into()),
        },
        Case::Run {
            program,
            input,
            expected,
        } => {
            if uses_environment(program) {
                return check_through_the_binary(program, input, expected);
            }
            let jq = Jq::compile(program).map_err(|e| {
                let m: Vec<_> = e.iter().map(|e| e.message.as_str()).collect();
                format!("compile error: {}", m.join("; "))
            })?;
            // A byte-order mark is skipped, as flowrun's reader (and jq) do. The rest goes
            // through serde_json directly: the suite feeds integers wider than 64 bits,
            // which flowrun's file reader refuses but jq's arithmetic takes as doubles.
            let input: Value = serde_json::from_str(input.trim_start_matches('\u{feff}'))
                .map_err(|e| format!("input not read as JSON: {e}"))?;
            let want = expected
                .iter()
                .map(|s| serde_json::from_str::<Value>(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("expected value not read as JSON: {e}"))?;
            let got = match jq.run(&input) {
                // A case without expected outputs only checks that nothing is printed:
                // jq's own runner does not compare a runtime error.
                Err(_) if want.is_empty() => return Ok(()),
                other => other.map_err(|e| format!("error: {e}"))?,
            };
            if got.len() == want.len() && got.iter().zip(&want).all(|(a, b)| same(a, b)) {
                Ok(())
            } else {
                let shown: Vec<String> = got.iter().map(Value::to_string).collect();
                let mut shown = format!("got {}", shown.join(", "));
                if shown.len() > 120 {
                    let mut cut = 120;
                    while !shown.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    shown.truncate(cut);
                    shown.push('…');
                }
                Err(shown)
            }
        }
    }
}

/// Whether a program reads the environment (`$ENV`, `env`).
fn uses_environment(program: &str) -> bool {
    program.contains("$ENV")
        || program
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .any(|w| w == "env")
}

/// Runs a case that reads the environment as a `map` step of a real flow, in a flowrun
/// process whose environment is jq's test runner's (`PAGER=less`): the environment is
/// read once per process, so it cannot be set for one case inside this one.
fn check_through_the_binary(program: &str, input: &str, expected: &[String]) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = dir.path();
    std::fs::create_dir_all(root.join("flows")).map_err(|e| e.to_string())?;
    let flow = format!("[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '''{program}'''\n");
    std::fs::write(root.join("flows/t.toml"), flow).map_err(|e| e.to_string())?;
    std::fs::write(root.join("in.json"), input).map_err(|e| e.to_string())?;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowrun"))
        .arg("--root")
        .arg(root)
        .args(["-q", "run", "t", "--input"])
        .arg(root.join("in.json"))
        .env("PAGER", "less")
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "run failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let run = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let file = root.join("runs/t").join(run).join("steps/01-m/000001.json");
    let got: Value = std::fs::read(&file)
        .map_err(|e| format!("{}: {e}", file.display()))
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))?;
    let want: Value = match expected {
        [one] => serde_json::from_str(one).map_err(|e| e.to_string())?,
        _ => return Err("a map step gives exactly one output".into()),
    };
    if same(&got, &want) {
        Ok(())
    } else {
        Err(format!("got {got}"))
    }
}

/// Runs a case on a step-sized stack, giving up after a while (a hang is a failure).
fn check_bounded(case: Case) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .stack_size(flowrun::testing::cores::STEP_STACK)
        .spawn(move || {
            let r = check(&case);
            let _ = tx.send(r);
        });
    if let Err(e) = spawned {
        return Err(format!("cannot start a thread: {e}"));
    }
    // Generous: the whole test suite runs alongside on a small machine.
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Timeout) => Err("hang: no answer within 120 s".into()),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("crash: the case's thread died".into()),
    }
}

/// `file:line` → reason, from `known-failures.txt`.
fn known_failures() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(suite_dir().join("known-failures.txt")).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(char::is_whitespace) {
            Some((k, r)) => (k.to_owned(), r.trim().to_owned()),
            None => (l.to_owned(), String::new()),
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    single: (usize, usize),
    multi: (usize, usize),
    fail: (usize, usize),
}

#[test]
fn jq_suite_conforms() {
    let known = known_failures();
    let mut report = String::new();
    let mut regressions = Vec::new();
    let mut fixed = Vec::new();
    let mut failing = Vec::new();
    let mut total = Tally::default();
    for file in FILES {
        let text = std::fs::read_to_string(suite_dir().join(file)).expect("vendored suite");
        let mut tally = Tally::default();
        for (line, case) in parse(&text) {
            let key = format!("{file}:{line}");
            let bucket = match &case {
                Case::Fail { .. } => &mut tally.fail,
                Case::Run { expected, .. } if expected.len() == 1 => &mut tally.single,
                Case::Run { .. } => &mut tally.multi,
            };
            bucket.1 += 1;
            let program = match &case {
                Case::Run { program, .. } | Case::Fail { program } => program.clone(),
            };
            match check_bounded(case) {
                Ok(()) => {
                    bucket.0 += 1;
                    if known.contains_key(&key) {
                        fixed.push(format!("{key}  {program}"));
                    }
                }
                Err(why) => {
                    failing.push(format!("{key}\t{why}  ## {program}"));
                    if !known.contains_key(&key) {
                        regressions.push(format!("{key}  {program}\n    {why}"));
                    }
                }
            }
        }
        let _ = writeln!(
            report,
            "{file:14} single-output {}/{}, multi-output {}/{}, %%FAIL {}/{}",
            tally.single.0,
            tally.single.1,
            tally.multi.0,
            tally.multi.1,
            tally.fail.0,
            tally.fail.1
        );
        for (t, f) in [
            (&mut total.single, tally.single),
            (&mut total.multi, tally.multi),
            (&mut total.fail, tally.fail),
        ] {
            t.0 += f.0;
            t.1 += f.1;
        }
    }
    let pct = |(a, b): (usize, usize)| {
        f64::from(u32::try_from(a).unwrap_or(0)) * 100.0
            / f64::from(u32::try_from(b.max(1)).unwrap_or(1))
    };
    let _ = writeln!(
        report,
        "jq suite: single-output cases {}/{} pass ({:.1}%); multi-output {}/{}; %%FAIL {}/{}",
        total.single.0,
        total.single.1,
        pct(total.single),
        total.multi.0,
        total.multi.1,
        total.fail.0,
        total.fail.1
    );
    println!("{report}");
    if let Some(path) = std::env::var_os("JQ_SUITE_FAILING") {
        std::fs::write(path, failing.join("\n") + "\n").expect("write the failing list");
    }
    assert!(
        regressions.is_empty(),
        "{} jq-suite case(s) fail that are not in tests/jq-suite/known-failures.txt:\n{}",
        regressions.len(),
        regressions.join("\n")
    );
    assert!(
        fixed.is_empty(),
        "{} case(s) listed in tests/jq-suite/known-failures.txt now pass; remove them:\n{}",
        fixed.len(),
        fixed.join("\n")
    );
}
