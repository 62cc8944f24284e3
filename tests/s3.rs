//! The run store on S3-compatible object storage (issue 18), against the local S3
//! server (moto) at `FLOWRUN_TEST_S3_ENDPOINT`: two project roots sharing one bucket.
//! Skipped when no server is configured, unless `CI` is set.

use crate::support::s3::{TestStore, endpoint};
use crate::support::{Cmd, Project, Running, wait_for};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The shared store, or `None` (the tests are skipped) when no S3 server is configured
/// outside CI.
pub(crate) fn shared() -> Option<TestStore> {
    if std::env::var_os("FLOWRUN_TEST_S3_ENDPOINT").is_none() && std::env::var_os("CI").is_none() {
        eprintln!("skipped: no FLOWRUN_TEST_S3_ENDPOINT (see .ci/run)");
        return None;
    }
    let _ = endpoint();
    Some(TestStore::fresh())
}

/// `cmd` with the store's variables.
pub(crate) fn on(mut cmd: Cmd, store: &TestStore) -> Cmd {
    for (k, v) in store.env() {
        cmd = cmd.env(&k, &v);
    }
    cmd
}

/// The stored manifest of run `id` of `flow`.
fn manifest(store: &TestStore, flow: &str, id: &str) -> Value {
    serde_json::from_slice(&store.get(&format!("runs/{flow}/{id}/manifest.json")))
        .expect("a stored manifest is JSON")
}

/// Run ids in the store, oldest first.
fn stored_runs(store: &TestStore, flow: &str) -> Vec<String> {
    let mut ids: Vec<String> = store
        .keys()
        .iter()
        .filter_map(|k| {
            k.strip_prefix(&format!("runs/{flow}/"))?
                .strip_suffix("/manifest.json")
                .map(str::to_owned)
        })
        .collect();
    ids.sort();
    ids
}

/// Every file a stored manifest lists is stored too.
fn assert_complete(store: &TestStore, flow: &str) {
    let keys = store.keys();
    for id in stored_runs(store, flow) {
        let m = manifest(store, flow, &id);
        let mut files: Vec<&str> = m["input"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["file"].as_str().unwrap())
            .collect();
        for s in m["steps"].as_array().unwrap() {
            files.extend(
                s["payloads"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["file"].as_str().unwrap()),
            );
        }
        for f in files {
            let key = format!("runs/{flow}/{id}/{f}");
            assert!(keys.contains(&key), "{key} is listed but not stored");
        }
    }
}

const FAILS_ON_B: &str = r#"
[[steps]]
id = "load"
kind = "read"
path = "data/in.json"

[[steps]]
id = "batch"
kind = "split"
size = 1

[[steps]]
id = "check"
kind = "assert"
jq = '.[0] != "b"'
message = "no b"
"#;

#[test]
fn two_roots_share_runs_and_a_resume_from_the_other_root_works() {
    let Some(store) = shared() else { return };
    let a = Project::new();
    let b = Project::new();
    for p in [&a, &b] {
        p.flow("f", FAILS_ON_B)
            .file("data/in.json", r#"["a", "b", "c"]"#);
    }
    on(a.cmd(&["run", "f"]), &store).run().code(1);
    let ids = stored_runs(&store, "f");
    assert_eq!(ids.len(), 1);
    assert_complete(&store, "f");
    // The other root has no runs/ folder of its own, and sees the run.
    let rows = on(b.cmd(&["runs", "--json"]), &store).run().ok().json();
    assert_eq!(rows[0]["run_id"], ids[0].as_str());
    assert_eq!(rows[0]["status"], "failure");
    on(b.cmd(&["show", "last"]), &store)
        .run()
        .ok()
        .stdout_has("failure");

    // Fixed on the other root, and resumed there from the stored payloads.
    b.flow("f", &FAILS_ON_B.replace(r#"'.[0] != "b"'"#, "'true'"));
    on(b.cmd(&["resume", &ids[0]]), &store).run().ok();
    let ids = stored_runs(&store, "f");
    assert_eq!(ids.len(), 2);
    let m = manifest(&store, "f", &ids[1]);
    assert_eq!(m["status"], "success");
    assert_eq!(m["resume_of"], ids[0].as_str());
    assert_complete(&store, "f");
    // Both roots list both runs; a replay from the first root works too.
    let rows = on(a.cmd(&["runs", "--json"]), &store).run().ok().json();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    on(a.cmd(&["verify", &ids[1]]), &store).run().ok();
}

/// A flow whose command step waits until the file `release` exists (at most ~60 s).
const GATED: &str = "[[steps]]\nid = \"wait\"\nkind = \"command\"\nrun = [\"scripts/wait.sh\"]\n";
const WAIT_SH: &str = "#!/bin/sh\ni=0\nwhile [ ! -f release ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done\ncat\n";

fn gated(p: &Project) {
    p.flow("slow", GATED).script("scripts/wait.sh", WAIT_SH);
}

/// A project root with the gated flow `slow`.
fn gated_root() -> Project {
    let p = Project::new();
    gated(&p);
    p
}

/// `flowrun run slow` in `a` on `store` with a lease of `lease_secs`, once its run is
/// stored: the process and the run id.
fn holding(a: &Project, store: &TestStore, lease_secs: &str) -> (Running, String) {
    let mut first = on(a.cmd(&["run", "slow"]), store)
        .env("FLOWRUN_S3_LEASE_SECS", lease_secs)
        .spawn();
    let id = wait_running(store, &mut first);
    (first, id)
}

/// Waits until the stored run of `slow` has its step running.
fn wait_running(store: &TestStore, run: &mut Running) -> String {
    let mut id = None;
    wait_for("the first run to reach its command step", || {
        assert!(!run.has_exited(), "the first run ended early");
        let Some(found) = stored_runs(store, "slow").pop() else {
            return false;
        };
        let running = manifest(store, "slow", &found)["steps"][0]["status"] == "running";
        id = Some(found);
        running
    });
    id.expect("a run")
}

#[test]
fn one_run_of_a_flow_at_a_time_across_two_roots() {
    let Some(store) = shared() else { return };
    let (a, b) = (gated_root(), gated_root());
    let mut first = on(a.cmd(&["run", "slow"]), &store).spawn();
    let id = wait_running(&store, &mut first);
    on(b.cmd(&["run", "slow"]), &store)
        .run()
        .code(3)
        .stderr_has("flow `slow` is busy")
        .stderr_has(&id);
    // The other root sees it running.
    let rows = on(b.cmd(&["runs", "--json"]), &store).run().ok().json();
    assert_eq!(rows[0]["status"], "running");
    a.file("release", "");
    first.wait().ok();
    assert_eq!(manifest(&store, "slow", &id)["status"], "success");
    b.file("release", "");
    on(b.cmd(&["run", "slow"]), &store).run().ok();
    assert_eq!(stored_runs(&store, "slow").len(), 2);
}

#[test]
fn a_holder_renews_its_lease_while_it_lives_and_once_killed_frees_the_lock() {
    let Some(store) = shared() else { return };
    let (a, b) = (gated_root(), gated_root());
    b.file("release", "");
    let (first, id) = holding(&a, &store, "2");
    // Renewed while it lives: still busy well past one lease.
    std::thread::sleep(Duration::from_secs(3));
    on(b.cmd(&["run", "slow"]), &store).run().code(3);
    first.kill();
    let killed = Instant::now();
    wait_for("the lock to be free", || {
        on(b.cmd(&["run", "slow"]), &store).run().code == 0
    });
    assert!(killed.elapsed() < Duration::from_secs(20));
    // The killed run is recorded as interrupted by the next holder.
    assert_eq!(manifest(&store, "slow", &id)["status"], "interrupted");
    a.file("release", "");
}

/// Every stored object with its bytes, lock objects left out (a renewal rewrites them).
fn snapshot(store: &TestStore) -> BTreeMap<String, Vec<u8>> {
    store
        .keys()
        .into_iter()
        .filter(|k| !k.ends_with("/.lock"))
        .map(|k| {
            let bytes = store.get(&k);
            (k, bytes)
        })
        .collect()
}

fn signal(pid: u32, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {sig} {pid}");
}

#[test]
fn a_holder_paused_past_its_lease_stops_writing_and_leaves_the_new_holder_alone() {
    let Some(store) = shared() else { return };
    let (a, b) = (gated_root(), gated_root());
    let (first, lost) = holding(&a, &store, "2");
    signal(first.pid(), "-STOP");
    // Paused past its lease: another root takes the flow, and is in the middle of its run.
    std::thread::sleep(Duration::from_secs(3));
    let mut second = on(b.cmd(&["run", "slow"]), &store).spawn();
    let mut taker = String::new();
    wait_for("the second run to reach its command step", || {
        assert!(!second.has_exited(), "the second run ended early");
        let Some(last) = stored_runs(&store, "slow").pop().filter(|id| *id != lost) else {
            return false;
        };
        let running = manifest(&store, "slow", &last)["steps"][0]["status"] == "running";
        taker = last;
        running
    });
    // The new holder recorded the paused run as interrupted.
    assert_eq!(manifest(&store, "slow", &lost)["status"], "interrupted");
    let before = snapshot(&store);

    // The paused run goes on: its step ends, and its first write is refused.
    a.file("release", "");
    signal(first.pid(), "-CONT");
    let out = first.wait();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("error: lost the lock of flow `slow`: "))
        .unwrap_or_else(|| panic!("no lost-lock error in:\n{}", out.stderr));
    eprintln!("{}", out.stderr);
    assert!(
        line.contains("another process (host ")
            && line.contains(&format!("run {taker})"))
            && line.contains("took it over after its lease ran out; this run stopped writing at ")
            && line.contains(&format!("runs/slow/{lost}/steps/01-wait/")),
        "{line}"
    );
    // It stored nothing more: not its payload, its manifest or the index.
    assert_eq!(snapshot(&store), before, "the paused run stored something");
    let lock = String::from_utf8(store.get("runs/slow/.lock")).unwrap();
    assert_eq!(lock.lines().next(), Some(taker.as_str()), "{lock}");
    // Its working copy says how it ended; the stored manifest is the record, and every
    // read through the store sees it.
    let local: Value = serde_json::from_slice(
        &std::fs::read(a.root().join(format!("runs/slow/{lost}/manifest.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(local["status"], "failure");
    let shown = on(a.cmd(&["show", &lost, "--json"]), &store)
        .run()
        .ok()
        .json();
    assert_eq!(shown["status"], "interrupted");

    // The new holder is not disturbed.
    b.file("release", "");
    second.wait().ok();
    assert_eq!(manifest(&store, "slow", &taker)["status"], "success");
    assert_eq!(stored_runs(&store, "slow"), vec![lost, taker.clone()]);
    assert_complete(&store, "slow");
    on(b.cmd(&["verify", &taker]), &store).run().ok();
}

#[test]
fn a_holder_killed_with_sigkill_on_this_host_frees_the_lock_at_once() {
    let Some(store) = shared() else { return };
    let (a, b) = (gated_root(), gated_root());
    b.file("release", "");
    let (first, id) = holding(&a, &store, "30");
    on(b.cmd(&["run", "slow"]), &store).run().code(3);
    first.kill();
    let killed = Instant::now();
    // Its holder id names this host and a process that is gone: not held, long before
    // the 30 s lease ends.
    let rows = on(b.cmd(&["runs", "--json"]), &store).run().ok().json();
    assert_eq!(rows[0]["status"], "interrupted");
    on(b.cmd(&["run", "slow"]), &store).run().ok();
    assert!(killed.elapsed() < Duration::from_secs(15));
    assert_eq!(manifest(&store, "slow", &id)["status"], "interrupted");
    assert_eq!(
        manifest(&store, "slow", &stored_runs(&store, "slow")[1])["status"],
        "success"
    );
    a.file("release", "");
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path).unwrap().trim().to_owned()
}

/// This test process's start time, as `/proc/self/stat` gives it.
fn own_start() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = stat.rsplit_once(')').unwrap().1;
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

#[test]
fn a_lock_held_on_another_host_waits_for_its_lease_and_a_reused_pid_holds_nothing() {
    let Some(store) = shared() else { return };
    let p = Project::new();
    gated(&p);
    p.file("release", "");
    let host = read_trim("/proc/sys/kernel/hostname");
    let boot = read_trim("/proc/sys/kernel/random/boot_id");
    let ns: String = std::fs::read_link("/proc/self/ns/pid")
        .unwrap()
        .to_string_lossy()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let now_ms = || {
        u64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap()
    };
    let (pid, start) = (std::process::id(), own_start());
    let lock = |holder: String, expires: u64| {
        store.put(
            "runs/slow/.lock",
            format!("\n{holder}\n{expires}\n7\n").as_bytes(),
        );
    };
    let far = now_ms() + 600_000;
    // A live process of this host holds it.
    lock(format!("{host}:{pid}:{start}:{boot}:{ns}"), far);
    on(p.cmd(&["run", "slow"]), &store)
        .run()
        .code(3)
        .stderr_has("flow `slow` is busy");
    // The same pid, in another pid namespace (a container with the same host name).
    lock(format!("{host}:{pid}:{start}:{boot}:1"), far);
    on(p.cmd(&["run", "slow"]), &store).run().code(3);
    // Another host: busy until its lease ends, whatever runs here.
    let ends = now_ms() + 5000;
    lock(format!("elsewhere:{pid}:{start}:{boot}:{ns}"), ends);
    on(p.cmd(&["run", "slow"]), &store).run().code(3);
    while now_ms() <= ends + 50 {
        std::thread::sleep(Duration::from_millis(50));
    }
    on(p.cmd(&["run", "slow"]), &store).run().ok();
    // This host, a pid now used by another process (its start time differs): free.
    lock(format!("{host}:{pid}:{}:{boot}:{ns}", start + 1), far);
    on(p.cmd(&["run", "slow"]), &store).run().ok();
    // This host, a pid no process has.
    lock(format!("{host}:4194999:{start}:{boot}:{ns}"), far);
    on(p.cmd(&["run", "slow"]), &store).run().ok();
    assert_eq!(stored_runs(&store, "slow").len(), 3);
}

#[test]
fn a_holder_paused_past_its_lease_stops_writing_even_when_no_one_took_the_lock() {
    let Some(store) = shared() else { return };
    let a = gated_root();
    let (first, id) = holding(&a, &store, "2");
    signal(first.pid(), "-STOP");
    std::thread::sleep(Duration::from_secs(3));
    let before = snapshot(&store);
    let lock = store.get("runs/slow/.lock");
    a.file("release", "");
    signal(first.pid(), "-CONT");
    let out = first.wait();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "error: lost the lock of flow `slow`: its lease (2 s) ran out before it was renewed"
        ) && out
            .stderr
            .contains("another process may take it over at any moment"),
        "{}",
        out.stderr
    );
    // Nothing stored after the lease ran out, the lock object not even released.
    assert_eq!(snapshot(&store), before);
    assert_eq!(store.get("runs/slow/.lock"), lock);
    assert_eq!(manifest(&store, "slow", &id)["status"], "running");
    let rows = on(a.cmd(&["runs", "--json"]), &store).run().ok().json();
    assert_eq!(rows[0]["status"], "interrupted");
    // The flow is free; the next run records the lost one as interrupted.
    on(a.cmd(&["run", "slow"]), &store).run().ok();
    assert_eq!(manifest(&store, "slow", &id)["status"], "interrupted");
}
