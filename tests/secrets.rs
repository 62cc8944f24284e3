//! Secrets (`${secret:NAME}`, and `${env:NAME}` where credentials travel) never reach
//! `runs/` or the output in any form: each test runs a real flow, then walks every file
//! under `runs/` and the captured output for the value and its encodings.

use crate::server::{Reply, Server};
use crate::support::Project;
use base64::Engine as _;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::io::Read as _;
use std::time::{Duration, Instant};

const TOKEN: &str = "Sup3rS3cret+tok/en==";
const KEY: &str = "k3y-0f/the;api&x=1";

/// Every form `secret` can take on the way out: as given, percent-encoded (upper and
/// lower hex, and with `+` for a space), JSON-escaped, base64 (also of `user:secret`).
fn forms(secret: &str) -> Vec<String> {
    let pct = |upper: bool, form: bool| {
        let mut out = String::new();
        for b in secret.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(char::from(b));
            } else if form && b == b' ' {
                out.push('+');
            } else if upper {
                write!(out, "%{b:02X}").unwrap();
            } else {
                write!(out, "%{b:02x}").unwrap();
            }
        }
        out
    };
    let json = serde_json::to_string(secret).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![
        secret.to_owned(),
        pct(true, false),
        pct(false, false),
        pct(true, true),
        json[1..json.len() - 1].to_owned(),
        b64.encode(secret),
        b64.encode(format!("user:{secret}")),
    ]
}

/// Asserts that no file under `runs/` and none of `outputs` holds any form of any of
/// `secrets`, nor any 12-character piece of one.
#[track_caller]
fn assert_kept_out(p: &Project, secrets: &[&str], outputs: &[&str]) {
    let mut pieces: Vec<String> = Vec::new();
    for s in secrets {
        for form in forms(s) {
            let chars: Vec<char> = form.chars().collect();
            if chars.len() <= 12 {
                pieces.push(form);
            } else {
                pieces.extend(chars.windows(12).map(|w| w.iter().collect()));
            }
        }
    }
    let mut places: Vec<(String, String)> = outputs
        .iter()
        .enumerate()
        .map(|(i, o)| (format!("output {i}"), (*o).to_owned()))
        .collect();
    let runs = p.path("runs");
    assert!(runs.is_dir(), "no runs/ folder");
    let mut files = 0;
    for entry in walkdir::WalkDir::new(&runs) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let bytes = std::fs::read(entry.path()).unwrap();
            places.push((
                entry.path().display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
            files += 1;
        }
    }
    assert!(files > 0, "nothing under runs/");
    // The README's recipe agrees.
    for s in secrets {
        if let Some(out) = run_recipe(p.root(), s) {
            assert!(
                out.is_empty(),
                "the README's grep recipe found {s:?} in:\n{out}"
            );
        }
    }
    for (place, text) in &places {
        for piece in &pieces {
            assert!(
                !text.contains(piece.as_str()),
                "{place} holds {piece:?} (a piece of a secret):\n{text}"
            );
        }
    }
}

/// Runs the README's `grep -r` recipe in `root` with `API_TOKEN` = `secret`; returns what
/// it printed (the files holding the secret), or `None` when `jq` is not installed.
fn run_recipe(root: &std::path::Path, secret: &str) -> Option<String> {
    std::process::Command::new("jq")
        .arg("--version")
        .output()
        .ok()?;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let recipe = readme
        .split("<!-- grep recipe -->\n```sh\n")
        .nth(1)
        .and_then(|r| r.split("\n```").next())
        .expect("README has the grep recipe");
    let out = std::process::Command::new("sh")
        .args(["-c", recipe])
        .current_dir(root)
        .env("API_TOKEN", secret)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.is_empty(), "the recipe failed: {err}");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The `requests` of step `i` of the newest run of `flow`.
fn requests(p: &Project, flow: &str, i: usize) -> Vec<Value> {
    let m = p.manifest(flow, &p.last_run(flow));
    m["steps"][i]["requests"].as_array().unwrap().clone()
}

#[test]
fn a_secret_in_the_query_is_masked_in_urls_errors_echoes_and_the_runner_log() {
    // The server echoes the request line (with the percent-encoded token) back, once in
    // a payload and then in an error body.
    let s = Server::start(|req, n| {
        if n == 0 {
            Reply::json(200, &json!({"you_asked": req.path}))
        } else {
            Reply::text(400, &format!("bad request {}", req.path))
        }
    });
    let p = Project::new();
    let flow = format!(
        "[[steps]]\nid = \"call\"\nkind = \"http\"\nurl = \"{}\"\nquery = {{ token = \"${{secret:API_TOKEN}}\", q = \"a b\" }}\n",
        s.url("/search")
    );
    p.flow("f", &flow);
    let first = p.cmd(&["run", "f"]).env("API_TOKEN", TOKEN).run().ok();
    assert!(
        s.requests()[0]
            .path
            .contains("Sup3rS3cret%2Btok%2Fen%3D%3D")
    );
    let reqs = requests(&p, "f", 0);
    assert_eq!(reqs[0]["url"], s.url("/search?token=***&q=a%20b"));
    let echoed = p.outputs("f", "call");
    assert_eq!(echoed[0]["you_asked"], "/search?token=***&q=a%20b");

    let second = p.cmd(&["run", "f"]).env("API_TOKEN", TOKEN).run().code(1);
    let second = second.stderr_has("returned status 400: bad request /search?token=***");

    // The runner's log line of the same failure.
    p.flow("f", &format!("[trigger]\nevery = \"1s\"\n\n{flow}"));
    let log = watch_until(&p, &[("API_TOKEN", TOKEN)], "run_failed");
    assert!(log.contains("token=***"), "{log}");
    assert_kept_out(
        &p,
        &[TOKEN],
        &[
            &first.stdout,
            &first.stderr,
            &second.stdout,
            &second.stderr,
            &log,
        ],
    );
}

/// Runs `flowrun --json watch` with `env` until a log line holds `needle`; returns the log.
fn watch_until(p: &Project, env: &[(&str, &str)], needle: &str) -> String {
    let mut cmd = p.cmd(&["--json", "watch"]);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let logs = tempfile::tempdir().unwrap();
    let log_path = logs.path().join("watch.log");
    let file = std::fs::File::create(&log_path).unwrap();
    let mut child = cmd
        .command()
        .stdin(std::process::Stdio::null())
        // `--json` log lines go to stdout; warnings and errors to stderr: keep both.
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let start = Instant::now();
    let read = || std::fs::read_to_string(&log_path).unwrap_or_default();
    while !read().contains(needle) {
        if start.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no {needle:?} in the runner log:\n{}", read());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    let mut log = String::new();
    std::fs::File::open(&log_path)
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    log
}

#[test]
fn the_stderr_tail_of_a_failing_command_never_keeps_part_of_a_secret() {
    let p = Project::new();
    // The token is printed first, then 1,985 characters: the 2,000-character tail
    // starts inside the token.
    p.script(
        "fail.sh",
        "#!/bin/sh\ncat >/dev/null\nprintf '%s' \"$TOKEN\" >&2\nhead -c 1985 /dev/zero | tr '\\0' x >&2\nexit 3\n",
    )
    .flow(
        "f",
        "[[steps]]\nid = \"cmd\"\nkind = \"command\"\nrun = [\"./fail.sh\"]\nenv = { TOKEN = \"${secret:TOKEN}\" }\n",
    );
    let out = p.cmd(&["run", "f"]).env("TOKEN", TOKEN).run().code(1);
    let out = out.stderr_has("exited with status 3: ***xxx");
    assert_kept_out(&p, &[TOKEN], &[&out.stdout, &out.stderr]);
}

#[test]
fn the_quoted_start_of_an_http_error_body_never_keeps_part_of_a_secret() {
    // The server echoes the key header 285 characters into its error body: the
    // 300-character quote ends inside it.
    let s = Server::start(|req, _| {
        let key = req.header("X-Api-Key").unwrap_or_default();
        Reply::text(403, &format!("{}{key} is not allowed", "x".repeat(285)))
    });
    let p = Project::new();
    p.flow(
        "f",
        &format!(
            "[[steps]]\nid = \"call\"\nkind = \"http\"\nurl = \"{}\"\nheaders = {{ X-Api-Key = \"${{secret:KEY}}\" }}\n",
            s.url("/x")
        ),
    );
    let out = p.cmd(&["run", "f"]).env("KEY", KEY).run().code(1);
    assert_eq!(s.requests()[0].header("X-Api-Key"), Some(KEY));
    let out = out.stderr_has("returned status 403: xxx");
    let out = out.stderr_has("x***");
    assert_kept_out(&p, &[KEY], &[&out.stdout, &out.stderr]);
}

#[test]
fn the_quoted_failing_element_of_an_assert_never_keeps_part_of_a_secret() {
    let p = Project::new();
    // An element whose excerpt (200 characters) is cut inside the token.
    p.script(
        "emit.sh",
        "#!/bin/sh\ncat >/dev/null\nprintf '[{\"pad\": \"%s\", \"token\": \"%s\", \"ok\": false}]' \"$(head -c 165 /dev/zero | tr '\\0' p)\" \"$TOKEN\"\n",
    )
    .flow(
        "f",
        "[[steps]]\nid = \"emit\"\nkind = \"command\"\nrun = [\"./emit.sh\"]\nenv = { TOKEN = \"${secret:TOKEN}\" }\n\n\
         [[steps]]\nid = \"check\"\nkind = \"assert\"\njq = '.ok'\n",
    );
    let out = p.cmd(&["run", "f"]).env("TOKEN", TOKEN).run().code(1);
    let out = out.stderr_has("element 0 does not satisfy `.ok`");
    let m = p.manifest("f", &p.last_run("f"));
    assert_eq!(m["steps"][0]["payloads"][0]["masked"], true);
    assert_kept_out(&p, &[TOKEN], &[&out.stdout, &out.stderr]);
}

#[test]
fn dedupe_state_holds_hashes_and_plain_state_files_keep_working() {
    let p = Project::new();
    p.script(
        "emit.sh",
        "#!/bin/sh\ncat >/dev/null\nprintf '[{\"id\": 1, \"who\": \"%s\"}, {\"id\": 2, \"who\": \"alice@example.com\"}]' \"$TOKEN\"\n",
    )
    .flow(
        "f",
        "[[steps]]\nid = \"emit\"\nkind = \"command\"\nrun = [\"./emit.sh\"]\nenv = { TOKEN = \"${secret:TOKEN}\" }\n\n\
         [[steps]]\nid = \"new\"\nkind = \"dedupe\"\nkey = '.who'\n\n\
         [[steps]]\nid = \"ids\"\nkind = \"map\"\njq = 'map(.id)'\n",
    );
    // A state file of the first format, with a plain key: still honoured.
    p.file(
        "runs/f/dedupe/new.json",
        "{\"format\": \"flowrun.dedupe/1\", \"keys\": [\"\\\"alice@example.com\\\"\"]}\n",
    );
    let out = p.cmd(&["run", "f"]).env("TOKEN", TOKEN).run().ok();
    assert_eq!(p.outputs("f", "ids"), [json!([1])]);
    let state = p.read("runs/f/dedupe/new.json");
    assert!(!state.contains("alice"), "{state}");
    let v: Value = serde_json::from_str(&state).unwrap();
    assert_eq!(v["format"], "flowrun.dedupe/2");
    assert_eq!(v["hashes"].as_array().unwrap().len(), 2);
    // Both keys are seen now: nothing new comes through.
    let again = p.cmd(&["run", "f"]).env("TOKEN", TOKEN).run().ok();
    assert!(p.outputs("f", "ids").is_empty());
    assert_kept_out(
        &p,
        &[TOKEN],
        &[&out.stdout, &out.stderr, &again.stdout, &again.stderr],
    );
}

const SECRET_HEADERS: [&str; 3] = ["X-Api-Key", "Authorization", "Cookie"];

fn header_flow(url: &str, extra: &str) -> String {
    format!(
        "[[steps]]\nid = \"call\"\nkind = \"http\"\nurl = \"{url}\"\n{extra}\n\
         headers = {{ X-Api-Key = \"${{secret:KEY}}\", Authorization = \"Bearer ${{env:TOKEN}}\", Cookie = \"plain-session\", X-Plain = \"hello\" }}\n"
    )
}

#[test]
fn a_next_page_on_another_origin_gets_none_of_the_secret_headers() {
    let other = Server::start(|_, _| Reply::json(200, &json!({"page": 2, "next": null})));
    let next = other.url("/page2");
    let home = Server::start(move |req, _| match req.path.as_str() {
        "/page1" => Reply::json(200, &json!({"page": 1, "next": "/same"})),
        _ => Reply::json(200, &json!({"page": 1.5, "next": next})),
    });
    let p = Project::new();
    p.flow("f", &header_flow(&home.url("/page1"), "next = '.next'"));
    let out = p
        .cmd(&["run", "f"])
        .env("KEY", KEY)
        .env("TOKEN", TOKEN)
        .run()
        .ok();
    // The same origin (a relative next) gets everything.
    let home_reqs = home.requests();
    assert_eq!(home_reqs.len(), 2);
    for r in &home_reqs {
        assert_eq!(r.header("X-Api-Key"), Some(KEY));
        assert_eq!(
            r.header("Authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
    let got = other.requests();
    assert_eq!(got.len(), 1);
    for h in SECRET_HEADERS {
        assert_eq!(got[0].header(h), None, "{h} was sent to another origin");
    }
    assert_eq!(got[0].header("X-Plain"), Some("hello"));
    let reqs = requests(&p, "f", 0);
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[2]["url"], other.url("/page2"));
    assert_eq!(
        reqs[2]["withheld_headers"],
        json!(["X-Api-Key", "Authorization", "Cookie"])
    );
    assert_kept_out(&p, &[KEY, TOKEN], &[&out.stdout, &out.stderr]);
}

#[test]
fn a_next_url_that_carries_a_secret_to_another_origin_is_refused() {
    let other = Server::start(|_, _| Reply::json(200, &json!({"next": null})));
    let base = other.url("/page2");
    // The home server hands back its own query (with the token) in a link elsewhere.
    let home = Server::start(move |req, _| {
        let query = req.path.split_once('?').map_or("", |(_, q)| q);
        Reply::json(200, &json!({"next": format!("{base}?{query}")}))
    });
    let p = Project::new();
    p.flow(
        "f",
        &format!(
            "[[steps]]\nid = \"call\"\nkind = \"http\"\nurl = \"{}\"\nquery = {{ key = \"${{secret:API_TOKEN}}\" }}\nnext = '.next'\n",
            home.url("/page1")
        ),
    );
    let out = p.cmd(&["run", "f"]).env("API_TOKEN", TOKEN).run().code(1);
    let out = out.stderr_has("the URL carries a secret to another origin");
    assert!(other.requests().is_empty());
    assert_kept_out(&p, &[TOKEN], &[&out.stdout, &out.stderr]);
}

#[test]
fn a_redirect_to_another_origin_gets_none_of_the_secret_headers_and_every_hop_is_recorded() {
    let other = Server::start(|req, _| Reply::json(200, &json!({"landed": req.path})));
    let target = other.url("/landing?from=home");
    let home = Server::start(move |req, _| match req.path.as_str() {
        "/start" => Reply::redirect(302, "/moved"),
        _ => Reply::redirect(307, &target),
    });
    let p = Project::new();
    p.flow("f", &header_flow(&home.url("/start"), ""));
    let out = p
        .cmd(&["run", "f"])
        .env("KEY", KEY)
        .env("TOKEN", TOKEN)
        .run()
        .ok();
    // A redirect on the same origin keeps the headers.
    let home_reqs = home.requests();
    assert_eq!(home_reqs.len(), 2);
    assert_eq!(home_reqs[1].path, "/moved");
    assert_eq!(home_reqs[1].header("X-Api-Key"), Some(KEY));
    let got = other.requests();
    assert_eq!(got.len(), 1);
    for h in SECRET_HEADERS {
        assert_eq!(
            got[0].header(h),
            None,
            "{h} followed a redirect to another origin"
        );
    }
    assert_eq!(got[0].header("X-Plain"), Some("hello"));
    assert_eq!(
        p.outputs("f", "call"),
        [json!({"landed": "/landing?from=home"})]
    );
    let reqs = requests(&p, "f", 0);
    let hops: Vec<_> = reqs
        .iter()
        .map(|r| (r["url"].clone(), r["status"].clone()))
        .collect();
    assert_eq!(
        hops,
        [
            (json!(home.url("/start")), json!(302)),
            (json!(home.url("/moved")), json!(307)),
            (json!(other.url("/landing?from=home")), json!(200)),
        ]
    );
    assert_eq!(reqs[0]["location"], home.url("/moved"));
    assert_eq!(reqs[2]["redirect"], 2);
    assert_kept_out(&p, &[KEY, TOKEN], &[&out.stdout, &out.stderr]);
}

#[test]
fn a_password_in_the_url_is_sent_as_basic_auth_and_masked_in_every_form() {
    let s = Server::start(|req, _| {
        Reply::json(
            200,
            &json!({"auth": req.header("Authorization"), "path": req.path}),
        )
    });
    let url = s
        .url("/me")
        .replace("http://", "http://user:${secret:PASS}@");
    let p = Project::new();
    p.flow(
        "f",
        &format!("[[steps]]\nid = \"call\"\nkind = \"http\"\nurl = \"{url}\"\n"),
    );
    let pass = "correct-horse-battery";
    let out = p.cmd(&["run", "f"]).env("PASS", pass).run().ok();
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("user:{pass}"));
    assert_eq!(
        s.requests()[0].header("Authorization"),
        Some(format!("Basic {b64}").as_str())
    );
    assert_eq!(
        p.outputs("f", "call"),
        [json!({"auth": "Basic ***", "path": "/me"})]
    );
    assert_eq!(requests(&p, "f", 0)[0]["url"], s.url("/me"));
    assert_kept_out(&p, &[pass], &[&out.stdout, &out.stderr]);
}

#[test]
fn a_plain_env_setting_leaves_payloads_untouched_and_replayable() {
    let p = Project::new();
    p.file("data/in.json", r#"{"deploy": "production", "ok": false}"#)
        .flow(
            "f",
            "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/in.json\"\n\n\
             [[steps]]\nid = \"save\"\nkind = \"write\"\npath = \"out/${env:TARGET}/{n}.json\"\n\n\
             [[steps]]\nid = \"check\"\nkind = \"assert\"\njq = '.ok'\n",
        );
    p.cmd(&["check"]).run().ok().stdout_lacks("secrets:");
    p.cmd(&["run", "f"])
        .env("TARGET", "production")
        .run()
        .code(1);
    assert!(p.exists("out/production/1.json"));
    let id = p.last_run("f");
    let m = p.manifest("f", &id);
    assert_ne!(m["steps"][1]["payloads"][0]["masked"], true);
    assert_eq!(
        m["steps"][1]["payloads"][0]["file"],
        "steps/02-save/000001.json"
    );
    let file = format!("runs/f/{id}/steps/02-save/000001.json");
    assert_eq!(p.json(&file), json!({"deploy": "production", "ok": false}));
    // Fix the check and re-sync the failed payload.
    let fixed = p
        .read("flows/f.toml")
        .replace("jq = '.ok'", "jq = '.deploy == \"${env:TARGET}\"'");
    p.flow("f", &fixed);
    p.cmd(&["replay", &file, "--auto-skip"])
        .env("TARGET", "production")
        .run()
        .ok();
}

#[test]
fn a_value_never_changes_a_jq_filter() {
    let p = Project::new();
    p.file("in.json", r#"[{"who": "alice", "n": 1}, {"who": "nobody\" or true or \"", "n": 30}]"#)
        .flow(
            "f",
            "[[steps]]\nid = \"mine\"\nkind = \"filter\"\njq = '.who == \"${env:WHO}\" and .n < ${env:LIMIT}'\n",
        );
    p.cmd(&["run", "f", "--input", "in.json"])
        .env("WHO", "nobody\" or true or \"")
        .env("LIMIT", "50")
        .run()
        .ok();
    // Only the element whose `who` is exactly that text is kept; pasted as text, the
    // value would have made the condition true for every element.
    assert_eq!(
        p.outputs("f", "mine"),
        [json!([{"who": "nobody\" or true or \"", "n": 30}])]
    );
    // After a `.`, a placeholder names a field (by its text).
    p.flow(
        "h",
        "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '[.${env:F}, .a.${env:G}]'\n",
    );
    p.file("in2.json", r#"{"who": 1, "a": {"7": "seven"}}"#);
    p.cmd(&["run", "h", "--input", "in2.json"])
        .env("F", "who")
        .env("G", "7")
        .run()
        .ok();
    assert_eq!(p.outputs("h", "m"), [json!([1, "seven"])]);
    // jq errors keep their positions in the flow file.
    p.flow(
        "g",
        "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '\"${secret:WHO_IS}\" + ${env:N} | nosuch'\n",
    );
    p.cmd(&["check", "g"])
        .run()
        .code(2)
        .stderr_has("flows/g.toml:4:39: `jq`: jq: undefined");
}

#[test]
fn short_secrets_are_refused_at_run_start_and_warned_about_by_check() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"cmd\"\nkind = \"command\"\nrun = [\"true\"]\nenv = { A = \"${secret:SHORT}\", B = \"${env:OLD}\" }\noutput = \"ndjson\"\n",
    );
    let check = p
        .cmd(&["check"])
        .env("SHORT", "abc")
        .env("OLD", "xy")
        .run()
        .ok();
    let check = check.stdout_has("  secrets: SHORT, OLD");
    let check = check.stderr_has("warning: flows/f.toml: step `cmd`: the secret `SHORT` is 3 characters long, too short to mask safely (at least 6): a run will refuse to start");
    let check = check.stderr_has("warning: flows/f.toml: step `cmd`: the secret `OLD` is 2 characters long, too short to mask safely (at least 6): it will not be masked");
    check.stderr_has("note: flows/f.toml: step `cmd`: `${env:OLD}` in `env.B` is treated as a secret (masked everywhere); write `${secret:OLD}` to say so");
    let listed = p.cmd(&["--json", "check"]).run().ok().json();
    assert_eq!(listed[0]["secrets"], json!(["SHORT", "OLD"]));
    p.cmd(&["run", "f"])
        .env("SHORT", "abc")
        .env("OLD", "xy")
        .run()
        .code(2)
        .stderr_has("step `cmd`: `env.A`: the secret `SHORT` is 3 characters long; secrets must have at least 6 characters to be masked safely");
    assert!(p.run_ids("f").is_empty());
    p.cmd(&["run", "f"])
        .env("SHORT", "abcdef")
        .env("OLD", "xy")
        .run()
        .ok();
}

#[test]
fn the_readme_grep_recipe_comes_back_empty_and_finds_a_leak() {
    let s = Server::start(|req, _| {
        Reply::json(
            200,
            &json!({"echo": req.path, "auth": req.header("Authorization")}),
        )
    });
    let p = Project::new();
    p.flow(
        "f",
        &format!(
            "[[steps]]\nid = \"call\"\nkind = \"http\"\nurl = \"{}\"\nquery = {{ t = \"${{secret:API_TOKEN}}\" }}\nheaders = {{ Authorization = \"Bearer ${{secret:API_TOKEN}}\" }}\n",
            s.url("/x")
        ),
    );
    p.cmd(&["run", "f"]).env("API_TOKEN", TOKEN).run().ok();
    let Some(out) = run_recipe(p.root(), TOKEN) else {
        eprintln!("jq is not installed: the recipe cannot run here");
        return;
    };
    assert_eq!(out, "");
    // It does find a leak: the token percent-encoded in a file under runs/.
    p.file("runs/leak.txt", "GET /x?t=Sup3rS3cret%2Btok%2Fen%3D%3D");
    let out = run_recipe(p.root(), TOKEN).unwrap();
    assert!(
        out.contains("runs/leak.txt"),
        "the recipe missed a leak: {out:?}"
    );
}

#[test]
fn a_jq_error_message_never_keeps_part_of_a_secret() {
    let p = Project::new();
    // The error's text is cut at 300 characters, inside the token.
    p.script(
        "emit.sh",
        "#!/bin/sh\ncat >/dev/null\nprintf '{\"pad\": \"%s\", \"token\": \"%s\"}' \"$(head -c 285 /dev/zero | tr '\\0' p)\" \"$TOKEN\"\n",
    )
    .flow(
        "f",
        "[[steps]]\nid = \"emit\"\nkind = \"command\"\nrun = [\"./emit.sh\"]\nenv = { TOKEN = \"${secret:TOKEN}\" }\n\n\
         [[steps]]\nid = \"boom\"\nkind = \"map\"\njq = '(.pad + .token + \" and more\") | error'\n",
    );
    let out = p.cmd(&["run", "f"]).env("TOKEN", TOKEN).run().code(1);
    let out = out.stderr_has("jq error");
    assert_kept_out(&p, &[TOKEN], &[&out.stdout, &out.stderr]);
}

#[test]
fn a_secret_read_through_env_or_dollar_env_is_masked_like_any_other() {
    // The flow declares the secret (here in a header it never sends) and reads it back
    // through jq's `$ENV` and `env`: what it stores holds no form of it.
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '{a: $ENV.API_TOKEN, b: env.API_TOKEN, c: ($ENV.API_TOKEN | @base64), plain: $ENV.TARGET}'\n\n[[steps]]\nid = \"c\"\nkind = \"command\"\nrun = [\"cat\"]\nenv = { UNUSED = \"${secret:API_TOKEN}\" }\n",
    );
    let out = p
        .cmd(&["run", "f"])
        .env("API_TOKEN", TOKEN)
        .env("TARGET", "production")
        .run()
        .ok();
    let got = &p.outputs("f", "m")[0];
    assert_eq!(got["a"], "***");
    assert_eq!(got["b"], "***");
    // A plain setting read the same way is data, never masked.
    assert_eq!(got["plain"], "production");
    assert_kept_out(&p, &[TOKEN], &[&out.stdout, &out.stderr]);
}
