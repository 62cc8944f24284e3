//! `flowrun run`: steps, the run store, failures and their hints.

use crate::support::{ORDERS_BAD, ORDERS_FLOW, ORDERS_GOOD, Project};

#[test]
fn a_successful_run_records_every_step() {
    let p = Project::new();
    p.flow("orders", ORDERS_FLOW)
        .file("data/orders.json", ORDERS_GOOD);
    p.cmd(&["run", "orders"]).run().ok().stdout_has("success");
    let id = p.last_run("orders");
    let m = p.manifest("orders", &id);
    assert_eq!(m["status"], "success");
    assert_eq!(m["trigger"], "manual");
    assert_eq!(m["run_id"], id.as_str());
    let counts: Vec<usize> = m["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["payloads"].as_array().unwrap().len())
        .collect();
    assert_eq!(counts, [1, 3, 3, 3, 3]);
    let batch = p.json(&format!("runs/orders/{id}/steps/02-batch/000002.json"));
    assert_eq!(
        batch,
        serde_json::json!([{"id": 3, "email": "c@x.com"}, {"id": 4, "email": "d@x.com"}])
    );
    assert_eq!(p.json("out/batch-1.json")[0]["email"], "a@x.com");
}

#[test]
fn a_failed_assert_names_the_failed_payload_and_ways_on() {
    let p = Project::new();
    p.flow("orders", ORDERS_FLOW)
        .file("data/orders.json", ORDERS_BAD);
    let out = p.cmd(&["run", "orders"]).run().code(1);
    let id = p.last_run("orders");
    let failed = format!("runs/orders/{id}/steps/03-to-erp/000002.json");
    let out = out
        .stderr_has(&failed)
        .stderr_has("every order needs an email")
        .stdout_has(&format!("failed payload: {failed}"))
        .stdout_has(&format!("flowrun resume {id}"))
        // The replay offered covers every batch (see hints.rs), not the failed one alone.
        .stdout_has(&format!(
            "flowrun replay runs/orders/{id}/steps/01-load --auto-skip"
        ))
        .stdout_lacks(&format!("flowrun replay {failed}"));
    drop(out);
    let m = p.manifest("orders", &id);
    assert_eq!(m["status"], "failure");
    assert_eq!(m["error"]["step"], "valid");
    assert_eq!(m["error"]["failed_input"], "steps/03-to-erp/000002.json");
    assert_eq!(m["steps"][3]["status"], "failure");
    assert_eq!(m["steps"][3]["payloads"].as_array().unwrap().len(), 1);
    assert_eq!(m["steps"][4]["status"], "pending");
}
