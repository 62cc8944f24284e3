//! Bounded memory: a `read` of one JSON array streamed into the `split` after it, and
//! outputs read back from their files past the memory budget, write the same trail
//! byte for byte as the whole-payload path.

use crate::support::Project;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A W-like flow (read → split → map → filter → assert → write), every payload stored.
const W_FLOW: &str = r#"
[settings]
max_payload_bytes = MAX

[[steps]]
id = "load"
kind = "read"
path = "data/orders.json"

[[steps]]
id = "batch"
kind = "split"
size = 7

[[steps]]
id = "to-erp"
kind = "map"
jq = 'map({order_id: .id, email: (.customer.email|ascii_downcase), total: ([.lines[] | .qty * .price] | add), lines: [.lines[] | {sku, qty}]})'

[[steps]]
id = "paid"
kind = "filter"
jq = '.total > 0'

[[steps]]
id = "valid"
kind = "assert"
jq = '.email | contains("@")'

[[steps]]
id = "save"
kind = "write"
path = "out/batch-{n}.json"
"#;

/// Orders with escapes, non-ASCII text, floats, empty containers and odd spacing.
fn orders(n: usize) -> Value {
    let items: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "id": format!("ORD-{i:05}"),
                "note": if i % 3 == 0 { "quote \" backslash \\ tab \t é ü 😀 ]},[" } else { "" },
                "customer": {"name": format!("Zoë {i}"), "email": format!("Person{i}@Example.com")},
                "lines": (0..(i % 4)).map(|k| json!({"sku": format!("S{k}"), "qty": k + 1, "price": 1.25 * f64::from(u32::try_from(k).unwrap()) + 0.1})).collect::<Vec<_>>(),
                "tags": [], "meta": {}, "big": u64::MAX - u64::try_from(i).unwrap(), "neg": -i64::try_from(i).unwrap(), "f": 1e-7,
            })
        })
        .collect();
    Value::Array(items)
}

/// Compact JSON with irregular white space, as exports often are.
fn as_text(v: &Value) -> String {
    let items: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|o| serde_json::to_string(o).unwrap())
        .collect();
    format!("\u{feff}[\r\n {} \n]\n\n", items.join(" ,\n\t"))
}

fn serde_pretty(v: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).unwrap();
    out.push(b'\n');
    out
}

/// Runs the W-like flow with `env` and returns its trail (`steps/`) and the payload
/// records of its manifest.
fn trail(p: &Project, env: &[(&str, &str)]) -> (BTreeMap<String, Vec<u8>>, Vec<Value>) {
    let _ = std::fs::remove_dir_all(p.path("runs"));
    let _ = std::fs::remove_dir_all(p.path("out"));
    // Streamed whatever the input's size (by default only large inputs are).
    let mut cmd = p.cmd(&["run", "w"]).env("FLOWRUN_STREAM_FROM_MB", "0");
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    cmd.run().ok();
    let id = p.last_run("w");
    let m = p.manifest("w", &id);
    let records = m["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| json!([s["payloads"], s["inputs_done"], s["status"]]))
        .collect();
    (p.tree(&format!("runs/w/{id}/steps")), records)
}

#[test]
fn a_streamed_read_and_split_write_the_same_trail_as_the_whole_payload_path() {
    let input = orders(100);
    let p = Project::new();
    p.flow("w", &W_FLOW.replace("MAX", "0"))
        .file("data/orders.json", &as_text(&input));
    let (whole, whole_records) = trail(&p, &[("FLOWRUN_NO_STREAM", "1")]);
    let (streamed, streamed_records) = trail(&p, &[]);
    // Nothing kept in memory: every later step reads its inputs back from their files.
    let (read_back, read_back_records) = trail(&p, &[("FLOWRUN_HOLD_MB", "0")]);
    assert_eq!(whole.len(), 1 + 5 * 15);
    assert!(whole == streamed, "streamed trail differs");
    assert!(whole == read_back, "read-back trail differs");
    assert_eq!(whole_records, streamed_records);
    assert_eq!(whole_records, read_back_records);
    // And the files are serde_json's pretty printing, as before.
    assert_eq!(streamed["01-load/000001.json"], serde_pretty(&input));
    let items = input.as_array().unwrap();
    for (k, chunk) in items.chunks(7).enumerate() {
        let name = format!("02-batch/{:06}.json", k + 1);
        assert_eq!(streamed[&name], serde_pretty(&Value::Array(chunk.to_vec())));
    }
}

#[test]
fn a_streamed_read_trims_its_stored_file_as_the_whole_payload_path_does() {
    let p = Project::new();
    p.flow("w", &W_FLOW.replace("MAX", "1500"))
        .file("data/orders.json", &as_text(&orders(60)));
    let (whole, whole_records) = trail(&p, &[("FLOWRUN_NO_STREAM", "1")]);
    let (streamed, streamed_records) = trail(&p, &[("FLOWRUN_HOLD_MB", "0")]);
    assert!(whole == streamed, "streamed trail differs");
    assert_eq!(whole_records, streamed_records);
    assert!(whole_records[0].to_string().contains("\"trimmed\":true"));
}

#[test]
fn an_empty_array_streams_to_no_batches() {
    let p = Project::new();
    p.flow("w", &W_FLOW.replace("MAX", "0"))
        .file("data/orders.json", " [ ] ");
    let (whole, whole_records) = trail(&p, &[("FLOWRUN_NO_STREAM", "1")]);
    let (streamed, streamed_records) = trail(&p, &[]);
    assert!(whole == streamed);
    assert_eq!(whole_records, streamed_records);
    assert_eq!(streamed["01-load/000001.json"], b"[]\n");
}

#[test]
fn a_bad_input_is_reported_as_without_streaming() {
    for text in [
        "[\n{\"a\": 1},\n{\"a\": 2,}\n]",
        "[1, 2] x",
        "[1, 123456789012345678901234567890]",
        "{\"not\": \"an array\"}",
        "[1, 2",
    ] {
        let p = Project::new();
        p.flow("w", &W_FLOW.replace("MAX", "0"))
            .file("data/orders.json", text);
        let whole = p
            .cmd(&["run", "w"])
            .env("FLOWRUN_NO_STREAM", "1")
            .run()
            .code(1);
        let streamed = p
            .cmd(&["run", "w"])
            .env("FLOWRUN_STREAM_FROM_MB", "0")
            .run()
            .code(1);
        let strip = |s: &str| {
            s.lines()
                .filter(|l| l.contains("data/orders.json") || l.contains("split"))
                .map(|l| {
                    l.replace(&p.run_ids("w")[0], "")
                        .replace(&p.run_ids("w")[1], "")
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&whole.stderr), strip(&streamed.stderr), "{text}");
        assert!(
            !strip(&streamed.stderr).is_empty(),
            "{text}: {}",
            streamed.stderr
        );
    }
}

/// read → split → a command step that only registers a secret (so that payloads are
/// masked), every payload stored.
const SECRET_FLOW: &str = r#"
[settings]
max_payload_bytes = 0

[[steps]]
id = "load"
kind = "read"
path = "data/orders.json"

[[steps]]
id = "batch"
kind = "split"
size = SIZE

[[steps]]
id = "pass"
kind = "command"
run = ["cat"]
env = { UNUSED = "${secret:TOKEN}" }
"#;

#[test]
fn a_streamed_read_over_many_chunks_writes_the_same_trail_as_the_whole_payload_path() {
    // About 700 KB: the reader hands the workers several chunks, whose ends fall
    // inside batches, and the budget keeps some batches and lets others go.
    let input = orders(2500);
    let p = Project::new();
    p.flow(
        "w",
        &W_FLOW.replace("MAX", "0").replace("size = 7", "size = 300"),
    )
    .file("data/orders.json", &as_text(&input));
    let (whole, whole_records) = trail(&p, &[("FLOWRUN_NO_STREAM", "1")]);
    let (streamed, streamed_records) = trail(&p, &[("FLOWRUN_HOLD_MB", "1")]);
    let (read_back, read_back_records) = trail(&p, &[("FLOWRUN_HOLD_MB", "0")]);
    let (one_thread, one_thread_records) = trail(&p, &[("FLOWRUN_THREADS", "1")]);
    assert_eq!(whole.len(), 1 + 5 * 9);
    assert!(whole == streamed, "streamed trail differs");
    assert!(whole == read_back, "read-back trail differs");
    assert!(whole == one_thread, "one-thread trail differs");
    assert_eq!(whole_records, streamed_records);
    assert_eq!(whole_records, read_back_records);
    assert_eq!(whole_records, one_thread_records);
    assert_eq!(streamed["01-load/000001.json"], serde_pretty(&input));
}

#[test]
fn a_batch_larger_than_the_input_streams_to_one_batch() {
    let input = orders(10);
    let p = Project::new();
    p.flow(
        "w",
        &W_FLOW
            .replace("MAX", "0")
            .replace("size = 7", "size = 1000"),
    )
    .file("data/orders.json", &as_text(&input));
    let (whole, whole_records) = trail(&p, &[("FLOWRUN_NO_STREAM", "1")]);
    let (streamed, streamed_records) = trail(&p, &[("FLOWRUN_HOLD_MB", "0")]);
    assert!(whole == streamed, "streamed trail differs");
    assert_eq!(whole_records, streamed_records);
    assert_eq!(streamed["02-batch/000001.json"], serde_pretty(&input));
}

#[test]
fn a_streamed_read_masks_secrets_as_the_whole_payload_path_does() {
    let secret = "T0ken-in-the-data";
    let mut input = orders(400);
    for (k, o) in input.as_array_mut().unwrap().iter_mut().enumerate() {
        if k % 150 == 7 {
            o["note"] = json!(format!("key {secret} here"));
        }
    }
    let p = Project::new();
    p.flow("w", &SECRET_FLOW.replace("SIZE", "100"))
        .file("data/orders.json", &as_text(&input));
    let (whole, whole_records) = trail(&p, &[("FLOWRUN_NO_STREAM", "1"), ("TOKEN", secret)]);
    let (streamed, streamed_records) = trail(&p, &[("FLOWRUN_HOLD_MB", "0"), ("TOKEN", secret)]);
    assert!(whole == streamed, "streamed trail differs");
    assert_eq!(whole_records, streamed_records);
    let records = streamed_records[1].to_string();
    // Orders 7, 157 and 307 hold it: batches 1, 2 and 4 of 4.
    assert_eq!(records.matches("\"masked\":true").count(), 3, "{records}");
    for (name, bytes) in &streamed {
        assert!(
            !String::from_utf8_lossy(bytes).contains(secret),
            "{name} holds the secret"
        );
    }
}

#[test]
fn elements_printed_from_their_text_match_the_parsed_ones_byte_for_byte() {
    // Elements a streamed read prints without parsing them (those no step keeps in
    // memory) must come out as the parser and printer would have it: numbers in the
    // printer's form, escapes decoded, repeated keys, wide objects, deep nesting.
    let deep = format!("{}1{}", "[".repeat(110), "]".repeat(110));
    let wide: Vec<String> = (0..70).map(|k| format!("\"k{k}\":{k}")).collect();
    let odd = [
        r#"{"id":"a","customer":{"email":"X@Y.example"},"lines":[{"sku":"s","qty":2,"price":1.50}]}"#.to_owned(),
        r#"{"id":"b","customer":{"email":"e@x"},"lines":[{"sku":"t","qty":1,"price":1e2},{"sku":"u","qty":-0,"price":-0.0}],"n":[0,-7,123456789012345678,18446744073709551615,-9223372036854775808,1E-7,2.5e+3]}"#.to_owned(),
        r#"{"id":"c","customer":{"email":"\u0041@\/b\u00e9\ud83d\ude00"},"lines":[],"s":"tab\t nl\n \"q\" \\ \u001f"}"#.to_owned(),
        r#"{"id":"d","customer":{"email":"d@x","email":"D@X"},"lines":[],"id":"d2"}"#.to_owned(),
        format!(r#"{{"id":"e","customer":{{"email":"e@x"}},"lines":[],"wide":{{{}}}}}"#, wide.join(",")),
        format!(r#"{{"id":"f","customer":{{"email":"f@x"}},"lines":[],"deep":{deep}}}"#),
        r#"  {"id" : "g" , "customer" : { "email" : "g@x" } , "lines" : [ { "sku" : "v" , "qty" : 3 , "price" : 0.1 } ] , "t" : true , "f" : false , "z" : null , "e" : { } , "a" : [ ] }  "#.to_owned(),
    ];
    let items: Vec<String> = (0..140).map(|k| odd[k % odd.len()].clone()).collect();
    let text = format!("[{}]\n", items.join(",\n"));
    let p = Project::new();
    p.flow(
        "w",
        &W_FLOW.replace("MAX", "0").replace("size = 7", "size = 9"),
    )
    .file("data/orders.json", &text);
    let (whole, whole_records) = trail(&p, &[("FLOWRUN_NO_STREAM", "1")]);
    let (read_back, read_back_records) = trail(&p, &[("FLOWRUN_HOLD_MB", "0")]);
    let (one_thread, one_thread_records) =
        trail(&p, &[("FLOWRUN_HOLD_MB", "0"), ("FLOWRUN_THREADS", "1")]);
    assert_eq!(whole.len(), 1 + 5 * 16);
    assert!(whole == read_back, "read-back trail differs");
    assert!(whole == one_thread, "one-thread trail differs");
    assert_eq!(whole_records, read_back_records);
    assert_eq!(whole_records, one_thread_records);
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(read_back["01-load/000001.json"], serde_pretty(&parsed));
}

#[test]
fn a_write_handed_a_payload_let_go_copies_its_file_and_the_next_step_reads_it_back() {
    // Past the budget, `write` gets the input's exact file instead of its value (it
    // is not read back for it); the step after it reads the payload back.
    let flow = r#"
[settings]
max_payload_bytes = 0

[[steps]]
id = "load"
kind = "read"
path = "data/orders.json"

[[steps]]
id = "batch"
kind = "split"
size = 40

[[steps]]
id = "save"
kind = "write"
path = "out/batch-{n}.json"

[[steps]]
id = "count"
kind = "map"
jq = '[length, (map(.id) | first)]'
"#;
    let input = orders(300);
    let p = Project::new();
    p.flow("w", flow).file("data/orders.json", &as_text(&input));
    let (whole, whole_records) = trail(&p, &[("FLOWRUN_NO_STREAM", "1")]);
    let (read_back, read_back_records) = trail(&p, &[("FLOWRUN_HOLD_MB", "0")]);
    assert_eq!(whole.len(), 1 + 3 * 8);
    assert!(whole == read_back, "read-back trail differs");
    assert_eq!(whole_records, read_back_records);
    let items = input.as_array().unwrap();
    for (k, chunk) in items.chunks(40).enumerate() {
        let written = std::fs::read(p.path(&format!("out/batch-{}.json", k + 1))).unwrap();
        assert_eq!(written, serde_pretty(&Value::Array(chunk.to_vec())));
        let counted = &read_back[&format!("04-count/{:06}.json", k + 1)];
        assert_eq!(
            counted,
            &serde_pretty(&json!([chunk.len(), chunk[0]["id"]]))
        );
    }
}
