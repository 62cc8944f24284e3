//! The routed demo (flows/orders-demo-routed.toml and its child flows) on the bundled
//! orders, run through the real binary in a temporary copy of the project, as the README
//! walks through it: partial run, error route, route per region, replay of the failed one.

use crate::support::Project;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const EU: [&str; 4] = ["DE", "FR", "PL", "SE"];

/// A temporary project with the repository's flows and demo data.
fn demo_project() -> Project {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = Project::new();
    for entry in std::fs::read_dir(repo.join("flows")).expect("flows dir") {
        let path = entry.expect("dir entry").path();
        let name = path
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).expect("read flow file");
        p.file(&format!("flows/{name}"), &text);
    }
    let data = std::fs::read_to_string(repo.join("data/orders-demo.json")).expect("demo data");
    p.file("data/orders-demo.json", &data);
    p
}

/// `order_id → country` of every file in `out/<dir>`, panicking on an order written twice.
fn written(p: &Project, dir: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if !p.exists(dir) {
        return out;
    }
    for (name, bytes) in p.tree(dir) {
        let v: Value = serde_json::from_slice(&bytes).expect("written file is JSON");
        let id = v["order_id"].as_str().expect("order_id").to_owned();
        let country = v["country"].as_str().expect("country").to_owned();
        assert!(
            out.insert(id.clone(), country).is_none(),
            "{id} written twice ({dir}/{name})"
        );
    }
    out
}

#[test]
fn routed_demo_sets_the_bad_order_aside_routes_the_rest_and_replays_just_that_one() {
    let p = demo_project();
    p.cmd(&["check"]).run().ok();

    p.cmd(&["run", "orders-demo-routed"])
        .run()
        .code(1)
        .stdout_has("partial: run")
        .stdout_has("1 payload failed in step `to-erp`")
        .stderr_has("order ORD-00000023 has no @ in its email");
    let run = p.last_run("orders-demo-routed");
    let m = p.manifest("orders-demo-routed", &run);
    assert_eq!(m["status"], "partial");

    // The one failed file: ORD-00000023 as it reached `to-erp`.
    let rec = p.step_record("orders-demo-routed", &run, "to-erp");
    let failed = rec["failed"].as_array().expect("failed list");
    assert_eq!(failed.len(), 1, "{rec:#}");
    assert_eq!(failed[0]["file"], "steps/03-to-erp/failed/000001.json");
    let dir = format!("runs/orders-demo-routed/{run}/steps/03-to-erp/failed");
    assert_eq!(p.tree(&dir).len(), 1);
    let bad = p.json(&format!("{dir}/000001.json"));
    assert_eq!(bad[0]["id"], "ORD-00000023");

    // The rejects child run records it, linked both ways.
    let rejects = p.run_ids("orders-demo-rejects");
    assert_eq!(rejects.len(), 1);
    assert_eq!(failed[0]["child_run"], rejects[0].as_str());
    let child = p.manifest("orders-demo-rejects", &rejects[0]);
    assert_eq!(child["status"], "success");
    assert_eq!(child["trigger"], "flow");
    assert_eq!(child["parent"]["run_id"], run.as_str());
    let reject = written_one(&p, "out/rejects");
    assert_eq!(reject["payload"][0]["id"], "ORD-00000023");
    assert!(
        reject["error"]
            .as_str()
            .expect("error")
            .contains("ORD-00000023")
    );

    // Each of the 35 other orders in exactly one of the two ERP outputs, by region.
    let (eu, world) = erp_outputs_once_each(&p);
    assert_eq!(p.run_ids("orders-demo-erp-eu").len(), eu.len());
    assert_eq!(p.run_ids("orders-demo-erp-world").len(), world.len());

    // `find` says where the order is: the rejects run and the `each` step, nowhere else.
    let places = find_order(&p);
    let at: Vec<(String, String)> = places
        .iter()
        .map(|w| {
            (
                w["flow"].as_str().expect("flow").to_owned(),
                w["step"].as_str().expect("step").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        at,
        vec![
            ("orders-demo-rejects".to_owned(), "save".to_owned()),
            ("orders-demo-routed".to_owned(), "each".to_owned()),
        ],
        "{places:?}"
    );
    assert_eq!(places[1]["run_id"], run.as_str());
    assert_eq!(
        places[1]["file"],
        format!("runs/orders-demo-routed/{run}/steps/02-each/000023.json")
    );

    // `runs --status partial` finds it.
    p.cmd(&["runs", "--status", "partial", "-q"])
        .run()
        .ok()
        .stdout_has(&run);

    // The README's fix, then the replay of just the failed file.
    let flow = p.read("flows/orders-demo-routed.toml");
    let fixed = flow.replacen(
        "ascii_downcase\n",
        "ascii_downcase | sub(\"[(]at[)]\"; \"@\")\n",
        1,
    );
    assert_ne!(flow, fixed, "the README's sed matches the flow");
    p.file("flows/orders-demo-routed.toml", &fixed);
    p.cmd(&["replay", &dir, "--auto-skip"])
        .run()
        .ok()
        .stdout_has("success: run");
    let replay = p.last_run("orders-demo-routed");
    assert_ne!(replay, run);
    assert_eq!(
        p.manifest("orders-demo-routed", &replay)["status"],
        "success"
    );
    let eu_after = written(&p, "out/erp-eu");
    assert_eq!(eu_after.get("ORD-00000023").map(String::as_str), Some("PL"));
    assert_eq!(eu_after.len(), eu.len() + 1);
    assert_eq!(written(&p, "out/erp-world"), world);
    assert_eq!(p.run_ids("orders-demo-erp-eu").len(), eu.len() + 1);
    assert_eq!(p.run_ids("orders-demo-rejects").len(), 1);

    // Now `find` also shows the replay's `to-erp` and the EU child run that wrote it.
    let places = find_order(&p);
    let eu_run = p.last_run("orders-demo-erp-eu");
    let runs: Vec<&str> = places
        .iter()
        .map(|w| w["run_id"].as_str().expect("run_id"))
        .collect();
    assert!(runs.contains(&replay.as_str()), "{places:?}");
    assert!(runs.contains(&eu_run.as_str()), "{places:?}");
    assert_eq!(places.len(), 4, "{places:?}");
}

/// The one file in `dir`, parsed.
fn written_one(p: &Project, dir: &str) -> Value {
    let files = p.tree(dir);
    assert_eq!(files.len(), 1, "{dir}: {:?}", files.keys());
    let bytes = files.values().next().expect("one file");
    serde_json::from_slice(bytes).expect("JSON")
}

/// The two ERP outputs (`order_id → country`), checked: every order of the data but
/// ORD-00000023 in exactly one of them, EU countries in `erp-eu`, the others in `erp-world`.
fn erp_outputs_once_each(p: &Project) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let eu = written(p, "out/erp-eu");
    let world = written(p, "out/erp-world");
    assert!(eu.values().all(|c| EU.contains(&c.as_str())), "{eu:?}");
    assert!(
        world.values().all(|c| !EU.contains(&c.as_str())),
        "{world:?}"
    );
    let data: Value = serde_json::from_str(&p.read("data/orders-demo.json")).expect("data");
    let ids: Vec<&str> = data
        .as_array()
        .expect("orders")
        .iter()
        .map(|o| o["id"].as_str().expect("id"))
        .filter(|id| *id != "ORD-00000023")
        .collect();
    assert_eq!(ids.len(), 35);
    for id in &ids {
        let n = usize::from(eu.contains_key(*id)) + usize::from(world.contains_key(*id));
        assert_eq!(n, 1, "{id} is in {n} ERP outputs");
    }
    assert_eq!(eu.len() + world.len(), 35);
    (eu, world)
}

/// `flowrun --json find order_id=ORD-00000023`: the places, newest run first.
fn find_order(p: &Project) -> Vec<Value> {
    let out = p
        .cmd(&["--json", "find", "order_id=ORD-00000023"])
        .run()
        .ok();
    out.json()
        .as_array()
        .expect("find --json is a list")
        .clone()
}
