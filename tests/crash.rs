//! A run killed with SIGKILL: its trail stays consistent and reads as `interrupted`.

use crate::support::{Project, wait_for};
use serde_json::Value;

/// Read, split into 12 payloads, a command taking ~0.3 s per payload, then a map.
const SLOW: &str = "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/in.json\"\n\n\
                    [[steps]]\nid = \"b\"\nkind = \"split\"\nsize = 1\n\n\
                    [[steps]]\nid = \"slow\"\nkind = \"command\"\nrun = [\"sh\", \"-c\", \"sleep 0.3; cat\"]\n\n\
                    [[steps]]\nid = \"after\"\nkind = \"map\"\njq = '.'\n";

/// Every file of the run folder under a final name (not a temporary file).
fn final_files(p: &Project, dir: &str) -> Vec<(String, Vec<u8>)> {
    p.tree(dir)
        .into_iter()
        .filter(|(name, _)| {
            !name
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .starts_with(".tmp-")
        })
        .collect()
}

#[test]
fn a_killed_run_is_interrupted_and_its_trail_verifies() {
    let p = Project::new();
    p.flow("f", SLOW)
        .file("data/in.json", "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]");
    let mut run = p.cmd(&["run", "f"]).spawn();
    let mut id = String::new();
    wait_for("two payloads of the slow step in the manifest", || {
        assert!(!run.has_exited(), "the run ended before it was killed");
        let Some(found) = p.run_ids("f").pop() else {
            return false;
        };
        let Ok(text) = std::fs::read_to_string(p.path(&format!("runs/f/{found}/manifest.json")))
        else {
            return false;
        };
        let m: Value = serde_json::from_str(&text).expect("a manifest is never half-written");
        id = found;
        m["steps"][2]["payloads"].as_array().map_or(0, Vec::len) >= 2
    });
    run.kill();
    let dir = format!("runs/f/{id}");

    // On disk the run still says `running`, part-way through the slow step.
    let m = p.manifest("f", &id);
    assert_eq!(m["status"], "running");
    assert_eq!(m["steps"][2]["status"], "running");
    assert_eq!(m["steps"][3]["status"], "pending");
    let recorded = m["steps"][2]["payloads"].as_array().unwrap().len();
    assert!((2..12).contains(&recorded), "{recorded}");

    // No file under a final name is half-written.
    for (name, bytes) in final_files(&p, &dir) {
        if std::path::Path::new(&name)
            .extension()
            .is_some_and(|e| e == "json")
        {
            serde_json::from_slice::<Value>(&bytes)
                .unwrap_or_else(|e| panic!("{name} is not whole JSON: {e}"));
        }
    }
    // Every listed file verifies.
    p.cmd(&["verify", &id]).run().ok();

    // Readers report it as interrupted.
    let shown = p.cmd(&["show", &id, "--json"]).run().ok().json();
    assert_eq!(shown["status"], "interrupted");
    p.cmd(&["show", &id])
        .run()
        .ok()
        .stdout_has("status   interrupted");
    let rows = p.cmd(&["runs", "--json"]).run().ok().json();
    assert_eq!(rows[0]["run_id"], id.as_str());
    assert_eq!(rows[0]["status"], "interrupted");
    let rows = p
        .cmd(&["runs", "--json", "--status", "interrupted"])
        .run()
        .ok()
        .json();
    assert_eq!(rows.as_array().unwrap().len(), 1);

    // The next run of the flow records it as interrupted and clears its temporary files.
    p.file("data/in.json", "[1]");
    p.cmd(&["run", "f"]).run().ok();
    let m = p.manifest("f", &id);
    assert_eq!(m["status"], "interrupted");
    assert_eq!(
        m["steps"][2]["payloads"].as_array().unwrap().len(),
        recorded
    );
    assert_eq!(
        final_files(&p, &dir).len(),
        p.tree(&dir).len(),
        "temporary files left"
    );
    p.cmd(&["verify"]).run().ok();
}
