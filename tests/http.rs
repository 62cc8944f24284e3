//! The `http` step against a real local server, secrets kept out of the store, and `dedupe`.

use crate::server::{Reply, Server};
use crate::support::Project;
use serde_json::{Value, json};
use std::time::Duration;

fn http_flow(step: &str) -> String {
    format!("[[steps]]\nid = \"call\"\nkind = \"http\"\n{step}\n")
}

fn step_payloads(p: &Project, flow: &str, id: &str, step: usize) -> Vec<Value> {
    let m = p.manifest(flow, id);
    m["steps"][step]["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| p.json(&format!("runs/{flow}/{id}/{}", r["file"].as_str().unwrap())))
        .collect()
}

#[test]
fn pagination_emits_one_payload_per_page() {
    let s = Server::start(|req, _| match req.path.as_str() {
        "/items?page=1" => Reply::json(200, &json!({"items": [1, 2], "next": "/items?page=2"})),
        _ => Reply::json(200, &json!({"items": [3], "next": null})),
    });
    let p = Project::new();
    p.flow(
        "f",
        &http_flow(&format!(
            "url = \"{}\"\nnext = \".next\"",
            s.url("/items?page=1")
        )),
    );
    p.cmd(&["run", "f"]).run().ok();
    let id = p.last_run("f");
    let pages = step_payloads(&p, "f", &id, 0);
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[1]["items"], json!([3]));
    let m = p.manifest("f", &id);
    let reqs = m["steps"][0]["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0]["status"], 200);
    assert_eq!(reqs[0]["method"], "GET");
    assert_eq!(reqs[1]["url"], s.url("/items?page=2"));
    assert_eq!(reqs[1]["attempts"], 1);
}

#[test]
fn a_looping_next_is_stopped_by_max_pages() {
    let s = Server::start(|_, _| Reply::json(200, &json!({"next": "/again"})));
    let p = Project::new();
    p.flow(
        "f",
        &http_flow(&format!(
            "url = \"{}\"\nnext = \".next\"\nmax_pages = 3",
            s.url("/start")
        )),
    );
    p.cmd(&["run", "f"])
        .run()
        .code(1)
        .stderr_has("did not end after 3 pages");
    assert_eq!(s.requests().len(), 3);
}

#[test]
fn posts_each_payload_as_json() {
    let s = Server::start(|req, _| Reply::json(200, &json!({"ok": true, "got": req.json()})));
    let p = Project::new();
    p.file("data/in.json", r#"[{"id": 1}, {"id": 2}, {"id": 3}]"#).flow(
        "f",
        &format!(
            "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/in.json\"\n[[steps]]\nid = \"one\"\nkind = \"split\"\nsize = 1\n[[steps]]\nid = \"send\"\nkind = \"http\"\nmethod = \"POST\"\nurl = \"{}\"\n",
            s.url("/orders")
        ),
    );
    p.cmd(&["run", "f"]).run().ok();
    let reqs = s.requests();
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs.iter()
            .all(|r| r.method == "POST" && r.header("content-type") == Some("application/json"))
    );
    assert_eq!(reqs[1].json(), json!([{"id": 2}]));
    let id = p.last_run("f");
    assert_eq!(step_payloads(&p, "f", &id, 2)[2]["got"], json!([{"id": 3}]));
}

#[test]
fn retries_5xx_then_succeeds() {
    let s = Server::start(|_, n| {
        if n < 2 {
            Reply::text(500, "busy")
        } else {
            Reply::json(200, &json!({"ok": 1}))
        }
    });
    let p = Project::new();
    p.flow(
        "f",
        &http_flow(&format!("url = \"{}\"\nretries = 2", s.url("/x"))),
    );
    p.cmd(&["run", "f"]).run().ok();
    let m = p.manifest("f", &p.last_run("f"));
    assert_eq!(m["steps"][0]["requests"][0]["attempts"], 3);
    assert_eq!(s.requests().len(), 3);
}

#[test]
fn retries_exhausted_fails_with_status_and_body() {
    let s = Server::start(|_, _| Reply::text(503, "maintenance window"));
    let p = Project::new();
    p.flow(
        "f",
        &http_flow(&format!("url = \"{}\"\nretries = 2", s.url("/x"))),
    );
    p.cmd(&["run", "f"])
        .run()
        .code(1)
        .stderr_has("returned status 503: maintenance window")
        .stderr_has("after 3 attempts");
    assert_eq!(s.requests().len(), 3);
}

#[test]
fn not_found_is_not_retried() {
    let s = Server::start(|_, _| Reply::text(404, "no such order"));
    let p = Project::new();
    p.flow(
        "f",
        &http_flow(&format!("url = \"{}\"\nretries = 3", s.url("/x"))),
    );
    p.cmd(&["run", "f"])
        .run()
        .code(1)
        .stderr_has("returned status 404: no such order");
    assert_eq!(s.requests().len(), 1);
}

#[test]
fn a_slow_server_times_out() {
    let s = Server::start(|_, _| {
        let mut r = Reply::json(200, &json!({}));
        r.delay = Duration::from_secs(3);
        r
    });
    let p = Project::new();
    p.flow(
        "f",
        &http_flow(&format!(
            "url = \"{}\"\ntimeout = \"300ms\"",
            s.url("/slow")
        )),
    );
    p.cmd(&["run", "f"]).run().code(1).stderr_has("timeout");
}

#[test]
fn too_many_requests_honours_retry_after() {
    let s = Server::start(|_, n| {
        if n == 0 {
            Reply::text(429, "slow down").header("Retry-After", "1")
        } else {
            Reply::json(200, &json!({"ok": true}))
        }
    });
    let p = Project::new();
    p.flow(
        "f",
        &http_flow(&format!("url = \"{}\"\nretries = 1", s.url("/x"))),
    );
    p.cmd(&["run", "f"]).run().ok();
    assert_eq!(s.requests().len(), 2);
    let m = p.manifest("f", &p.last_run("f"));
    assert!(
        m["steps"][0]["requests"][0]["duration_ms"]
            .as_u64()
            .unwrap()
            >= 900
    );
}

#[test]
fn a_body_over_the_limit_fails_clearly() {
    let s = Server::start(|_, _| Reply::text(200, &"x".repeat(5000)));
    let p = Project::new();
    p.flow(
        "f",
        &http_flow(&format!(
            "url = \"{}\"\nmax_response_bytes = 1000",
            s.url("/big")
        )),
    );
    p.cmd(&["run", "f"])
        .run()
        .code(1)
        .stderr_has("larger than 1000 bytes (max_response_bytes)");
}

#[test]
fn a_non_json_response_fails_unless_text_is_asked() {
    let s = Server::start(|_, _| Reply::text(200, "<html>hi</html>"));
    let p = Project::new();
    p.flow("f", &http_flow(&format!("url = \"{}\"", s.url("/page"))));
    p.cmd(&["run", "f"]).run().code(1).stderr_has("not JSON");
    p.flow(
        "g",
        &http_flow(&format!(
            "url = \"{}\"\nresponse = \"text\"",
            s.url("/page")
        )),
    );
    p.cmd(&["run", "g"]).run().ok();
    assert_eq!(
        step_payloads(&p, "g", &p.last_run("g"), 0)[0],
        json!("<html>hi</html>")
    );
}

#[test]
fn connection_refused_fails_after_retries() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let p = Project::new();
    p.flow(
        "f",
        &http_flow(&format!("url = \"http://127.0.0.1:{port}/x\"\nretries = 1")),
    );
    p.cmd(&["run", "f"]).run().code(1).stderr_has("connection");
}

const TOKEN: &str = "s3cr3t-T0KEN-4242";

#[test]
fn secrets_never_reach_the_run_store() {
    // The server echoes what it got, and fails the second call quoting the token.
    let s = Server::start(|req, n| {
        let auth = req.header("authorization").unwrap_or_default().to_owned();
        if n == 0 {
            Reply::json(200, &json!({"you_sent": auth, "path": req.path}))
        } else {
            Reply::text(401, &format!("bad credentials: {auth}"))
        }
    });
    let p = Project::new();
    p.flow(
        "f",
        &format!(
            "[[steps]]\nid = \"a\"\nkind = \"http\"\nurl = \"{}\"\nheaders = {{ Authorization = \"Bearer ${{env:API_TOKEN}}\" }}\n[[steps]]\nid = \"b\"\nkind = \"http\"\nurl = \"{}\"\nheaders = {{ Authorization = \"Bearer ${{env:API_TOKEN}}\" }}\n",
            s.url("/me?key=${env:API_TOKEN}"),
            s.url("/again")
        ),
    );
    let out = p.cmd(&["run", "f"]).env("API_TOKEN", TOKEN).run().code(1);
    assert!(
        !out.stderr.contains(TOKEN) && !out.stdout.contains(TOKEN),
        "{out:?}"
    );
    assert_eq!(
        s.requests()[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert!(s.requests()[0].path.contains(TOKEN));
    let mut files = 0;
    for entry in walk(&p.path("runs")) {
        let bytes = std::fs::read(&entry).unwrap();
        files += 1;
        assert!(
            !String::from_utf8_lossy(&bytes).contains(TOKEN),
            "{} holds the secret",
            entry.display()
        );
    }
    assert!(files >= 4);
    let id = p.last_run("f");
    assert!(
        p.read(&format!("runs/f/{id}/flow.toml"))
            .contains("${env:API_TOKEN}")
    );
    let m = p.manifest("f", &id);
    assert_eq!(m["steps"][0]["payloads"][0]["masked"], true);
    // A masked payload is not replayable: its full content was never stored.
    let payload = format!("runs/f/{id}/steps/01-a/000001.json");
    p.cmd(&["replay", &payload, "--auto-skip"])
        .env("API_TOKEN", TOKEN)
        .run()
        .code(2)
        .stderr_has("masked");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_replayed_payload_carries_the_same_idempotency_key() {
    // The second payload's call fails until `ok` exists.
    let p = Project::new();
    let marker = p.path("ok");
    let s = Server::start(move |req, _| {
        let body = req.json();
        if body == json!([{"id": 2}]) && !marker.exists() {
            Reply::text(500, "down")
        } else {
            Reply::json(200, &json!({"ok": true}))
        }
    });
    p.file("data/in.json", r#"[{"id": 1}, {"id": 2}]"#).flow(
        "f",
        &format!(
            "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/in.json\"\n[[steps]]\nid = \"one\"\nkind = \"split\"\nsize = 1\n[[steps]]\nid = \"send\"\nkind = \"http\"\nmethod = \"POST\"\nurl = \"{}\"\nidempotency_key = true\n",
            s.url("/orders")
        ),
    );
    p.cmd(&["run", "f"]).run().code(1);
    let id = p.last_run("f");
    p.file("ok", "");
    p.cmd(&[
        "replay",
        &format!("runs/f/{id}/steps/02-one/000002.json"),
        "--auto-skip",
    ])
    .run()
    .ok();
    let reqs = s.requests();
    assert_eq!(reqs.len(), 3);
    let key = |i: usize| reqs[i].header("idempotency-key").unwrap().to_owned();
    assert_ne!(key(0), key(1), "different payloads, different keys");
    assert_eq!(key(1), key(2), "the replayed payload keeps its key");
    assert_eq!(key(1).len(), 32);
}

const DEDUPE: &str = r#"
[[steps]]
id = "load"
kind = "read"
path = "data/in.json"

[[steps]]
id = "new"
kind = "dedupe"
key = ".id"

[[steps]]
id = "check"
kind = "assert"
jq = '.id != 99'
"#;

#[test]
fn dedupe_drops_keys_seen_by_earlier_successful_runs() {
    let p = Project::new();
    p.flow("f", DEDUPE)
        .file("data/in.json", r#"[{"id": 1}, {"id": 2}, {"id": 3}]"#);
    p.cmd(&["run", "f"]).run().ok();
    let hashes = |keys: &[&str]| -> Value {
        keys.iter()
            .map(|k| Value::from(crate::support::blake3_hex(k.as_bytes())))
            .collect()
    };
    let state = p.json("runs/f/dedupe/new.json");
    assert_eq!(state["format"], "flowrun.dedupe/2");
    assert_eq!(state["hashes"], hashes(&["1", "2", "3"]));

    p.file("data/in.json", r#"[{"id": 2}, {"id": 3}, {"id": 4}]"#);
    p.cmd(&["run", "f"]).run().ok();
    let id = p.last_run("f");
    assert_eq!(step_payloads(&p, "f", &id, 1), vec![json!([{"id": 4}])]);

    // A failed run marks nothing as seen.
    p.file("data/in.json", r#"[{"id": 5}, {"id": 99}]"#);
    p.cmd(&["run", "f"]).run().code(1);
    assert_eq!(
        p.json("runs/f/dedupe/new.json")["hashes"],
        hashes(&["1", "2", "3", "4"])
    );

    // Everything seen: the emptied array is dropped.
    p.file("data/in.json", r#"[{"id": 1}]"#);
    p.cmd(&["run", "f"]).run().ok();
    assert!(step_payloads(&p, "f", &p.last_run("f"), 1).is_empty());
}
