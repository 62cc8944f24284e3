//! The guards every re-sync shares: one guard against sending data twice (replay and
//! resume, in both orders), and one check of recorded files (replay, resume, retry).

use crate::support::{ORDERS_BAD, ORDERS_FLOW, Project};

/// A failed run of `ORDERS_FLOW` (fails at `valid` on batch 2 of 3); returns its id.
fn failed(p: &Project) -> String {
    p.flow("orders", ORDERS_FLOW)
        .file("data/orders.json", ORDERS_BAD);
    p.cmd(&["run", "orders"]).run().code(1);
    p.last_run("orders")
}

#[test]
fn resume_after_a_successful_replay_is_refused_unless_forced() {
    let p = Project::new();
    let id = failed(&p);
    p.flow(
        "orders",
        &ORDERS_FLOW.replace(
            "(.email | ascii_downcase)",
            "(.email | ascii_downcase | sub(\"[.]x[.]\"; \"@x.\"))",
        ),
    );
    let folder = format!("runs/orders/{id}/steps/02-batch");
    p.cmd(&["replay", &folder, "--auto-skip"]).run().ok();
    let replay = p.last_run("orders");
    p.cmd(&["resume", &id])
        .run()
        .code(2)
        .only_errors()
        .stderr_has(&format!("successful run {replay} already replayed"))
        .stderr_has("steps/02-batch/000002.json")
        .stderr_has("--force");
    assert_eq!(p.run_ids("orders").len(), 2, "nothing ran");
    p.cmd(&["resume", &id, "--force"]).run().ok();
}

#[test]
fn resume_refuses_an_edited_recorded_payload_unless_edited_is_given() {
    let p = Project::new();
    let id = failed(&p);
    // The failed step's input, fixed by hand.
    let rel = "steps/03-to-erp/000002.json";
    let payload = format!("runs/orders/{id}/{rel}");
    p.file(&payload, &p.read(&payload).replace("d.x.com", "d@x.com"));
    p.cmd(&["resume", &id])
        .run()
        .code(2)
        .only_errors()
        .stderr_has(&payload)
        .stderr_has("changed after it was recorded")
        .stderr_has("--edited");
    assert_eq!(p.run_ids("orders").len(), 1, "nothing ran");
    p.cmd(&["resume", &id, "--edited"]).run().ok();
    let m = p.manifest("orders", &p.last_run("orders"));
    assert_eq!(m["status"], "success");
    assert_eq!(m["edited"][0]["run_id"], id.as_str());
    assert_eq!(m["edited"][0]["file"], rel);
    assert_eq!(
        m["edited"][0]["blake3"],
        crate::support::blake3_hex(&p.bytes(&payload))
    );
}

#[test]
fn retry_refuses_an_edited_input_file_unless_edited_is_given() {
    let p = Project::new();
    p.flow(
        "r",
        "[[steps]]\nid = \"check\"\nkind = \"assert\"\njq = '.ok'\nmessage = \"not ok\"\n",
    )
    .file("in.json", r#"{"ok": false}"#);
    p.cmd(&["run", "r", "--input", "in.json"]).run().code(1);
    let id = p.last_run("r");
    let input = format!("runs/r/{id}/input/000001.json");
    p.file(&input, &p.read(&input).replace("false", "true"));
    p.cmd(&["retry", &id])
        .run()
        .code(2)
        .only_errors()
        .stderr_has(&input)
        .stderr_has("--edited");
    assert_eq!(p.run_ids("r").len(), 1, "nothing ran");
    p.cmd(&["retry", &id, "--edited"]).run().ok();
    let m = p.manifest("r", &p.last_run("r"));
    assert_eq!(m["edited"][0]["file"], "input/000001.json");
    assert_eq!(m["edited"][0]["run_id"], id.as_str());
}
