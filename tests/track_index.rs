//! The index of tracked values as a base plus per-run segments: compaction, and `find`
//! across the boundary between the two.

use crate::support::{Project, Tamper};
use serde_json::json;

/// A flow that tracks each order's id (also used by `s3_read`).
pub(crate) const FLOW: &str = r#"
[[steps]]
id = "orders"
kind = "map"
jq = '.orders'
track = { order = '.id' }
"#;

/// The places the index of `flow` holds, base and segments together, sorted.
pub fn index_lines(p: &Project, flow: &str) -> Vec<String> {
    let mut lines: Vec<String> = p
        .tree(&format!("runs/{flow}/.track"))
        .into_iter()
        .filter(|(name, _)| name.len() == 2 || name.starts_with("s-"))
        .flat_map(|(_, bytes)| {
            String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| !l.starts_with('#'))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    lines.sort();
    lines
}

/// The segment files of `flow`'s index.
fn segments(p: &Project, flow: &str) -> Vec<String> {
    p.tree(&format!("runs/{flow}/.track"))
        .into_keys()
        .filter(|n| n.starts_with("s-"))
        .collect()
}

/// The runs the index of `flow` accounts for: the base's `runs` and the segments.
pub fn indexed_runs(p: &Project, flow: &str) -> Vec<String> {
    let mut runs: Vec<String> = if p.exists(&format!("runs/{flow}/.track/runs")) {
        p.read(&format!("runs/{flow}/.track/runs"))
            .lines()
            .map(str::to_owned)
            .collect()
    } else {
        Vec::new()
    };
    runs.extend(segments(p, flow).iter().map(|n| n["s-".len()..].to_owned()));
    runs.sort();
    runs
}

/// One run of `f` carrying `ids`, with at most `bound` segments.
fn run(p: &Project, ids: &[&str], bound: &str) {
    let orders: Vec<_> = ids.iter().map(|id| json!({ "id": id })).collect();
    p.file("in/o.json", &json!({ "orders": orders }).to_string());
    p.cmd(&["run", "f", "--input", "in/o.json"])
        .env("FLOWRUN_TRACK_SEGMENTS", bound)
        .run()
        .ok();
}

#[test]
fn runs_append_segments_until_the_bound_then_compact_into_the_base() {
    let p = Project::new();
    p.flow("f", FLOW);
    run(&p, &["ORD-0"], "3");
    // The first run finds no index: it builds the base.
    assert!(segments(&p, "f").is_empty());
    let mut seen = Vec::new();
    for k in 1..=9 {
        let id = format!("ORD-{k}");
        run(&p, &[&id, "ORD-ALL"], "3");
        seen.push(segments(&p, "f").len());
    }
    // Runs 1-3 add segments, run 4 makes a fourth and compacts, and so on.
    assert_eq!(seen, [1, 2, 3, 0, 1, 2, 3, 0, 1]);
    let runs = p.run_ids("f");
    assert_eq!(indexed_runs(&p, "f"), runs);
    let base = p.read("runs/f/.track/runs");
    assert_eq!(base.lines().count(), 9, "runs 0-8 in the base");

    // A rebuild gives the same places as the base and segments built run by run.
    let built = index_lines(&p, "f");
    p.tamper("runs/f/.track", Tamper::Remove);
    p.cmd(&["find", "order=ORD-9"]).run().ok();
    assert_eq!(index_lines(&p, "f"), built);
    assert!(segments(&p, "f").is_empty(), "a rebuild is all base");
}

#[test]
fn find_reads_the_base_and_the_segments_and_prune_compacts() {
    let p = Project::new();
    p.flow("f", FLOW);
    for k in 0..6 {
        let id = format!("ORD-{k}");
        run(&p, &[&id, "ORD-COMMON"], "64");
    }
    let runs = p.run_ids("f");
    // Run 0 built the base; runs 1-5 are segments.
    assert_eq!(segments(&p, "f").len(), 5);
    let rows = p
        .cmd(&["--json", "find", "order=ORD-COMMON"])
        .run()
        .ok()
        .json();
    let found: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = runs.iter().rev().map(String::as_str).collect();
    assert_eq!(found, newest_first, "base and segments, newest first");
    for (k, id) in runs.iter().enumerate() {
        p.cmd(&["find", &format!("order=ORD-{k}")])
            .run()
            .ok()
            .stdout_has("1 place in 1 run")
            .stdout_has(id);
    }

    // A run deleted by hand, one in the base and one a segment: neither is listed.
    for gone in [&runs[0], &runs[3]] {
        p.tamper(&format!("runs/f/{gone}"), Tamper::Remove);
    }
    p.cmd(&["find", "order=ORD-0"]).run().code(1);
    p.cmd(&["find", "order=ORD-3"]).run().code(1);
    p.cmd(&["find", "order=ORD-COMMON"])
        .run()
        .ok()
        .stdout_has("4 places in 4 runs");
    assert!(segments(&p, "f").is_empty(), "a stale index is compacted");

    // A segment left beside a base that already holds its run (a compaction cut off
    // before it removed the segments) is not counted twice.
    run(&p, &["ORD-6", "ORD-COMMON"], "64");
    let last = p.last_run("f");
    let seg = format!("runs/f/.track/s-{last}");
    let kept = p.read(&seg);
    p.cmd(&["prune", "--keep", "3"]).run().ok();
    assert!(segments(&p, "f").is_empty(), "prune compacts");
    p.file(&seg, &kept);
    p.cmd(&["find", "order=ORD-6"])
        .run()
        .ok()
        .stdout_has("1 place in 1 run");
    p.cmd(&["find", "order=ORD-COMMON"])
        .run()
        .ok()
        .stdout_has("3 places in 3 runs");
    assert_eq!(indexed_runs(&p, "f"), p.run_ids("f"));
}
