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
#[allow(
    clippy::many_single_char_names,
    reason = "runs a, b, c as the diff names them"
)]
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

#[test]
fn new_writes_valid_starters_and_never_overwrites() {
    let p = Project::new();
    for from in ["read", "http", "watch"] {
        let name = format!("s-{from}");
        p.cmd(&["new", &name, "--from", from])
            .run()
            .ok()
            .stdout_has(&format!("wrote flows/{name}.toml"));
        let text = p.read(&format!("flows/{name}.toml"));
        assert!(
            text.starts_with("#:schema ./flowrun.schema.json\n"),
            "{text}"
        );
        p.cmd(&["check", &name]).run().ok();
    }
    p.file("flows/mine.toml", "# mine\n");
    p.cmd(&["new", "mine"])
        .run()
        .code(2)
        .stderr_has("flows/mine.toml already exists; not overwriting it");
    assert_eq!(p.read("flows/mine.toml"), "# mine\n");
    p.cmd(&["new", "Bad Name"]).run().code(2);
}

#[test]
fn completions_parse_in_bash_and_the_man_page_renders() {
    let p = Project::new();
    let bash = p.cmd(&["completions", "bash"]).run().ok();
    assert!(bash.stdout.contains("flowrun"));
    p.file("c.bash", &bash.stdout);
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(p.path("c.bash"))
        .output()
        .expect("bash");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        assert!(!p.cmd(&["completions", shell]).run().ok().stdout.is_empty());
    }
    let page = p.cmd(&["man"]).run().ok();
    assert!(page.stdout.starts_with(".ie") || page.stdout.contains(".TH flowrun"));
    p.file("flowrun.1", &page.stdout);
    let man = std::process::Command::new("man")
        .arg("-l")
        .arg(p.path("flowrun.1"))
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "100")
        .output();
    let Ok(man) = man else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but man is missing: install man-db"
        );
        eprintln!(
            "notice: man not found; skipping the man page render check (apt-get install man-db)"
        );
        return;
    };
    let text = String::from_utf8_lossy(&man.stdout);
    assert!(
        man.status.success(),
        "{}",
        String::from_utf8_lossy(&man.stderr)
    );
    assert!(text.contains("FLOWRUN TEST"), "{text}");
    assert!(text.contains("--dry-run"), "{text}");
}

#[test]
fn colour_only_on_a_terminal_or_when_forced_and_never_with_no_color() {
    let p = Project::new();
    p.file("data/n.json", "[1, 2]");
    p.flow("nums", NUMS);
    let esc = "\x1b[";
    let piped = p.cmd(&["run", "nums"]).env("CLICOLOR_FORCE", "").run().ok();
    assert!(
        !piped.stdout.contains(esc),
        "colour when piped: {:?}",
        piped.stdout
    );
    let forced = p
        .cmd(&["run", "nums"])
        .env("CLICOLOR_FORCE", "1")
        .run()
        .ok();
    assert!(
        forced.stdout.contains("\x1b[1m\x1b[32mok\x1b[0m"),
        "{:?}",
        forced.stdout
    );
    let runs = p.cmd(&["runs"]).env("CLICOLOR_FORCE", "1").run().ok();
    assert!(runs.stdout.contains(esc));
    let no = p
        .cmd(&["run", "nums"])
        .env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1")
        .run()
        .ok();
    assert!(
        !no.stdout.contains(esc),
        "colour with NO_COLOR: {:?}",
        no.stdout
    );
    // --json and -q carry no escapes even when forced.
    let j = p
        .cmd(&["run", "nums", "--json"])
        .env("CLICOLOR_FORCE", "1")
        .run()
        .ok();
    assert!(!j.stdout.contains(esc));
    let q = p
        .cmd(&["run", "nums", "-q"])
        .env("CLICOLOR_FORCE", "1")
        .run()
        .ok();
    assert!(!q.stdout.contains(esc));
}

const SLOW: &str = "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/n.json\"\n\n[[steps]]\nid = \"each\"\nkind = \"split\"\nsize = 1\n\n[[steps]]\nid = \"wait\"\nkind = \"command\"\nrun = [\"sh\", \"-c\", \"sleep 0.4; cat\"]\n";

#[test]
fn a_progress_line_on_a_terminal_only_while_a_step_runs_long() {
    let p = Project::new();
    p.file("data/n.json", "[1, 2, 3, 4, 5]");
    p.flow("slow", SLOW);
    let piped = p.cmd(&["run", "slow"]).run().ok();
    assert!(!piped.stderr.contains("payloads  "), "{}", piped.stderr);
    // On a terminal (a pseudo-terminal from util-linux `script`).
    let bin = env!("CARGO_BIN_EXE_flowrun");
    let Ok(out) = std::process::Command::new("script")
        .args(["-qec", &format!("{bin} run slow"), "/dev/null"])
        .current_dir(p.root())
        .env("FLOWRUN_ROOT", p.root())
        .output()
    else {
        eprintln!("notice: `script` not found; skipping the terminal progress check");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("\r\x1b[2K  03 wait  "), "{text:?}");
    assert!(text.contains("/5 payloads"), "{text:?}");
}
