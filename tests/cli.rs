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
