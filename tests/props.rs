//! Property tests (proptest) of the library: flow parsing, the manifest reader, payload
//! files (pretty printing, trimming, hashing) and the JSON helpers.
//!
//! Each property runs `PROPTEST_CASES` cases (256 by default; `just props` runs 10 000),
//! fewer for the few expensive ones, and prints how many it ran.

use flowrun::testing::flow::{self, Problem};
use flowrun::testing::store::manifest::{
    FORMAT, Manifest, PayloadRecord, ReplayOf, ReplayedPayload, RunError, RunStatus, StepRecord,
    StepStatus, TriggerKind,
};
use flowrun::testing::store::payload::{self, Encoding, TRIMMED_MARK};
use flowrun::testing::store::{read_manifest_raw, write_manifest};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value};
use std::path::Path;

/// Cases per property: `PROPTEST_CASES`, else 256.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

/// Runs `test` on `cases` values of `strategy`; panics with the shrunk counterexample.
#[track_caller]
fn check<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(e) = runner.run(&strategy, test) {
        panic!("property `{name}` does not hold: {e}");
    }
    eprintln!("property `{name}`: {cases} cases passed");
}

// ---------------------------------------------------------------------------------
// Strategies

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        any::<i32>().prop_map(f64::from),
        (-40i32..40).prop_map(|e| 10f64.powi(e)),
        (-1e6f64..1e6).prop_map(|f| (f * 1000.0).round() / 1000.0),
        Just(-0.0),
        Just(f64::MIN_POSITIVE),
        Just(f64::MAX),
        Just(5e-324),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9 ]{0,12}",
        ".{0,12}",
        "[\"\\\\\u{0}-\u{1f}\u{7f}é€😀]{0,6}",
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        finite_f64().prop_map(Value::from),
        text().prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn hex64() -> impl Strategy<Value = String> {
    "[0-9a-f]{64}"
}

fn inside_path() -> impl Strategy<Value = String> {
    prop_oneof![
        "input/[0-9]{6}\\.json",
        "steps/[0-9]{2,3}-[a-z0-9_-]{1,8}/[0-9]{6}\\.json",
        "[^/\\\\\u{0}]{1,8}(/[^/\\\\\u{0}]{1,8}){0,3}",
    ]
    .prop_filter("inside the run folder", |p| {
        flowrun::testing::store::manifest::is_inside_run(p)
    })
}

fn payload_record() -> impl Strategy<Value = PayloadRecord> {
    (
        inside_path(),
        any::<u64>(),
        hex64(),
        any::<bool>(),
        any::<u64>(),
        hex64(),
        any::<bool>(),
        prop::option::of(inside_path()),
    )
        .prop_map(
            |(file, bytes, blake3, trimmed, full_bytes, full_blake3, masked, source)| {
                PayloadRecord {
                    file,
                    bytes,
                    blake3,
                    trimmed,
                    full_bytes,
                    full_blake3,
                    masked,
                    source,
                }
            },
        )
}

fn step_status() -> impl Strategy<Value = StepStatus> {
    prop::sample::select(vec![
        StepStatus::Pending,
        StepStatus::Running,
        StepStatus::Success,
        StepStatus::Failure,
        StepStatus::Skipped,
    ])
}

fn step_record() -> impl Strategy<Value = StepRecord> {
    (
        (any::<usize>(), text(), text(), step_status()),
        (prop::option::of(text()), prop::option::of(text())),
        prop::collection::vec(payload_record(), 0..3),
        prop::option::of(text()),
        (any::<usize>(), any::<usize>()),
        prop::collection::vec(json_value(), 0..2),
    )
        .prop_map(
            |(
                (index, id, kind, status),
                (started_at, finished_at),
                payloads,
                error,
                (inputs_done, reused),
                requests,
            )| StepRecord {
                index,
                id,
                kind,
                status,
                started_at,
                finished_at,
                payloads,
                error,
                inputs_done,
                reused,
                requests,
                children: Vec::new(),
                failed: Vec::new(),
            },
        )
}

fn manifest() -> impl Strategy<Value = Manifest> {
    let replay_of = (
        text(),
        text(),
        prop::collection::vec(
            (text(), text()).prop_map(|(file, blake3)| ReplayedPayload { file, blake3 }),
            0..3,
        ),
        any::<bool>(),
    )
        .prop_map(|(run_id, step, payloads, edited)| ReplayOf {
            run_id,
            step,
            payloads,
            edited,
        });
    let run_error = (prop::option::of(text()), text(), prop::option::of(text())).prop_map(
        |(step, message, failed_input)| RunError {
            step,
            message,
            failed_input,
        },
    );
    (
        (text(), "[a-z0-9][a-z0-9_-]{0,63}", hex64()),
        prop::sample::select(vec![
            TriggerKind::Manual,
            TriggerKind::Schedule,
            TriggerKind::Watch,
            TriggerKind::Replay,
            TriggerKind::Retry,
            TriggerKind::Resume,
        ]),
        (
            prop::option::of(replay_of),
            prop::option::of(text()),
            prop::option::of(text()),
        ),
        prop::sample::select(vec![
            RunStatus::Running,
            RunStatus::Success,
            RunStatus::Failure,
            RunStatus::Interrupted,
            RunStatus::Partial,
        ]),
        (text(), prop::option::of(text()), any::<u32>()),
        prop::collection::vec(payload_record(), 0..3),
        prop::collection::vec(step_record(), 0..3),
        prop::option::of(run_error),
    )
        .prop_map(
            |(
                (run_id, flow, flow_blake3),
                trigger,
                (replay_of, resume_of, retry_of),
                status,
                (started_at, finished_at, pid),
                input,
                steps,
                error,
            )| Manifest {
                format: FORMAT.to_owned(),
                run_id,
                flow,
                flow_blake3,
                trigger,
                replay_of,
                resume_of,
                retry_of,
                status,
                started_at,
                finished_at,
                pid,
                input,
                steps,
                error,
                edited: Vec::new(),
                notifications: Vec::new(),
                parent: None,
            },
        )
}

// ---------------------------------------------------------------------------------
// Flow files

/// Every problem is at line ≥ 1 and column ≥ 1 within the text, or about the whole file.
fn located(problems: &[Problem], text: &str) -> Result<(), TestCaseError> {
    prop_assert!(!problems.is_empty(), "an error without problems");
    let lines = text.split('\n').count();
    for p in problems {
        let whole = p.line == 0 && p.col == 0;
        prop_assert!(
            whole || (p.line >= 1 && p.col >= 1 && p.line <= lines),
            "problem at {}:{} in a text of {lines} lines: {}",
            p.line,
            p.col,
            p.message
        );
        prop_assert!(!p.message.is_empty());
    }
    Ok(())
}

fn parse_flow(text: &str) -> Result<(), TestCaseError> {
    match flow::load_str("p", Path::new("flows/p.toml"), text.to_owned()) {
        Ok(f) => {
            prop_assert!(!f.steps.is_empty());
            for (i, s) in f.steps.iter().enumerate() {
                prop_assert!(flow::is_name(&s.id), "step id {:?}", s.id);
                prop_assert!(f.steps[..i].iter().all(|o| o.id != s.id), "duplicate id");
            }
            Ok(())
        }
        Err(e) => {
            prop_assert_eq!(e.file.as_str(), "flows/p.toml");
            located(&e.problems, text)
        }
    }
}

#[test]
fn flow_parsing_never_panics_on_arbitrary_bytes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("p.toml");
    let bytes = prop::collection::vec(
        prop_oneof![
            any::<u8>(),
            prop::sample::select(b"[]{}\"'=.,#\n \\$".to_vec())
        ],
        0..400,
    );
    check("flow parsing, arbitrary bytes", cases(), bytes, |bytes| {
        std::fs::write(&path, &bytes).expect("write");
        match flow::load_file(&path) {
            Ok(f) => prop_assert!(!f.steps.is_empty()),
            Err(e) => {
                let text = String::from_utf8_lossy(&bytes);
                located(&e.problems, &text)?;
            }
        }
        Ok(())
    });
}

#[test]
fn flow_parsing_never_panics_on_arbitrary_strings() {
    check(
        "flow parsing, arbitrary strings",
        cases(),
        prop_oneof![".{0,300}", "[\\[\\]{}\"'=.,#\n a-z0-9_$:|()-]{0,300}"],
        |text| parse_flow(&text),
    );
}

/// A TOML value built from pieces that flow files use, so that generated files get past
/// the syntax and into validation.
fn toml_value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        prop::sample::select(vec![
            "map",
            "read",
            "write",
            "http",
            "command",
            "filter",
            "assert",
            "split",
            "merge",
            "dedupe",
            "json",
            "ndjson",
            "csv",
            ".",
            ".a",
            "map(.x)",
            ".a |",
            "(((",
            "15m",
            "0s",
            "1h30m",
            "*/5 * * * *",
            "* * *",
            "inbox/*.json",
            "[",
            "${env:HOME}",
            "${env:}",
            "out/{n}.json",
            "out/{x}",
            "GET",
            "POST",
            "payload",
            "none",
            "filter-and-track",
            "a",
            "b",
            "",
        ])
        .prop_map(|s| toml::Value::String(s.to_owned())),
        ".{0,8}".prop_map(toml::Value::String),
        any::<i64>().prop_map(toml::Value::Integer),
        (-3i64..5).prop_map(toml::Value::Integer),
        finite_f64().prop_map(toml::Value::Float),
        any::<bool>().prop_map(toml::Value::Boolean),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            prop::collection::vec((toml_key(), inner), 0..4)
                .prop_map(|kv| toml::Value::Table(kv.into_iter().collect())),
        ]
    })
}

fn toml_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "id",
            "kind",
            "skip",
            "description",
            "path",
            "format",
            "jq",
            "keep_empty",
            "equals",
            "equals_file",
            "message",
            "size",
            "key",
            "mode",
            "url",
            "method",
            "headers",
            "query",
            "body",
            "next",
            "timeout",
            "retries",
            "idempotency_key",
            "response",
            "max_pages",
            "max_response_bytes",
            "run",
            "env",
            "output",
            "every",
            "cron",
            "watch",
            "max_payload_bytes",
        ])
        .prop_map(str::to_owned),
        ".{0,6}",
    ]
}

/// `key = value` with the key quoted, the value written inline.
fn entry(key: &str, value: &toml::Value) -> String {
    format!("{} = {value}\n", toml::Value::String(key.to_owned()))
}

const KINDS: [&str; 10] = [
    "read", "write", "http", "command", "map", "filter", "assert", "split", "merge", "dedupe",
];

/// Valid options for a step of `kind`; `pick` chooses among the variants.
fn valid_options(kind: &str, pick: usize, value: &toml::Value) -> String {
    let choose = |options: &[&str]| options[pick % options.len()].to_owned();
    match kind {
        "read" => choose(&[
            "path = \"data/*.json\"\n",
            "path = \"d.csv\"\nformat = \"csv\"\n",
            "path = \"d/${env:DIR}/x\"\nformat = \"ndjson\"\n",
        ]),
        "write" => choose(&[
            "path = \"out/{n}.json\"\n",
            "path = \"out/{flow}-{run}-{step}-{hash}.json\"\nformat = \"ndjson\"\n",
        ]),
        "http" => choose(&[
            "url = \"http://127.0.0.1:9/x\"\n",
            "url = \"http://h/x\"\nmethod = \"post\"\nretries = 3\nnext = '.next'\ntimeout = \"5s\"\n",
            "url = \"${env:U}\"\nheaders = { A = \"b\" }\nquery = { q = \"1\" }\nbody = \"none\"\nresponse = \"text\"\nmax_pages = 2\nmax_response_bytes = 10\nidempotency_key = true\n",
        ]),
        "command" => choose(&[
            "run = [\"true\"]\n",
            "run = [\"./x\", \"a\"]\ntimeout = \"1s\"\nenv = { K = \"v\" }\noutput = \"ndjson\"\n",
        ]),
        "map" => choose(&[
            "jq = '.'\n",
            "jq = 'map({a: .b})'\n",
            "jq = '.a | length'\n",
        ]),
        "filter" => choose(&["jq = '.a > 1'\n", "jq = 'true'\nkeep_empty = true\n"]),
        "assert" => match pick % 3 {
            0 => "jq = '.a'\nmessage = \"m\"\n".to_owned(),
            1 => format!("equals = {value}\n"),
            _ => "equals_file = \"e.json\"\n".to_owned(),
        },
        "split" => choose(&["size = 1\n", "size = 100\npath = '.items'\n"]),
        "dedupe" => choose(&["key = '.id'\n", "key = '.k'\nmode = \"track\"\n"]),
        _ => String::new(),
    }
}

fn structured_step() -> impl Strategy<Value = String> {
    (
        prop::sample::select(KINDS.to_vec()),
        prop_oneof![9 => "[a-z0-9][a-z0-9_-]{0,2}", 1 => ".{0,3}"],
        (0usize..6, toml_value()),
        prop::collection::vec((toml_key(), toml_value()), 0..3),
        0u8..8,
    )
        .prop_map(|(kind, id, (pick, value), noise, how)| {
            let mut text = format!("[[steps]]\nid = \"{id}\"\nkind = \"{kind}\"\n");
            // Mostly valid steps, some with stray or mistyped options.
            if how != 0 {
                text.push_str(&valid_options(kind, pick, &value));
            }
            if how <= 1 {
                for (k, v) in &noise {
                    if k != "id" && k != "kind" {
                        text.push_str(&entry(k, v));
                    }
                }
            }
            text
        })
}

fn structured_flow() -> impl Strategy<Value = String> {
    let noise = || prop::collection::vec((toml_key(), toml_value()), 0..3);
    let settings = prop_oneof![
        2 => Just(String::new()),
        2 => Just("[settings]\nmax_payload_bytes = 100\ntimeout = \"1m\"\n".to_owned()),
        1 => noise().prop_map(|kv| {
            let lines: String = kv.iter().map(|(k, v)| entry(k, v)).collect();
            format!("[settings]\n{lines}")
        }),
    ];
    let trigger = prop_oneof![
        2 => Just(String::new()),
        2 => prop::sample::select(vec![
            "every = \"15m\"",
            "cron = \"*/5 * * * *\"",
            "watch = \"inbox/*.json\"",
            "every = \"0s\"",
            "cron = \"* *\"",
        ])
        .prop_map(|t| format!("[trigger]\n{t}\n")),
        1 => noise().prop_map(|kv| {
            let lines: String = kv.iter().map(|(k, v)| entry(k, v)).collect();
            format!("[trigger]\n{lines}")
        }),
    ];
    (
        prop_oneof![
            2 => Just(None),
            2 => ".{0,10}".prop_map(|s| Some(toml::Value::String(s))),
            1 => toml_value().prop_map(Some),
        ],
        settings,
        trigger,
        prop_oneof![
            1 => prop::collection::vec(structured_step(), 0..1),
            6 => prop::collection::vec(structured_step(), 1..4),
        ],
    )
        .prop_map(|(description, settings, trigger, steps)| {
            let mut text = String::new();
            if let Some(d) = description {
                text.push_str(&entry("description", &d));
            }
            text.push_str(&settings);
            text.push_str(&trigger);
            text.extend(steps);
            text
        })
}

#[test]
fn flow_parsing_never_panics_on_structured_toml() {
    let valid = std::sync::atomic::AtomicUsize::new(0);
    check(
        "flow parsing, generated TOML tables",
        cases(),
        structured_flow(),
        |text| {
            if flow::load_str("p", Path::new("flows/p.toml"), text.clone()).is_ok() {
                valid.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            parse_flow(&text)
        },
    );
    eprintln!(
        "  ({} of them valid flows)",
        valid.load(std::sync::atomic::Ordering::Relaxed)
    );
}

#[test]
fn durations_never_panic() {
    check(
        "duration parsing",
        cases(),
        prop_oneof![
            ".{0,12}",
            "[0-9]{0,25}(ms|s|m|h|d|x)?([0-9]{0,3}(ms|s|m|h|d))?"
        ],
        |text| {
            if let Ok(d) = flow::duration::parse(&text) {
                prop_assert!(!d.is_zero());
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------
// Manifests

#[test]
fn the_manifest_reader_never_panics_on_arbitrary_bytes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        json_value().prop_map(|v| serde_json::to_vec(&v).expect("JSON")),
    ];
    check(
        "manifest reader, arbitrary bytes",
        cases(),
        bytes,
        |bytes| {
            std::fs::write(dir.path().join("manifest.json"), &bytes).expect("write");
            if let Err(e) = read_manifest_raw(dir.path()) {
                prop_assert!(e.to_string().contains("manifest.json"), "{e}");
            }
            Ok(())
        },
    );
}

#[test]
fn the_manifest_reader_never_panics_on_damaged_manifests() {
    let dir = tempfile::tempdir().expect("temp dir");
    let damaged =
        (manifest(), any::<prop::sample::Index>(), json_value()).prop_map(|(m, which, value)| {
            let mut doc = serde_json::to_value(&m).expect("a manifest serialises");
            let keys: Vec<String> = doc
                .as_object()
                .expect("an object")
                .keys()
                .cloned()
                .collect();
            doc[which.get(&keys).as_str()] = value;
            doc
        });
    check(
        "manifest reader, one field replaced",
        cases(),
        damaged,
        |doc| {
            std::fs::write(
                dir.path().join("manifest.json"),
                serde_json::to_vec_pretty(&doc).expect("JSON"),
            )
            .expect("write");
            if let Err(e) = read_manifest_raw(dir.path()) {
                prop_assert!(e.to_string().contains("manifest.json"), "{e}");
            }
            Ok(())
        },
    );
}

#[test]
fn manifests_round_trip() {
    let dir = tempfile::tempdir().expect("temp dir");
    check("manifest write → read", cases(), manifest(), |m| {
        write_manifest(dir.path(), &m).expect("write");
        let back = read_manifest_raw(dir.path());
        prop_assert!(back.is_ok(), "{:?}", back.err());
        prop_assert_eq!(back.expect("checked"), m);
        Ok(())
    });
}

// ---------------------------------------------------------------------------------
// Payload files

/// What `serde_json` writes, plus the final newline: the reference for payload files.
fn reference_pretty(v: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).expect("a value serialises");
    out.push(b'\n');
    out
}

fn hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

#[test]
fn stored_payloads_are_the_pretty_json_or_a_trimmed_prefix_of_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("p.json");
    // Limits near the payload's size are the interesting ones.
    let case = json_value().prop_flat_map(|v| {
        let len = reference_pretty(&v).len() as u64;
        let limit = prop_oneof![
            Just(0),
            0..len + 8,
            len.saturating_sub(8)..len + 2,
            any::<u64>(),
        ];
        (Just(v), limit)
    });
    check(
        "payload write: full pretty JSON or a trimmed prefix",
        cases(),
        case,
        |(value, limit)| {
            let how = Encoding {
                max_bytes: limit,
                secrets: flowrun::testing::secrets::Secrets::none(),
                threads: 1,
            };
            let full = reference_pretty(&value);
            let enc = payload::write(&path, &value, how).expect("write");
            let stored = std::fs::read(&path).expect("read");
            prop_assert_eq!(enc.full_bytes, full.len() as u64);
            prop_assert_eq!(&enc.full_blake3, &hash(&full));
            prop_assert_eq!(enc.bytes, stored.len() as u64);
            prop_assert_eq!(&enc.blake3, &hash(&stored));
            prop_assert!(!enc.masked);
            if limit == 0 || full.len() as u64 <= limit {
                prop_assert!(!enc.trimmed);
                prop_assert!(stored == full, "not the pretty JSON");
                let back: Value = serde_json::from_slice(&stored).expect("stored JSON parses");
                prop_assert_eq!(&back, &value);
            } else {
                prop_assert!(enc.trimmed);
                prop_assert!(stored.ends_with(TRIMMED_MARK), "no [trimmed] line");
                let kept = &stored[..stored.len() - TRIMMED_MARK.len()];
                let k = kept.len() as u64;
                prop_assert!(k <= limit && k + 4 > limit, "kept {k} of limit {limit}");
                prop_assert!(full.starts_with(kept), "not a prefix");
                prop_assert!(std::str::from_utf8(kept).is_ok(), "cut inside a character");
                prop_assert!(
                    matches!(
                        payload::read(&path),
                        Err(flowrun::testing::store::StoreError::Trimmed(_))
                    ),
                    "a trimmed file must not read back as a payload"
                );
            }
            // The same value gives the same bytes.
            let again = payload::write(&path, &value, how).expect("write");
            prop_assert_eq!(again, enc);
            prop_assert!(
                std::fs::read(&path).expect("read") == stored,
                "not deterministic"
            );
            Ok(())
        },
    );
}

#[test]
fn pretty_printing_matches_serde_json() {
    check(
        "json::to_pretty = serde_json pretty + newline",
        cases(),
        json_value(),
        |v| {
            prop_assert!(flowrun::testing::json::to_pretty(&v) == reference_pretty(&v));
            Ok(())
        },
    );
}

#[test]
fn pretty_printing_large_arrays_on_threads_matches_serde_json() {
    // Arrays long enough to be printed in chunks on several threads.
    let case = (
        prop::collection::vec(json_leaf(), 500..1500),
        2usize..5,
        0u64..3,
    );
    check(
        "payload write of large arrays on threads",
        (cases() / 8).max(8),
        case,
        |(items, threads, limit_kind)| {
            let v = Value::Array(items);
            let full = reference_pretty(&v);
            let mut out = Vec::new();
            flowrun::testing::json::write_pretty_par(&mut out, &v, threads).expect("write");
            prop_assert!(out == full, "parallel printing differs");
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("p.json");
            let limit = match limit_kind {
                0 => 0,
                1 => full.len() as u64 / 2,
                _ => full.len() as u64,
            };
            let enc = payload::write(
                &path,
                &v,
                Encoding {
                    max_bytes: limit,
                    secrets: flowrun::testing::secrets::Secrets::none(),
                    threads,
                },
            )
            .expect("write");
            let stored = std::fs::read(&path).expect("read");
            prop_assert_eq!(&enc.full_blake3, &hash(&full));
            prop_assert_eq!(&enc.blake3, &hash(&stored));
            if enc.trimmed {
                let kept = &stored[..stored.len() - TRIMMED_MARK.len()];
                prop_assert!(full.starts_with(kept));
            } else {
                prop_assert!(stored == full);
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------
// Parsing JSON

/// Large enough for `json::parse` to take its parallel path.
const PARALLEL_SIZE: usize = 4 << 20;

/// `text` grown past [`PARALLEL_SIZE`] with spaces after its first byte.
fn padded(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(PARALLEL_SIZE + text.len() + 1);
    out.extend_from_slice(&text[..text.len().min(1)]);
    out.resize(PARALLEL_SIZE + 1, b' ');
    out.extend_from_slice(&text[text.len().min(1)..]);
    out
}

fn same_parse(bytes: &[u8], threads: usize) -> Result<(), TestCaseError> {
    let ours = flowrun::testing::json::parse(bytes, threads);
    let theirs: serde_json::Result<Value> = serde_json::from_slice(bytes);
    match (ours, theirs) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
        (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
        (a, b) => prop_assert!(false, "json::parse gave {a:?}, serde_json {b:?}"),
    }
    Ok(())
}

#[test]
fn parsing_arrays_matches_serde_json() {
    let case = (
        prop::collection::vec(json_value(), 0..40),
        any::<bool>(),
        1usize..5,
    )
        .prop_map(|(items, pretty, threads)| {
            let v = Value::Array(items);
            let text = if pretty {
                serde_json::to_vec_pretty(&v)
            } else {
                serde_json::to_vec(&v)
            };
            (padded(&text.expect("JSON")), threads)
        });
    check(
        "json::parse = serde_json on (large) arrays",
        (cases() / 8).max(8),
        case,
        |(bytes, threads)| same_parse(&bytes, threads),
    );
}

/// Bytes that look like JSON arrays, with the whitespace JSON allows and does not.
fn array_like() -> impl Strategy<Value = Vec<u8>> {
    let token = prop::sample::select(vec![
        &b"["[..],
        b"]",
        b"{",
        b"}",
        b",",
        b":",
        b"\"",
        b"\\",
        b"1",
        b"-2.5e3",
        b"true",
        b"null",
        b"\"a\"",
        b" ",
        b"\n",
        b"\t",
        b"\r",
        b"\x0c",
        b"\x0b",
        b"\xff",
        b"\xc3\xa9",
    ]);
    let space = || prop::collection::vec(prop::sample::select(vec![b' ', b'\n', 0x0c, 0x0b]), 0..3);
    let tokens =
        (prop::collection::vec(token, 0..30), any::<bool>()).prop_map(|(tokens, close)| {
            let mut out = b"[".to_vec();
            for t in tokens {
                out.extend_from_slice(t);
            }
            if close {
                out.push(b']');
            }
            out
        });
    let array = prop::collection::vec(json_leaf(), 0..8)
        .prop_map(|items| serde_json::to_vec(&Value::Array(items)).expect("JSON"));
    (space(), prop_oneof![tokens, array], space())
        .prop_map(|(before, text, after)| [before, text, after].concat())
}

#[test]
fn parsing_arbitrary_bytes_matches_serde_json() {
    check(
        "json::parse = serde_json on arbitrary (large) bytes",
        (cases() / 8).max(8),
        (array_like(), 2usize..5),
        |(text, threads)| same_parse(&padded(&text), threads),
    );
}

#[test]
fn parsing_arbitrary_bytes_without_form_feeds_matches_serde_json() {
    check(
        "json::parse = serde_json on arbitrary (large) bytes, no form feeds",
        (cases() / 8).max(8),
        (array_like(), 2usize..5),
        |(mut text, threads)| {
            text.retain(|b| *b != 0x0c);
            same_parse(&padded(&text), threads)
        },
    );
}

#[test]
fn parsing_deeply_nested_elements_matches_serde_json() {
    for depth in 120..136 {
        let deep = format!("[1, {}{}]", "[".repeat(depth), "]".repeat(depth));
        same_parse(&padded(deep.as_bytes()), 2)
            .unwrap_or_else(|e| panic!("an element {depth} deep: {e}"));
    }
}

#[test]
fn parsing_a_large_array_with_a_trailing_form_feed_matches_serde_json() {
    let mut text = padded(b"[1]");
    text.push(0x0c);
    same_parse(&text, 2).expect("same result");
}
