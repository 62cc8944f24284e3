//! The command-line conventions and small commands of issue 17: `run --dry-run`, `cat`,
//! `diff`, `new`, `completions`, `man`, colour, `schema`.

use crate::support::Project;

const SECRET: &str = "s3cr3t-value-do-not-print";

#[test]
fn dry_run_resolves_variables_prints_steps_and_writes_nothing() {
    let p = Project::new();
    p.flow(
        "api",
        "[[steps]]\nid = \"call\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/${env:PATHPART}\"\nheaders = { Authorization = \"Bearer ${secret:TOKEN}\" }\n\n[[steps]]\nid = \"out\"\nkind = \"write\"\npath = \"out/x.json\"\nskip = true\n",
    );
    p.file("in.json", "{\"a\": 1}");
    let out = p
        .cmd(&["run", "api", "--dry-run", "--input", "in.json", "--force"])
        .env("TOKEN", SECRET)
        .env("PATHPART", "items")
        .run()
        .ok()
        .stdout_has("nothing is run or written")
        .stdout_has("input: 1 payload (in.json)")
        .stdout_has("1. call  http     would run")
        .stdout_has("2. out   write    skipped (skip = true)")
        .stdout_has("${env:PATHPART} in call.url: \"items\"")
        .stdout_has(
            "${secret:TOKEN} in call.headers.Authorization: set, 25 characters, secret (not shown)",
        );
    assert!(!out.stdout.contains(SECRET) && !out.stderr.contains(SECRET));
    let j = p
        .cmd(&["run", "api", "--dry-run", "--json", "--force"])
        .env("TOKEN", SECRET)
        .env("PATHPART", "items")
        .run()
        .ok();
    assert!(!j.stdout.contains(SECRET));
    assert_eq!(j.json()["steps"][1]["skip"], true);
    p.cmd(&["run", "api", "--dry-run", "--force"])
        .env("TOKEN", SECRET)
        .run()
        .code(2)
        .stderr_has("${env:PATHPART}, which is not set");
    assert!(!p.exists("runs"), "a dry run wrote under runs/");
    assert!(!p.exists("out"));
}

const NUMS: &str = "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/n.json\"\n\n[[steps]]\nid = \"double\"\nkind = \"map\"\njq = \"map(. * 2)\"\n";

#[test]
fn cat_prints_a_payload_as_stored_or_compact() {
    let p = Project::new();
    p.file("data/n.json", "[1, 2]");
    p.flow("nums", NUMS);
    p.cmd(&["run", "nums", "-q"]).run().ok();
    let id = p.last_run("nums");
    let m = p.manifest("nums", &id);
    let file = m["steps"][1]["payloads"][0]["file"]
        .as_str()
        .unwrap()
        .to_owned();
    let stored = p.read(&format!("runs/nums/{id}/{file}"));
    let out = p.cmd(&["cat", "last", "double"]).run().ok();
    assert_eq!(out.stdout, stored);
    p.cmd(&["cat", &id, "double", "1", "--compact"])
        .run()
        .ok()
        .stdout_has("[2,4]\n");
    p.cmd(&["cat", "last", "double", "2"])
        .run()
        .code(2)
        .stderr_has("has 1 payload; there is no payload 2");
    p.cmd(&["cat", "last", "nope"])
        .run()
        .code(2)
        .stderr_has("no step `nope`");
}

#[test]
fn diff_compares_runs_step_by_step_and_names_skipped_steps() {
    let p = Project::new();
    p.file("data/n.json", "[1, 2]");
    p.flow("nums", NUMS);
    p.cmd(&["run", "nums", "-q"]).run().ok();
    let a = p.last_run("nums");
    p.file("data/n.json", "[1, 3]");
    p.cmd(&["run", "nums", "-q"]).run().ok();
    let b = p.last_run("nums");
    p.cmd(&["diff", &a, &b])
        .run()
        .ok()
        .stdout_has("load    changed  (payloads: A 1, B 1)")
        .stdout_has("    [1]: 2 → 3")
        .stdout_has("    [1]: 4 → 6");
    p.cmd(&["diff", &a, &a, "--step", "double"])
        .run()
        .ok()
        .stdout_has("double  same  (payloads: A 1, B 1)")
        .stdout_lacks("load ");
    // A run whose first step is skipped: reported as skipped, not as missing files.
    p.cmd(&["skip", "nums", "load", "-q"]).run().ok();
    p.file("in.json", "[1, 2]");
    p.cmd(&["run", "nums", "-q", "--input", "in.json"])
        .run()
        .ok();
    let c = p.last_run("nums");
    let out = p
        .cmd(&["diff", &a, &c])
        .run()
        .ok()
        .stdout_has("input   no input in A  (payloads: A 0, B 1)")
        .stdout_has("load    skipped in B  (payloads: A 1, B -)")
        .stdout_has("double  same");
    assert!(!out.stdout.contains("(none)"), "{}", out.stdout);
    let j = p.cmd(&["diff", &a, &c, "--json"]).run().ok().json();
    assert_eq!(j["steps"][1]["verdict"], "skipped in B");
}
