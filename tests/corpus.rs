//! The bad-input corpus: malformed flow files and payload files kept in `tests/corpus/`
//! (written by `scripts/gen_corpus.py`), damaged manifests and bad command lines. Each
//! is refused with its exit code and an `error: ` line naming the file at fault (with
//! line:col where there is one) — never a panic, never an internal error.

use crate::support::{Output, Project, Tamper};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// The rows of a tab-separated corpus index, without its `#` header.
fn table(name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(corpus().join(name))
        .unwrap_or_else(|e| panic!("tests/corpus/{name}: {e} (run scripts/gen_corpus.py)"));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

/// Runs `f` over `items` on a few threads; returns every failure message.
fn par_check<T: Sync>(items: &[T], f: impl Fn(&T) -> Vec<String> + Sync) -> Vec<String> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut failures = Vec::new();
                    while let Some(item) = items.get(next.fetch_add(1, Ordering::Relaxed)) {
                        failures.extend(f(item));
                    }
                    failures
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("corpus worker"))
            .collect()
    })
}

#[track_caller]
fn assert_no_failures(what: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} of the {what} failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Checks a refused command: exit code, `error: ` first, every needle in stderr.
fn refused(args: &[&str], out: &Output, code: i32, needles: &[&str]) -> Vec<String> {
    let mut why = Vec::new();
    if out.code != code {
        why.push(format!("exit {} (want {code})", out.code));
    }
    if !out.stderr.starts_with("error: ") {
        why.push("stderr does not start with `error: `".to_owned());
    }
    why.extend(crashed(out));
    for n in needles {
        if !out.stderr.contains(n) {
            why.push(format!("stderr lacks {n:?}"));
        }
    }
    report(args, out, &why)
}

fn crashed(out: &Output) -> Option<String> {
    [
        "panicked",
        "internal error",
        "overflowed its stack",
        "RUST_BACKTRACE",
    ]
    .iter()
    .find(|s| out.stderr.contains(*s))
    .map(|s| format!("stderr has {s:?}"))
}

fn report(args: &[&str], out: &Output, why: &[String]) -> Vec<String> {
    if why.is_empty() {
        return Vec::new();
    }
    let cut = |s: &str| s.chars().take(1500).collect::<String>();
    vec![format!(
        "flowrun {}: {}\n--- stdout\n{}\n--- stderr\n{}",
        args.iter()
            .map(|a| a.chars().take(80).collect::<String>())
            .collect::<Vec<_>>()
            .join(" "),
        why.join("; "),
        cut(&out.stdout),
        cut(&out.stderr)
    )]
}

// ---------------------------------------------------------------------------------
// Flow files

/// A valid step to pad generated files with.
const GOOD_STEP: &str = "[[steps]]\nid = \"ok\"\nkind = \"map\"\njq = '.'\n";

/// Flow files over the 4 MiB limit: made here rather than kept in git.
fn huge_flows() -> Vec<(String, Vec<u8>)> {
    let limit = usize::try_from(flowrun::testing::flow::MAX_FLOW_FILE_BYTES).expect("fits");
    let comment_line = format!("# {}\n", "x".repeat(97));
    let comments = comment_line.repeat(limit / comment_line.len() + 1);
    let one_string = format!("description = \"{}\"\n", "y".repeat(limit + 1));
    let mut just_over = vec![b'\n'; limit + 1 - GOOD_STEP.len()];
    just_over.extend_from_slice(GOOD_STEP.as_bytes());
    vec![
        (
            "huge-comments".into(),
            format!("{comments}{GOOD_STEP}").into_bytes(),
        ),
        (
            "huge-string".into(),
            format!("{one_string}{GOOD_STEP}").into_bytes(),
        ),
        ("huge-by-one-byte".into(), just_over),
    ]
}

#[test]
fn malformed_flow_files_are_refused_with_their_place() {
    let p = Project::new();
    // (name, expected line (0 = whole file), piece of the message)
    let mut cases: Vec<(String, usize, String)> = Vec::new();
    for row in table("flows.tsv") {
        let name = &row[0];
        let from = corpus().join("flows").join(format!("{name}.toml"));
        std::fs::copy(&from, p.path(&format!("flows/{name}.toml")))
            .unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        cases.push((name.clone(), row[1].parse().expect("line"), row[2].clone()));
    }
    for (name, bytes) in huge_flows() {
        p.bytes_file(&format!("flows/{name}.toml"), &bytes);
        cases.push((name, 0, "flow files are limited to".into()));
    }
    let failures = par_check(&cases, |(name, line, needle)| {
        let at = if *line == 0 {
            format!("flows/{name}.toml: ")
        } else {
            format!("flows/{name}.toml:{line}:")
        };
        let mut failures = Vec::new();
        for command in ["check", "run"] {
            let args = [command, name.as_str()];
            let out = p.cmd(&args).run();
            failures.extend(refused(&args, &out, 2, &[&at, needle]));
            let file = format!("flows/{name}.toml");
            if *line != 0 && !has_line_col(&out.stderr, &file) {
                failures.extend(report(&args, &out, &[format!("no {file}:LINE:COL")]));
            }
            if !out.stderr.lines().all(|l| l.starts_with("error: ")) {
                failures.extend(report(
                    &args,
                    &out,
                    &["a stderr line does not start with `error: `".into()],
                ));
            }
        }
        failures
    });
    assert_no_failures("malformed flow files", &failures);
    assert!(!p.exists("runs"), "a malformed flow must not start a run");

    // All at once: every file is named.
    let out = p.cmd(&["check"]).run().code(2);
    for (name, _, _) in &cases {
        assert!(
            out.stderr.contains(&format!("flows/{name}.toml")),
            "`flowrun check` does not name flows/{name}.toml"
        );
    }
    eprintln!(
        "bad-input corpus: {} malformed flow files, each refused by `check` and `run` ({} commands), no panics",
        cases.len(),
        cases.len() * 2 + 1
    );
}

/// A deterministic xorshift generator for the mutated-flow run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).expect("fits")
    }
}

const SEED_FLOWS: [&str; 3] = [
    crate::support::ORDERS_FLOW,
    "description = \"d\"\n[trigger]\ncron = \"*/15 * * * *\"\n[settings]\nmax_payload_bytes = 100\ntimeout = \"1m\"\n[[steps]]\nid = \"call\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/${env:X}\"\nheaders = { A = \"b\" }\nnext = '.next'\nretries = 2\n[[steps]]\nid = \"d\"\nkind = \"dedupe\"\nkey = '.id'\nmode = \"filter\"\n",
    "[[steps]]\nid = \"c\"\nkind = \"command\"\nrun = [\"./x.sh\", \"a\"]\nenv = { K = \"v\" }\noutput = \"ndjson\"\n[[steps]]\nid = \"e\"\nkind = \"assert\"\nequals = [1, { a = [true, 1.5] }]\n[[steps]]\nid = \"f\"\nkind = \"filter\"\njq = 'select(.a)'\nkeep_empty = true\n",
];

/// What mutations insert.
const PIECES: &[&[u8]] = &[
    b"[",
    b"]",
    b"{",
    b"}",
    b"\"",
    b"'",
    b"'''",
    b"=",
    b"\n",
    b"#",
    b".",
    b",",
    b"\\",
    b"${env:",
    b"[[steps]]\n",
    b"\xff",
    b"\xc3",
    b"\0",
    b"(",
    b"|",
    b"-",
    b"1e999",
    b"99999999999999999999",
    b"\"\"\"",
    b"\r",
    b"\t",
    b"kind = \"map\"\n",
];

/// Byte-level mutants of valid flows: `check` never crashes on them. 100 by default;
/// `FLOWRUN_CORPUS_MUTANTS=N` for more (`just corpus-big`).
#[test]
fn mutated_flow_files_never_crash() {
    let count: usize = std::env::var("FLOWRUN_CORPUS_MUTANTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let p = Project::new();
    let mut names = Vec::new();
    for i in 0..count {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0x2545_F491));
        let mut bytes = SEED_FLOWS[i % SEED_FLOWS.len()].as_bytes().to_vec();
        for _ in 0..=rng.below(4) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(4) {
                0 => {
                    let piece = PIECES[rng.below(PIECES.len())];
                    bytes.splice(at..at, piece.iter().copied());
                }
                1 if at < bytes.len() => {
                    let len = rng.below(8).min(bytes.len() - at);
                    bytes.drain(at..at + len);
                }
                2 if at < bytes.len() => bytes[at] = u8::try_from(rng.below(256)).expect("byte"),
                _ => bytes.truncate(at),
            }
        }
        let name = format!("mutant-{i:05}");
        p.bytes_file(&format!("flows/{name}.toml"), &bytes);
        names.push(name);
    }
    let refusals = AtomicUsize::new(0);
    let failures = par_check(&names, |name| {
        let args = ["check", name.as_str()];
        let out = p.cmd(&args).run();
        match out.code {
            0 => report(&args, &out, &crashed(&out).into_iter().collect::<Vec<_>>()),
            2 => {
                refusals.fetch_add(1, Ordering::Relaxed);
                refused(&args, &out, 2, &[&format!("flows/{name}.toml")])
            }
            _ => report(&args, &out, &[format!("exit {}", out.code)]),
        }
    });
    assert_no_failures("mutated flow files", &failures);
    eprintln!(
        "mutated flows: {count} checked, {} refused, {} valid, no panics",
        refusals.load(Ordering::Relaxed),
        count - refusals.load(Ordering::Relaxed)
    );
}

// ---------------------------------------------------------------------------------
// A project with recorded runs to damage

/// Doubles each payload, then asserts it is below 5: inputs 1, 2, 3 fail on the third.
const PAY_FLOW: &str = "[[steps]]\nid = \"double\"\nkind = \"map\"\njq = '. * 2'\n\n[[steps]]\nid = \"small\"\nkind = \"assert\"\njq = '. < 5'\n";

struct Runs {
    p: Project,
    /// A failed run of `pay` (inputs 1, 2, 3).
    failed: String,
}

impl Runs {
    fn new() -> Runs {
        let p = Project::new();
        p.flow("pay", PAY_FLOW)
            .file("inputs/1.json", "1")
            .file("inputs/2.json", "2")
            .file("inputs/3.json", "3");
        p.cmd(&[
            "run",
            "pay",
            "--input",
            "inputs/1.json",
            "--input",
            "inputs/2.json",
            "--input",
            "inputs/3.json",
        ])
        .run()
        .code(1);
        let failed = p.last_run("pay");
        Runs { p, failed }
    }

    fn dir(&self) -> String {
        format!("runs/pay/{}", self.failed)
    }

    fn file(&self, rel: &str) -> String {
        format!("{}/{rel}", self.dir())
    }

    fn run(&self, args: &[&str]) -> (Vec<String>, Output) {
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("@RUN@", &self.failed))
            .collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.p.cmd(&refs).run();
        (args, out)
    }

    /// Runs a command that must be refused.
    fn refused(&self, args: &[&str], code: i32, needles: &[&str]) -> Vec<String> {
        let (args, out) = self.run(args);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&refs, &out, code, needles)
    }
}

// ---------------------------------------------------------------------------------
// Payload files

#[test]
fn malformed_payload_files_are_refused_naming_the_file() {
    let rows = table("payloads.tsv");
    let commands = AtomicUsize::new(0);
    let failures = par_check(&rows, |row| {
        let name = &row[0];
        let bytes = std::fs::read(corpus().join("payloads").join(format!("{name}.json")))
            .expect("payload fixture");
        let r = Runs::new();
        let input = "input/000001.json";
        let output = "steps/01-double/000001.json";
        r.p.bytes_file(&format!("inputs/{name}.json"), &bytes)
            .bytes_file(&r.file(input), &bytes)
            .bytes_file(&r.file(output), &bytes);
        let given = format!("inputs/{name}.json");
        let (at_input, at_output) = (r.file(input), r.file(output));
        let mut failures = Vec::new();
        // As `--input` of a new run: the file with line:col.
        let (args, out) = r.run(&["run", "pay", "--input", &given]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        failures.extend(refused(&refs, &out, 2, &[&given]));
        if !has_line_col(&out.stderr, &given) {
            failures.extend(report(&refs, &out, &[format!("no {given}:LINE:COL")]));
        }
        // Inside a recorded run.
        failures.extend(r.refused(&["verify", "@RUN@"], 1, &[input, output]));
        failures.extend(r.refused(
            &["replay", &at_input],
            2,
            &[&at_input, "changed after it was recorded"],
        ));
        failures.extend(r.refused(
            &["retry", "@RUN@"],
            2,
            &[&at_input, "changed after it was recorded"],
        ));
        failures.extend(r.refused(
            &["resume", "@RUN@"],
            2,
            &[&at_output, "changed after it was recorded"],
        ));
        // Where the file is read as JSON, the place in it is named too (a trimmed file
        // is refused as trimmed instead).
        for (args, file) in [
            (vec!["retry", "@RUN@", "--edited"], &at_input),
            (vec!["resume", "@RUN@", "--edited"], &at_output),
            (vec!["replay", &at_input, "--edited"], &at_input),
            (
                vec!["replay", &at_output, "--edited", "--auto-skip"],
                &at_output,
            ),
        ] {
            let (args, out) = r.run(&args);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            failures.extend(refused(&refs, &out, 2, &[file]));
            let placed = if name == "trimmed" {
                out.stderr.contains("trimmed")
            } else {
                has_line_col(&out.stderr, file)
            };
            if !placed {
                failures.extend(report(&refs, &out, &[format!("no {file}:LINE:COL")]));
            }
        }
        commands.fetch_add(9, Ordering::Relaxed);
        failures
    });
    assert_no_failures("malformed payload files", &failures);
    eprintln!(
        "bad-input corpus: {} malformed payload files, {} refused commands, no panics",
        rows.len(),
        commands.load(Ordering::Relaxed)
    );
}

/// Whether `text` names `file:LINE:COL`.
fn has_line_col(text: &str, file: &str) -> bool {
    text.match_indices(&format!("{file}:")).any(|(i, m)| {
        let rest = &text[i + m.len()..];
        let mut parts = rest.splitn(3, ':');
        let digits = |s: Option<&str>| {
            s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        };
        digits(parts.next()) && digits(parts.next())
    })
}

/// Payload files moved, renamed, removed or edited: `verify` says which, and the
/// commands that need them refuse with the path.
#[test]
fn moved_missing_and_edited_payload_files_are_named() {
    let input = "input/000001.json";
    let output = "steps/01-double/000002.json";

    let r = Runs::new();
    r.p.tamper(&r.file(input), Tamper::Remove);
    let mut failures = r.refused(&["verify", "@RUN@"], 1, &[&format!("missing: {input}")]);
    failures.extend(r.refused(&["retry", "@RUN@"], 2, &[&r.file(input)]));
    failures.extend(r.refused(&["replay", &r.file(input)], 2, &[&r.file(input)]));

    let r = Runs::new();
    let renamed = r.file("steps/01-double/000009.json");
    r.p.tamper(&r.file(output), Tamper::MoveTo(&renamed));
    failures.extend(r.refused(
        &["verify", "@RUN@"],
        1,
        &[
            &format!("missing: {output}"),
            "unlisted: steps/01-double/000009.json",
        ],
    ));
    failures.extend(r.refused(&["resume", "@RUN@"], 2, &[&r.file(output)]));
    failures.extend(r.refused(
        &["replay", &renamed, "--auto-skip"],
        2,
        &[&renamed, "not listed"],
    ));

    // Moved into another step's folder.
    let r = Runs::new();
    let moved = r.file("steps/02-small/000007.json");
    r.p.tamper(&r.file(output), Tamper::MoveTo(&moved));
    failures.extend(r.refused(
        &["verify", "@RUN@"],
        1,
        &[output, "steps/02-small/000007.json"],
    ));
    failures.extend(r.refused(&["replay", &moved, "--auto-skip"], 2, &[&moved]));

    // Valid JSON, but not what was recorded.
    let r = Runs::new();
    r.p.file(&r.file(output), "[4]\n");
    failures.extend(r.refused(&["verify", "@RUN@"], 1, &[&format!("changed: {output}")]));
    failures.extend(r.refused(
        &["replay", &r.file(output), "--auto-skip"],
        2,
        &[&r.file(output), "--edited"],
    ));

    // The step folder is a file.
    let r = Runs::new();
    let folder = r.file("steps/01-double");
    r.p.tamper(&folder, Tamper::Remove);
    r.p.file(&folder, "not a folder");
    failures.extend(r.refused(&["verify", "@RUN@"], 1, &["steps/01-double/000001.json"]));
    failures.extend(r.refused(&["resume", "@RUN@"], 2, &["steps/01-double/000001.json"]));
    assert_no_failures("damaged payload cases", &failures);
}

// ---------------------------------------------------------------------------------
// Manifests

/// How a case damages `manifest.json`.
enum Damage {
    /// New bytes, from the old ones.
    Text(fn(&[u8]) -> Vec<u8>),
    /// Sets the value at a JSON pointer (the last part may be a new key).
    Set(&'static str, Value),
    /// Removes the key at a JSON pointer.
    Remove(&'static str),
    /// No manifest at all.
    Delete,
    /// A folder where the manifest should be.
    Folder,
    /// Points a record at a copy of its file outside the run folder.
    Outside,
}

use Damage::{Folder, Outside, Remove, Set, Text};

fn set_pointer(doc: &mut Value, pointer: &str, value: Value) {
    let (parent, last) = pointer.rsplit_once('/').expect("a pointer");
    match doc
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent}"))
    {
        Value::Object(map) => {
            map.insert(last.to_owned(), value);
        }
        Value::Array(items) => items[last.parse::<usize>().expect("index")] = value,
        other => panic!("{parent} is {other}"),
    }
}

fn remove_pointer(doc: &mut Value, pointer: &str) {
    let (parent, last) = pointer.rsplit_once('/').expect("a pointer");
    let map = doc
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object at {parent}"));
    assert!(map.shift_remove(last).is_some(), "no {pointer}");
}

#[allow(clippy::too_many_lines, reason = "one line per case")]
fn manifest_cases() -> Vec<(&'static str, Damage)> {
    vec![
        ("empty", Text(|_| Vec::new())),
        ("only-brace", Text(|_| b"{".to_vec())),
        ("truncated-half", Text(|b| b[..b.len() / 2].to_vec())),
        ("truncated-end", Text(|b| b[..b.len() - 3].to_vec())),
        ("truncated-start", Text(|b| b[..10].to_vec())),
        ("null", Text(|_| b"null".to_vec())),
        ("array", Text(|_| b"[]".to_vec())),
        ("string", Text(|_| b"\"manifest\"".to_vec())),
        ("number", Text(|_| b"42".to_vec())),
        ("not-utf8", Text(|b| [b"\xff".as_slice(), b].concat())),
        ("trailing-garbage", Text(|b| [b, b"{}".as_slice()].concat())),
        (
            "nul-byte",
            Text(|b| [&b[..20], b"\0".as_slice(), &b[20..]].concat()),
        ),
        (
            "deep-nesting",
            Text(|_| [vec![b'['; 10_002], vec![b']'; 10_002]].concat()),
        ),
        ("format-wrong", Set("/format", json!("flowrun.run/2"))),
        ("format-number", Set("/format", json!(1))),
        ("format-missing", Remove("/format")),
        ("run-id-missing", Remove("/run_id")),
        ("flow-missing", Remove("/flow")),
        ("flow-number", Set("/flow", json!(5))),
        ("flow-escapes", Set("/flow", json!("../../etc"))),
        ("flow-blake3-missing", Remove("/flow_blake3")),
        ("trigger-unknown", Set("/trigger", json!("cron"))),
        ("trigger-missing", Remove("/trigger")),
        ("status-unknown", Set("/status", json!("done"))),
        ("status-null", Set("/status", json!(null))),
        ("status-missing", Remove("/status")),
        ("started-at-number", Set("/started_at", json!(5))),
        ("input-string", Set("/input", json!("x"))),
        ("input-numbers", Set("/input", json!([1]))),
        ("input-missing", Remove("/input")),
        ("steps-string", Set("/steps", json!("x"))),
        ("steps-missing", Remove("/steps")),
        ("step-string", Set("/steps/0", json!("x"))),
        ("step-status-unknown", Set("/steps/0/status", json!("ok"))),
        ("step-index-negative", Set("/steps/0/index", json!(-1))),
        ("step-index-string", Set("/steps/0/index", json!("1"))),
        (
            "step-inputs-done-negative",
            Set("/steps/0/inputs_done", json!(-1)),
        ),
        ("step-requests-string", Set("/steps/0/requests", json!("x"))),
        (
            "payload-bytes-negative",
            Set("/steps/0/payloads/0/bytes", json!(-1)),
        ),
        (
            "payload-bytes-string",
            Set("/steps/0/payloads/0/bytes", json!("10")),
        ),
        (
            "payload-bytes-float",
            Set("/steps/0/payloads/0/bytes", json!(1.5)),
        ),
        (
            "payload-blake3-number",
            Set("/steps/0/payloads/0/blake3", json!(5)),
        ),
        ("payload-file-missing", Remove("/steps/0/payloads/0/file")),
        (
            "payload-file-number",
            Set("/steps/0/payloads/0/file", json!(7)),
        ),
        (
            "payload-trimmed-string",
            Set("/steps/0/payloads/0/trimmed", json!("no")),
        ),
        (
            "input-full-bytes-negative",
            Set("/input/0/full_bytes", json!(-3)),
        ),
        ("error-string", Set("/error", json!("boom"))),
        ("error-message-number", Set("/error/message", json!(5))),
        ("replay-of-string", Set("/replay_of", json!("x"))),
        ("resume-of-number", Set("/resume_of", json!(5))),
        ("pid-negative", Set("/pid", json!(-1))),
        ("pid-string", Set("/pid", json!("x"))),
        // Files outside the run folder: never read.
        (
            "file-etc-passwd",
            Set(
                "/steps/0/payloads/0/file",
                json!("../../../../../../etc/passwd"),
            ),
        ),
        (
            "file-absolute",
            Set("/steps/0/payloads/0/file", json!("/etc/passwd")),
        ),
        ("file-empty", Set("/steps/0/payloads/0/file", json!(""))),
        (
            "file-dot-parts",
            Set(
                "/steps/0/payloads/0/file",
                json!("steps/./01-double/../01-double/000001.json"),
            ),
        ),
        (
            "file-backslashes",
            Set(
                "/steps/0/payloads/0/file",
                json!("steps\\01-double\\000001.json"),
            ),
        ),
        (
            "input-file-escapes",
            Set("/input/0/file", json!("../../../outside.json")),
        ),
        ("file-escapes-to-a-matching-copy", Outside),
        ("missing", Damage::Delete),
        ("folder", Folder),
    ]
}

/// The record of the escape case: a copy of the payload outside the run folder, with
/// the right size and hash, so that reading it would make `verify` pass.
fn outside_copy(r: &Runs, doc: &mut Value) {
    let rec = &mut doc["steps"][0]["payloads"][0];
    let file = rec["file"].as_str().expect("file").to_owned();
    std::fs::copy(r.p.path(&r.file(&file)), r.p.path("outside.json")).expect("copy");
    rec["file"] = json!("../../../outside.json");
}

#[test]
fn damaged_manifests_are_refused_naming_the_manifest() {
    let cases = manifest_cases();
    let commands = AtomicUsize::new(0);
    let failures = par_check(&cases, |(name, damage)| {
        let r = Runs::new();
        let path = r.file("manifest.json");
        let old = r.p.bytes(&path);
        let mut doc: Value = serde_json::from_slice(&old).expect("manifest JSON");
        match damage {
            Text(f) => r.p.tamper(&path, Tamper::Write(&f(&old))),
            Outside => outside_copy(&r, &mut doc),
            Set(pointer, v) => set_pointer(&mut doc, pointer, v.clone()),
            Remove(pointer) => remove_pointer(&mut doc, pointer),
            Damage::Delete => r.p.tamper(&path, Tamper::Remove),
            Folder => {
                // A folder in its place (not empty: S3 holds no empty folders).
                r.p.tamper(&path, Tamper::Remove);
                r.p.tamper(&format!("{path}/stray.json"), Tamper::Write(b"{}"));
            }
        }
        if matches!(damage, Set(..) | Remove(_) | Outside) {
            let bytes = serde_json::to_vec_pretty(&doc).expect("JSON");
            r.p.tamper(&path, Tamper::Write(&bytes));
        }
        let manifest = r.file("manifest.json");
        let payload = r.file("steps/01-double/000002.json");
        let mut failures = Vec::new();
        if matches!(damage, Damage::Delete | Folder)
            && std::env::var("FLOWRUN_TEST_STORE").as_deref() == Ok("s3")
        {
            // On S3 a run is there while its manifest object is (README, "Retention"): a
            // prefix without one is what a prune cut off half-way leaves, so it is neither
            // listed nor found, and the next prune removes it.
            failures.extend(r.refused(&["show", "@RUN@"], 2, &["no run matches"]));
            let (args, out) = r.run(&["runs"]);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut why: Vec<String> = crashed(&out).into_iter().collect();
            if out.code != 0 || out.stdout.contains(&r.failed) {
                why.push("`runs` must not list a run without its manifest on S3".into());
            }
            failures.extend(report(&refs, &out, &why));
            commands.fetch_add(2, Ordering::Relaxed);
            return failures
                .into_iter()
                .map(|f| format!("[{name}] {f}"))
                .collect();
        }
        failures.extend(r.refused(&["verify", "@RUN@"], 1, &[&manifest]));
        failures.extend(r.refused(&["show", "@RUN@"], 2, &[&manifest]));
        failures.extend(r.refused(&["show", "@RUN@", "--json"], 2, &[&manifest]));
        failures.extend(r.refused(&["show", "@RUN@", "--step", "double"], 2, &[&manifest]));
        failures.extend(r.refused(&["resume", "@RUN@"], 2, &[&manifest]));
        failures.extend(r.refused(&["retry", "@RUN@"], 2, &[&manifest]));
        failures.extend(r.refused(&["replay", &payload, "--auto-skip"], 2, &[&manifest]));
        // Listing runs warns about it and goes on.
        let (args, out) = r.run(&["runs"]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut why: Vec<String> = crashed(&out).into_iter().collect();
        if out.code != 0 || !out.stderr.contains("warning: ") || !out.stderr.contains(&manifest) {
            why.push("`runs` must warn about the manifest and exit 0".into());
        }
        failures.extend(report(&refs, &out, &why));
        commands.fetch_add(8, Ordering::Relaxed);
        failures
            .into_iter()
            .map(|f| format!("[{name}] {f}"))
            .collect()
    });
    assert_no_failures("damaged manifests", &failures);
    eprintln!(
        "bad-input corpus: {} damaged manifests, {} commands, no panics",
        cases.len(),
        commands.load(Ordering::Relaxed)
    );
}

/// Manifests that still read but hold odd values: nothing panics.
#[test]
fn odd_but_readable_manifests_do_not_crash_any_command() {
    let cases: Vec<(&str, &str, Value)> = vec![
        (
            "multibyte-hash",
            "/steps/0/payloads/0/blake3",
            json!("€".repeat(30)),
        ),
        ("short-hash", "/steps/0/payloads/0/blake3", json!("")),
        ("huge-inputs-done", "/steps/1/inputs_done", json!(u64::MAX)),
        ("huge-index", "/steps/1/index", json!(u64::MAX)),
        ("index-zero", "/steps/0/index", json!(0)),
        (
            "huge-bytes",
            "/steps/0/payloads/0/full_bytes",
            json!(u64::MAX),
        ),
        ("bad-times", "/started_at", json!("yesterday")),
        (
            "finished-before-start",
            "/finished_at",
            json!("1970-01-01T00:00:00.000Z"),
        ),
        (
            "failed-input-escapes",
            "/error/failed_input",
            json!("../../../../etc/passwd"),
        ),
        (
            "source-escapes",
            "/steps/0/payloads/0/source",
            json!("../../etc/passwd"),
        ),
        ("no-steps", "/steps", json!([])),
        ("unknown-step-id", "/steps/1/id", json!("../x")),
        ("duplicate-records", "/steps/0/payloads/1", json!(null)),
    ];
    let failures = par_check(&cases, |(name, pointer, value)| {
        let r = Runs::new();
        let path = r.file("manifest.json");
        let mut doc: Value = serde_json::from_slice(&r.p.bytes(&path)).expect("JSON");
        if *name == "duplicate-records" {
            let first = doc["steps"][0]["payloads"][0].clone();
            set_pointer(&mut doc, pointer, first);
        } else {
            set_pointer(&mut doc, pointer, value.clone());
        }
        let bytes = serde_json::to_vec_pretty(&doc).expect("JSON");
        r.p.tamper(&path, Tamper::Write(&bytes));
        let payload = r.file("steps/01-double/000001.json");
        let mut failures = Vec::new();
        for args in [
            vec!["verify", "@RUN@"],
            vec!["show", "@RUN@"],
            vec!["show", "@RUN@", "--step", "double"],
            vec!["show", "@RUN@", "--step", "input"],
            vec!["runs"],
            vec!["resume", "@RUN@"],
            vec!["replay", &payload, "--auto-skip", "--dry-run"],
        ] {
            let (args, out) = r.run(&args);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut why: Vec<String> = crashed(&out).into_iter().collect();
            if !(0..=2).contains(&out.code) {
                why.push(format!("exit {}", out.code));
            }
            if out.code == 2 && !out.stderr.starts_with("error: ") {
                why.push("refused without an `error: ` line".into());
            }
            failures.extend(report(&refs, &out, &why));
        }
        failures
            .into_iter()
            .map(|f| format!("[{name}] {f}"))
            .collect()
    });
    assert_no_failures("odd manifests", &failures);
}

/// A manifest that lists a file outside the run folder with the right hash: `verify`
/// must not read it (it would then find nothing wrong).
#[test]
fn verify_never_reads_outside_the_run_folder() {
    let r = Runs::new();
    let path = r.file("manifest.json");
    let mut doc: Value = serde_json::from_slice(&r.p.bytes(&path)).expect("JSON");
    outside_copy(&r, &mut doc);
    let bytes = serde_json::to_vec_pretty(&doc).expect("JSON");
    r.p.tamper(&path, Tamper::Write(&bytes));
    r.p.cmd(&["verify", &r.failed])
        .run()
        .code(1)
        .stderr_has("outside.json")
        .stderr_has(&r.file("manifest.json"));
    r.p.cmd(&["replay", &r.file("steps/01-double"), "--auto-skip"])
        .run()
        .code(2)
        .stderr_has("outside.json");
    r.p.cmd(&["resume", &r.failed])
        .run()
        .code(2)
        .stderr_has("outside.json");
    assert_eq!(r.p.run_ids("pay").len(), 1, "nothing may run");
}

// ---------------------------------------------------------------------------------
// Command lines

#[test]
fn bad_command_lines_are_refused() {
    let rows = table("commands.tsv");
    let r = Runs::new();
    r.p.cmd(&["run", "pay", "--input", "inputs/1.json"])
        .run()
        .ok();
    let ok = r.p.last_run("pay");
    r.p.cmd(&["run", "pay", "--input", "inputs/3.json"])
        .run()
        .code(1);
    let failed2 = r.p.last_run("pay");
    r.p.file("inputs/bad.json", "{\"a\": ")
        .file("inputs/one.json", "1")
        .file("inputs/empty.json", "")
        .file("outside.json", "{}")
        .flow("bad", "[[steps]]\nid = \"a\"\nkind = \"nope\"\n")
        .file(&r.file("steps/01-double/000009.json"), "4\n")
        .file(&r.file("steps/extra/000001.json"), "4\n");
    std::fs::create_dir_all(r.p.path("flows/dir.toml")).expect("mkdir");
    let fill = |s: &str| {
        s.replace("@FAILEDDIR@", &r.dir())
            .replace("@FAILED2DIR@", &format!("runs/pay/{failed2}"))
            .replace("@OKDIR@", &format!("runs/pay/{ok}"))
            .replace("@FAILED@", &r.failed)
            .replace("@OK@", &ok)
            .replace("@PREFIX@", &r.failed[..9])
    };
    let mut failures = Vec::new();
    for row in &rows {
        let code: i32 = row[0].parse().expect("exit code");
        let needle = fill(&row[1]);
        let args: Vec<String> = row[2..].iter().map(|a| fill(a)).collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = r.p.cmd(&refs).run();
        failures.extend(refused(&refs, &out, code, &[&needle]));
    }
    assert_no_failures("bad command lines", &failures);
    assert_eq!(
        r.p.run_ids("pay").len(),
        3,
        "a refused command must not start a run"
    );
    eprintln!(
        "bad-input corpus: {} bad command lines, no panics",
        rows.len()
    );
}

// ---------------------------------------------------------------------------------
// jq filters that compile but are pathological

/// Runs `flowrun run f --input inputs/5.json` and gives up after 30 s.
fn run_bounded(p: &Project) -> Option<crate::support::Output> {
    let mut running = p.cmd(&["run", "f", "--input", "inputs/5.json"]).spawn();
    let started = std::time::Instant::now();
    while !running.has_exited() {
        if started.elapsed() > std::time::Duration::from_secs(30) {
            running.kill();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Some(running.wait())
}

#[test]
fn a_deeply_nested_placeholder_value_is_data_not_code() {
    // A placeholder reaches jq as a variable: a value that would nest too deeply as code
    // is just a string (and a deeply nested JSON value is one too: it does not parse).
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '${env:FILTER}'\n",
    )
    .file("inputs/5.json", "5");
    for deep in [
        format!("{}.{}", "(".repeat(5000), ")".repeat(5000)),
        format!("{}{}", "[".repeat(5000), "]".repeat(5000)),
    ] {
        p.cmd(&["run", "f", "--input", "inputs/5.json"])
            .env("FILTER", &deep)
            .run()
            .ok();
        assert_eq!(p.outputs("f", "m"), [serde_json::Value::String(deep)]);
    }
}

#[test]
fn a_chain_of_alternatives_runs_in_bounded_time() {
    let p = Project::new();
    let chain = vec!["."; 40].join(" // ");
    p.flow(
        "f",
        &format!("[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '{chain}'\n"),
    )
    .file("inputs/5.json", "5");
    let out = run_bounded(&p).expect("the run must end within 30 s");
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_filter_that_always_recurses_is_refused_before_it_runs() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = 'def f: [f]; f'\n",
    )
    .file("inputs/5.json", "5");
    let out = run_bounded(&p).expect("the run must end within 30 s");
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("flows/f.toml:4:11: `jq`: jq: the definition `f` calls itself on every path"),
        "{}",
        out.stderr
    );
    assert!(p.run_ids("f").is_empty());
}

#[test]
fn a_value_nested_too_deeply_fails_the_step_instead_of_aborting() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = 'reduce range(.) as $i (null; [.])'\n",
    )
    .file("inputs/5.json", "20000");
    let out = run_bounded(&p).expect("the run must end within 30 s");
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: step `m` failed"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("nested more than 10000 levels"),
        "{}",
        out.stderr
    );
}

#[test]
fn recursion_that_ends_runs() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = 'def f: if . > 0 then [(. - 1 | f)] else . end; f | flatten'\n",
    )
    .file("inputs/5.json", "2000");
    let out = run_bounded(&p).expect("the run must end within 30 s");
    assert_eq!(out.code, 0, "{}", out.stderr);
}
