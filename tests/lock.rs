//! One run per flow at a time: `runs/<flow>/.lock`.

use crate::support::{Project, Running, wait_for};
use serde_json::Value;

/// Waits until the first run of `flow` has its first step running; returns its id.
#[track_caller]
fn wait_until_running(p: &Project, flow: &str, run: &mut Running) -> String {
    let mut id = None;
    wait_for("the first run to reach its command step", || {
        assert!(!run.has_exited(), "the first run ended early");
        let Some(found) = p.run_ids(flow).pop() else {
            return false;
        };
        let path = p.path(&format!("runs/{flow}/{found}/manifest.json"));
        let Ok(text) = std::fs::read_to_string(path) else {
            return false;
        };
        let m: Value = serde_json::from_str(&text).expect("a manifest is never half-written");
        id = Some(found);
        m["steps"][0]["status"] == "running"
    });
    id.expect("found a run")
}

/// A flow whose command step waits until the file `release` exists (at most ~30 s).
const GATED: &str = "[[steps]]\nid = \"wait\"\nkind = \"command\"\nrun = [\"scripts/wait.sh\"]\n";
const WAIT_SH: &str = "#!/bin/sh\ni=0\nwhile [ ! -f release ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done\ncat\n";

#[test]
fn a_second_run_of_a_busy_flow_exits_3_and_other_flows_run() {
    let p = Project::new();
    p.flow("slow", GATED)
        .flow("other", "[[steps]]\nid = \"a\"\nkind = \"merge\"\n")
        .script("scripts/wait.sh", WAIT_SH);
    let mut first = p.cmd(&["run", "slow"]).spawn();
    let id = wait_until_running(&p, "slow", &mut first);

    p.cmd(&["run", "slow"])
        .run()
        .code(3)
        .only_errors()
        .stderr_has("flow `slow` is busy")
        .stderr_has(&id);
    assert_eq!(
        p.run_ids("slow"),
        std::slice::from_ref(&id),
        "the busy run left a folder"
    );
    p.cmd(&["run", "other"]).run().ok();

    // Readers see the run in progress.
    let rows = p
        .cmd(&["runs", "--json", "--flow", "slow"])
        .run()
        .ok()
        .json();
    assert_eq!(rows[0]["status"], "running");
    let shown = p.cmd(&["show", &id, "--json"]).run().ok().json();
    assert_eq!(shown["status"], "running");

    p.file("release", "");
    first.wait().ok();
    assert_eq!(p.manifest("slow", &id)["status"], "success");
    p.cmd(&["run", "slow"]).run().ok();
}

#[test]
fn a_failed_run_releases_the_lock() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"no\"\nkind = \"command\"\nrun = [\"false\"]\n",
    );
    p.cmd(&["run", "f"]).run().code(1);
    p.cmd(&["run", "f"]).run().code(1);
    assert_eq!(p.run_ids("f").len(), 2);
}

#[test]
fn verify_during_a_run_finds_no_problem() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"b\"\nkind = \"split\"\nsize = 1\n\n\
         [[steps]]\nid = \"wait\"\nkind = \"command\"\nrun = [\"scripts/second-waits.sh\"]\n",
    )
    .file("in.json", "[1, 2]")
    .script(
        "scripts/second-waits.sh",
        "#!/bin/sh\nif [ \"$FLOWRUN_PAYLOAD\" = 2 ]; then scripts/wait.sh; else cat; fi\n",
    )
    .script("scripts/wait.sh", WAIT_SH);
    let mut run = p.cmd(&["run", "f", "--input", "in.json"]).spawn();
    let mut id = String::new();
    wait_for("the first output of the command step", || {
        assert!(!run.has_exited(), "the run ended early");
        id = p.run_ids("f").pop().unwrap_or_default();
        !id.is_empty() && p.exists(&format!("runs/f/{id}/steps/02-wait/000001.json"))
    });
    // The newest output may not be in the manifest yet: that is not a damaged trail.
    p.cmd(&["verify", &id]).run().ok();
    p.file("release", "");
    run.wait().ok();
    p.cmd(&["verify", &id]).run().ok().stdout_lacks("note:");
}
