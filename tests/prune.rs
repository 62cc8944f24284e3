//! `flowrun prune`: keep the newest N, delete by age, never a run in progress, a prune
//! cut off half-way never shows, and the replay index forgets pruned runs.

use crate::support::{ORDERS_BAD, ORDERS_FLOW, Project, Tamper, wait_for};
use serde_json::Value;

/// A flow whose runs take a few milliseconds.
const QUICK: &str = "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.'\n";

/// A flow whose command step waits until the file `release` exists (at most ~30 s).
const GATED: &str = "[[steps]]\nid = \"wait\"\nkind = \"command\"\nrun = [\"scripts/wait.sh\"]\n";
const WAIT_SH: &str = "#!/bin/sh\ni=0\nwhile [ ! -f release ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done\ncat\n";

/// `n` runs of `flow`; returns all its run ids, oldest first.
fn runs(p: &Project, flow: &str, n: usize) -> Vec<String> {
    for _ in 0..n {
        p.cmd(&["run", flow]).run().ok();
    }
    p.run_ids(flow)
}

/// The run ids `flowrun runs` lists for `flow`, oldest first.
fn listed(p: &Project, flow: &str) -> Vec<String> {
    let rows = p
        .cmd(&["runs", "--json", "--flow", flow, "--limit", "1000"])
        .run()
        .ok()
        .json();
    let mut ids: Vec<String> = rows
        .as_array()
        .expect("an array")
        .iter()
        .map(|r| r["run_id"].as_str().expect("run_id").to_owned())
        .collect();
    ids.reverse();
    ids
}

/// A copy of run `id` of `flow` that started at `stamp` (`20200101T000000.000Z`).
fn backdated(p: &Project, flow: &str, id: &str, stamp: &str, suffix: &str) -> String {
    let old = format!("{stamp}-{suffix}");
    let from = p.path(&format!("runs/{flow}/{id}"));
    for entry in walkdir::WalkDir::new(&from) {
        let entry = entry.expect("walk");
        let inside = entry.path().strip_prefix(&from).expect("inside");
        if entry.file_type().is_file() {
            let target = format!("runs/{flow}/{old}/{}", inside.display());
            p.tamper(
                &target,
                Tamper::Write(&std::fs::read(entry.path()).expect("read")),
            );
        }
    }
    let mut m = p.manifest(flow, &old);
    let t = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%.3fZ")
        .expect("stamp")
        .and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    m["run_id"] = Value::from(old.as_str());
    m["started_at"] = Value::from(t.as_str());
    m["finished_at"] = Value::from(t.as_str());
    p.file(
        &format!("runs/{flow}/{old}/manifest.json"),
        &serde_json::to_string_pretty(&m).expect("manifest"),
    );
    old
}

#[test]
fn prune_needs_keep_or_older_than() {
    let p = Project::new();
    p.flow("q", QUICK);
    let ids = runs(&p, "q", 2);
    p.cmd(&["prune"])
        .run()
        .code(2)
        .only_errors()
        .stderr_has("--keep N")
        .stderr_has("--older-than");
    p.cmd(&["prune", "--older-than", "soon"])
        .run()
        .code(2)
        .stderr_has("--older-than: invalid duration `soon`");
    p.cmd(&["prune", "--keep", "1", "--flow", "No/Such"])
        .run()
        .code(2)
        .stderr_has("not a valid flow name");
    assert_eq!(p.run_ids("q"), ids, "nothing was deleted");
}

#[test]
fn keep_n_keeps_the_newest_runs_of_each_flow() {
    let p = Project::new();
    p.flow("a", QUICK).flow("b", QUICK);
    let a = runs(&p, "a", 4);
    let b = runs(&p, "b", 2);

    let dry = p.cmd(&["prune", "--keep", "2", "--dry-run"]).run().ok();
    assert!(
        dry.stdout
            .contains(&format!("would delete a {} (success)", a[0]))
    );
    assert!(dry.stdout.contains("would prune 2 runs of 1 flow; 4 kept"));
    assert_eq!(p.run_ids("a"), a, "a dry run deletes nothing");

    let out = p.cmd(&["prune", "--keep", "2"]).run().ok();
    assert!(
        out.stdout
            .contains(&format!("deleted a {} (success)", a[0]))
    );
    assert!(
        out.stdout
            .contains(&format!("deleted a {} (success)", a[1]))
    );
    assert!(out.stdout.contains("pruned 2 runs of 1 flow; 4 kept"));
    assert_eq!(p.run_ids("a"), &a[2..]);
    assert_eq!(p.run_ids("b"), b);
    assert_eq!(listed(&p, "a"), &a[2..]);
    assert_eq!(listed(&p, "b"), b);
    assert!(!p.exists("runs/.deleting"), "nothing is left to delete");
    p.cmd(&["verify"]).run().ok();

    // --flow, --json and -q.
    let rows = p
        .cmd(&["prune", "--keep", "1", "--flow", "b", "--json"])
        .run()
        .ok()
        .json();
    assert_eq!(rows.as_array().expect("array").len(), 1);
    assert_eq!(rows[0]["flow"], "b");
    assert_eq!(rows[0]["run_id"], b[0].as_str());
    assert_eq!(rows[0]["status"], "success");
    assert_eq!(rows[0]["deleted"], true);
    assert_eq!(p.run_ids("a"), &a[2..]);
    let quiet = p.cmd(&["prune", "--keep", "0", "-q"]).run().ok();
    assert_eq!(quiet.stdout, "");
    assert!(listed(&p, "a").is_empty() && listed(&p, "b").is_empty());
    p.cmd(&["runs"]).run().ok().stderr_has("no runs");
}

#[test]
fn older_than_goes_by_the_start_time() {
    let p = Project::new();
    p.flow("q", QUICK);
    let now = runs(&p, "q", 1);
    let y2020 = backdated(&p, "q", &now[0], "20200101T000000.000Z", "0001");
    let y2021 = backdated(&p, "q", &now[0], "20210101T000000.000Z", "0002");
    let y2022 = backdated(&p, "q", &now[0], "20220101T000000.000Z", "0003");
    p.cmd(&["verify"]).run().ok();

    // Both given: outside the newest 3 *and* older than 30 days.
    p.cmd(&["prune", "--keep", "3", "--older-than", "30d"])
        .run()
        .ok()
        .stdout_has(&format!("deleted q {y2020}"));
    assert_eq!(p.run_ids("q"), [y2021.as_str(), &y2022, &now[0]]);
    // Inside the newest N, but old: kept while --keep says so.
    p.cmd(&["prune", "--keep", "2", "--older-than", "1000d"])
        .run()
        .ok()
        .stdout_has("pruned 1 run of 1 flow; 2 kept");
    assert_eq!(p.run_ids("q"), [y2022.as_str(), &now[0]]);
    // Age alone.
    p.cmd(&["prune", "--older-than", "1h"])
        .run()
        .ok()
        .stdout_has(&format!("deleted q {y2022}"));
    assert_eq!(p.run_ids("q"), now);
    assert_eq!(listed(&p, "q"), now);
    p.cmd(&["verify"]).run().ok();
}

#[test]
fn a_flow_with_a_run_in_progress_is_left_alone() {
    let p = Project::new();
    p.flow("slow", GATED)
        .flow("q", QUICK)
        .script("scripts/wait.sh", WAIT_SH);
    p.file("release", "");
    let earlier = runs(&p, "slow", 2);
    std::fs::remove_file(p.path("release")).expect("rm release");
    runs(&p, "q", 2);

    let mut running = p.cmd(&["run", "slow"]).spawn();
    wait_for("the third run of `slow` to start its step", || {
        assert!(!running.has_exited(), "the gated run ended early");
        p.run_ids("slow").len() == 3
            && std::fs::read_to_string(
                p.path(&format!("runs/slow/{}/manifest.json", p.last_run("slow"))),
            )
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .is_some_and(|m| m["steps"][0]["status"] == "running")
    });
    let live = p.last_run("slow");

    p.cmd(&["prune", "--keep", "0"])
        .run()
        .ok()
        .stderr_has("warning: flow `slow` is busy")
        .stderr_has(&live)
        .stderr_has("its runs were left alone")
        .stdout_has("pruned 2 runs of 1 flow");
    assert!(p.run_ids("q").is_empty());
    let mut all = earlier.clone();
    all.push(live.clone());
    assert_eq!(
        p.run_ids("slow"),
        all,
        "no run of the busy flow was touched"
    );
    p.cmd(&["prune", "--older-than", "1ms", "--flow", "slow"])
        .run()
        .ok()
        .stderr_has("is busy");
    assert_eq!(p.run_ids("slow").len(), 3);

    p.file("release", "");
    let done = running.wait();
    assert_eq!(done.code, 0, "{}", done.stderr);
    p.cmd(&["prune", "--keep", "1", "--flow", "slow"])
        .run()
        .ok()
        .stdout_has("pruned 2 runs");
    assert_eq!(p.run_ids("slow"), [live]);
    p.cmd(&["verify"]).run().ok();
}

#[test]
fn a_prune_cut_off_half_way_is_never_listed_and_is_cleaned_up() {
    let p = Project::new();
    p.flow("q", QUICK);
    let ids = runs(&p, "q", 3);
    // What a prune killed after moving a run out (and removing part of it) leaves: its
    // manifest gone (the first thing removed, from the store too) and the rest of its
    // folder moved out of the flow's folder (on S3 the rest of its objects stay in the
    // store, under the run's prefix).
    p.tamper(&format!("runs/q/{}/manifest.json", ids[0]), Tamper::Remove);
    std::fs::create_dir_all(p.path("runs/.deleting/q")).expect("mkdir");
    std::fs::rename(
        p.path(&format!("runs/q/{}", ids[0])),
        p.path(&format!("runs/.deleting/q/{}", ids[0])),
    )
    .expect("move out");
    assert_eq!(listed(&p, "q"), &ids[1..]);
    let rows = p.cmd(&["runs", "--json"]).run().ok().json();
    assert_eq!(rows.as_array().expect("array").len(), 2);
    p.cmd(&["verify"]).run().ok().stderr_lacks("warning");
    p.cmd(&["show", &ids[0]])
        .run()
        .code(2)
        .stderr_has("no run matches");
    p.cmd(&["runs"]).run().ok().stderr_lacks("warning");

    // And what a run killed while its folder was being created leaves (in the working
    // copy only: a shared store never holds a folder being created).
    let staging = "runs/q/.tmp-20200101T000000.000Z-0bad";
    std::fs::create_dir_all(p.path(staging)).expect("mkdir");
    std::fs::write(p.path(&format!("{staging}/flow.toml")), QUICK).expect("write");
    assert_eq!(listed(&p, "q"), &ids[1..]);
    p.cmd(&["verify"]).run().ok().stderr_lacks("warning");

    p.cmd(&["prune", "--keep", "10"])
        .run()
        .ok()
        .stdout_has("removed 2 folders of q left by a prune or run that was cut off")
        .stdout_has("pruned 0 runs of 0 flows; 2 kept");
    assert!(
        !p.exists("runs/.deleting"),
        "the cut-off deletion was finished"
    );
    assert!(!p.exists(staging), "the cut-off creation was cleared");
    assert_eq!(p.run_ids("q"), &ids[1..]);
    p.cmd(&["run", "q"]).run().ok();
    assert_eq!(listed(&p, "q").len(), 3);
}

#[test]
fn pruned_runs_leave_the_replay_index() {
    let p = Project::new();
    p.flow("orders", ORDERS_FLOW)
        .file("data/orders.json", ORDERS_BAD);
    p.cmd(&["run", "orders"]).run().code(1);
    let failed = p.last_run("orders");
    // Fix the bad order in the recorded batch and replay it; the replay succeeds.
    let payload = format!("runs/orders/{failed}/steps/03-to-erp/000002.json");
    let fixed = p.read(&payload).replace("d.x.com", "d@x.com");
    p.file(&payload, &fixed);
    p.cmd(&["replay", &payload, "--auto-skip", "--edited"])
        .run()
        .ok();
    let replay = p.last_run("orders");
    let index = |p: &Project| -> Vec<Value> {
        p.json("runs/orders/.replays.json")["entries"]
            .as_array()
            .expect("entries")
            .clone()
    };
    assert_eq!(index(&p).len(), 1);
    assert_eq!(index(&p)[0]["of_run"], failed.as_str());
    // The guard knows it: replaying again is refused.
    p.cmd(&["replay", &payload, "--auto-skip", "--edited"])
        .run()
        .code(2)
        .stderr_has("already replayed by successful run");

    // Pruning the source run drops the entry that names it.
    p.cmd(&["prune", "--keep", "1"])
        .run()
        .ok()
        .stdout_has(&format!("deleted orders {failed} (failure)"));
    assert_eq!(p.run_ids("orders"), std::slice::from_ref(&replay));
    assert!(index(&p).is_empty(), "{:?}", index(&p));
    p.cmd(&["prune", "--keep", "0"]).run().ok();
    assert!(index(&p).is_empty());
    assert!(p.run_ids("orders").is_empty());
    p.cmd(&["verify"]).run().ok();
}

#[test]
fn a_prune_killed_while_deleting_never_leaves_half_a_run_listed() {
    let p = Project::new();
    let flow = "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/in.json\"\n\n\
                [[steps]]\nid = \"one\"\nkind = \"split\"\nsize = 1\n\n\
                [[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.'\n";
    let items: Vec<usize> = (1..=400).collect();
    p.flow("big", flow).file(
        "data/in.json",
        &serde_json::to_string(&items).expect("items"),
    );
    let ids = runs(&p, "big", 6);
    // The oldest run's manifest leaves the flow's folder first (on S3: the store) as
    // it is deleted.
    let first = format!("runs/big/{}/manifest.json", ids[0]);
    assert!(p.exists(&first));
    let mut prune = p.cmd(&["prune", "--keep", "1"]).spawn();
    let start = std::time::Instant::now();
    let killed = loop {
        let moving = std::fs::read_dir(p.path("runs/.deleting/big")).map_or(0, Iterator::count);
        if moving > 0 || !p.exists(&first) {
            prune.kill();
            break true;
        }
        if prune.has_exited() {
            break false;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "prune hung"
        );
        std::thread::sleep(std::time::Duration::from_micros(200));
    };
    // Whatever moment the kill came at: every listed run is whole, the newest is there.
    let shown = listed(&p, "big");
    assert!(shown.contains(&ids[5]));
    assert!(shown.iter().all(|id| ids.contains(id)));
    p.cmd(&["verify"]).run().ok().stderr_lacks("warning");
    if killed {
        eprintln!("killed prune with {} of 6 runs still listed", shown.len());
    }
    p.cmd(&["prune", "--keep", "1"]).run().ok();
    assert_eq!(listed(&p, "big"), [ids[5].clone()]);
    assert!(!p.exists("runs/.deleting"));
}
