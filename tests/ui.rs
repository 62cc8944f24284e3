//! `flowrun ui` (issue 16): the real server over a demo-like store, spoken to over TCP.

use crate::support::{Cmd, Project, blake3_hex, is_run_id};
use serde_json::Value;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Stdio};

/// Text a payload holds that would run script if it were not escaped.
pub const EVIL: &str = "</script><img src=x onerror=alert(1)>";

/// The demo flow and data in a temp project, with a small `max_payload_bytes` (the
/// `load` payload is trimmed) and an order whose customer name is [`EVIL`].
pub fn demo_project() -> Project {
    let p = Project::new();
    let flow = include_str!("../flows/orders-demo.toml")
        .replace("max_payload_bytes = 1048576", "max_payload_bytes = 8000");
    assert!(flow.contains("max_payload_bytes = 8000"));
    p.flow("orders-demo", &flow);
    let mut data: Value =
        serde_json::from_str(include_str!("../data/orders-demo.json")).expect("demo data");
    data[0]["customer"]["name"] = Value::String(EVIL.into());
    p.file(
        "data/orders-demo.json",
        &serde_json::to_string_pretty(&data).expect("json"),
    );
    p
}

/// Runs the demo once (it fails at `valid`); returns the run id and what `run` printed.
pub fn failed_demo_run(p: &Project) -> (String, String) {
    let out = p.cmd(&["run", "orders-demo"]).run().code(1);
    (p.last_run("orders-demo"), out.stdout)
}

/// A `flowrun ui` process on a free port, killed when dropped.
pub struct Viewer {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The token (with `--actions`).
    pub token: Option<String>,
}

impl Viewer {
    /// Starts `flowrun ui --listen 127.0.0.1:0 EXTRA…` in the project and reads the
    /// address (and token) it prints.
    pub fn start(p: &Project, extra: &[&str]) -> Viewer {
        let mut args = vec!["ui", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        Viewer::spawn(&p.cmd(&args), extra.contains(&"--actions"))
    }

    /// Starts `cmd` (a `flowrun ui --listen 127.0.0.1:0 …` command) and reads the
    /// address (and, with `actions`, the token) it prints.
    pub fn spawn(cmd: &Cmd, actions: bool) -> Viewer {
        let mut child = cmd
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn flowrun ui");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read address");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|a| a.strip_suffix('/'))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        let token = actions.then(|| {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("read token");
            line.trim()
                .rsplit_once("?token=")
                .unwrap_or_else(|| panic!("no token in {line:?}"))
                .1
                .to_owned()
        });
        Viewer {
            child,
            _stdout: stdout,
            addr,
            token,
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Http {
        request(&self.addr, "GET", path, &[], b"")
    }

    /// `GET path`, asserting 200.
    #[track_caller]
    pub fn page(&self, path: &str) -> String {
        let r = self.get(path);
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        r.text()
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response as received.
pub struct Http {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Http {
    /// A header's value (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.0 request over a fresh connection, the path sent exactly as given.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Http {
    let mut s = TcpStream::connect(addr).expect("connect to the viewer");
    let mut head = format!(
        "{method} {path} HTTP/1.0\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        let _ = write!(head, "Host: {addr}\r\n");
    }
    for (k, v) in headers {
        let _ = write!(head, "{k}: {v}\r\n");
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("send request");
    s.write_all(body).expect("send body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Http {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// Posts a form.
pub fn post_form(v: &Viewer, path: &str, fields: &[(&str, &str)], cookie: Option<&str>) -> Http {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(c) = cookie {
        headers.push(("Cookie", c));
    }
    request(&v.addr, "POST", path, &headers, body.as_bytes())
}

/// Copies run `id` of the demo to `count` new run folders with later ids (a large store
/// made in a moment; the run index is rebuilt from the folder by the next listing).
pub fn copy_runs(p: &Project, id: &str, count: usize) -> Vec<String> {
    let src = p.path(&format!("runs/orders-demo/{id}"));
    let manifest = p.read(&format!("runs/orders-demo/{id}/manifest.json"));
    (0..count)
        .map(|k| {
            let new = format!("29991231T{:06}.000Z-{:04x}", k / 1000, k % 1000);
            let dst = p.path(&format!("runs/orders-demo/{new}"));
            copy_dir(&src, &dst);
            std::fs::write(dst.join("manifest.json"), manifest.replace(id, &new))
                .expect("write manifest");
            new
        })
        .collect()
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let dst = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).expect("copy");
        }
    }
}

/// The run ids of the rows of a run list page, in order.
pub fn rows(page: &str) -> Vec<String> {
    page.split("<tr data-run=\"")
        .skip(1)
        .map(|s| s[..25].to_owned())
        .collect()
}

#[test]
fn pages_walk_from_the_logs_to_the_failed_payload() {
    let p = demo_project();
    let (id, printed) = failed_demo_run(&p);
    let v = Viewer::start(&p, &[]);

    let home = v.get("/");
    assert_eq!(home.status, 200);
    let csp = home.header("Content-Security-Policy").expect("CSP");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(home.header("X-Content-Type-Options"), Some("nosniff"));
    let home = home.text();
    assert_eq!(rows(&home), std::slice::from_ref(&id));
    assert!(
        home.contains("<span class=\"status s-failure\">failure</span>"),
        "{home}"
    );
    assert!(
        !home.contains("<script>") && !home.contains(" style="),
        "no inline script or style"
    );

    // Filters are links.
    assert_eq!(rows(&v.page("/?status=failure")), std::slice::from_ref(&id));
    assert_eq!(
        rows(&v.page("/?status=failure&flow=orders-demo")),
        std::slice::from_ref(&id)
    );
    assert!(rows(&v.page("/?status=success")).is_empty());
    assert!(rows(&v.page("/?flow=other")).is_empty());
    let bad = v.get("/?status=bogus");
    assert_eq!(bad.status, 400);
    assert!(
        bad.text().contains("--status must be one of"),
        "{}",
        bad.text()
    );

    // The run: steps, the error, the failed payload, and the hints `run` printed.
    let run = v.page(&format!("/runs/{id}"));
    for step in ["load", "batch", "to-erp", "paid", "valid", "save"] {
        assert!(
            run.contains(&format!("/steps/{step}\">{step}</a>")),
            "{step}"
        );
    }
    assert!(run.contains("every order needs an email"), "{run}");
    assert!(
        run.contains(&format!("href=\"/runs/{id}/steps/paid/3\"")),
        "{run}"
    );
    for line in printed
        .lines()
        .skip_while(|l| !l.starts_with("failed payload:"))
    {
        let cmd = line.trim_start();
        assert!(run.contains(cmd), "run page lacks the hint {cmd:?}");
    }

    // The failed step's input step: 64-hex hashes, the failed payload marked.
    let step = v.page(&format!("/runs/{id}/steps/paid"));
    let m = p.manifest("orders-demo", &id);
    let paid = &m["steps"][3]["payloads"];
    for k in 0..4 {
        let hash = paid[k]["blake3"].as_str().expect("hash");
        assert_eq!(hash.len(), 64);
        assert!(step.contains(hash), "step page lacks {hash}");
    }
    assert!(step.contains("failed here"), "{step}");

    // The failed payload, highlighted; the trimmed one with its banner.
    let payload = v.page(&format!("/runs/{id}/steps/paid/3"));
    assert!(payload.contains("lena.fischer(at)example.com"), "{payload}");
    assert!(payload.contains("class=\"j-k\""), "highlighted");
    assert!(
        payload.contains("the run failed on this payload"),
        "{payload}"
    );
    assert!(!payload.contains("[trimmed]"));
    let trimmed = v.page(&format!("/runs/{id}/steps/load/1"));
    let load = &m["steps"][0]["payloads"][0];
    assert_eq!(load["trimmed"], true);
    assert!(trimmed.contains("<strong>[trimmed]</strong>"), "{trimmed}");
    assert!(trimmed.contains(load["full_blake3"].as_str().expect("hash")));
    assert!(trimmed.contains(&format!("({} bytes", load["full_bytes"])));

    // The diff of a run with itself: nothing changed.
    let diff = v.page(&format!("/diff?a={id}&b={id}"));
    assert!(
        diff.contains("all the same") && !diff.contains("differ:"),
        "{diff}"
    );
}

#[test]
fn not_found_answers() {
    let p = demo_project();
    let (id, _) = failed_demo_run(&p);
    let v = Viewer::start(&p, &[]);
    for path in [
        "/nope".to_owned(),
        "/runs/20990101T000000.000Z-0000".to_owned(),
        "/runs/last".to_owned(),
        "/runs/2026".to_owned(),
        format!("/runs/{id}/steps/nope"),
        format!("/runs/{id}/steps/paid/0"),
        format!("/runs/{id}/steps/paid/99"),
        format!("/runs/{id}/steps/paid/x"),
        format!("/runs/{id}/files/steps/nope.json"),
        "/assets/nope.js".to_owned(),
        "/api/runs/20990101T000000.000Z-0000".to_owned(),
    ] {
        let r = v.get(&path);
        assert_eq!(r.status, 404, "GET {path}: {}", r.text());
    }
    assert_eq!(request(&v.addr, "DELETE", "/", &[], b"").status, 405);
    // Another site's name pointing at 127.0.0.1 does not get the pages.
    let r = request(&v.addr, "GET", "/", &[("Host", "evil.example:80")], b"");
    assert_eq!(r.status, 421);
}

#[test]
fn api_gives_the_json_of_runs_and_show() {
    let p = demo_project();
    let (id, _) = failed_demo_run(&p);
    let v = Viewer::start(&p, &[]);
    let cli = p.cmd(&["--json", "runs"]).run().ok().stdout;
    let api = v.get("/api/runs");
    assert_eq!(api.header("Content-Type"), Some("application/json"));
    assert_eq!(api.text(), cli);
    let cli = p
        .cmd(&["--json", "runs", "--status", "failure", "--limit", "5"])
        .run()
        .ok()
        .stdout;
    assert_eq!(v.page("/api/runs?status=failure&limit=5"), cli);
    let cli = p.cmd(&["--json", "show", &id]).run().ok().stdout;
    assert_eq!(v.page(&format!("/api/runs/{id}")), cli);
    assert_eq!(v.get("/api/runs?status=bogus").status, 400);
}

#[test]
fn downloads_are_byte_identical_and_never_html() {
    let p = demo_project();
    let (id, _) = failed_demo_run(&p);
    let dir = format!("runs/orders-demo/{id}");
    p.file(
        &format!("{dir}/steps/page.html"),
        "<script>alert(1)</script>",
    );
    let v = Viewer::start(&p, &[]);
    for (file, ctype) in [
        ("steps/04-paid/000003.json", "application/json"),
        ("steps/01-load/000001.json", "application/json"),
        ("manifest.json", "application/json"),
        ("flow.toml", "text/plain; charset=utf-8"),
        ("steps/page.html", "application/octet-stream"),
    ] {
        let r = v.get(&format!("/runs/{id}/files/{file}"));
        assert_eq!(r.status, 200, "{file}");
        let want = p.bytes(&format!("{dir}/{file}"));
        assert_eq!(blake3_hex(&r.body), blake3_hex(&want), "{file} differs");
        assert_eq!(r.header("Content-Type"), Some(ctype), "{file}");
        assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
        let name = file.rsplit('/').next().expect("name");
        assert_eq!(
            r.header("Content-Disposition"),
            Some(format!("attachment; filename=\"{name}\"").as_str())
        );
    }
}

#[test]
fn paths_outside_the_run_folder_are_refused() {
    let p = demo_project();
    let (id, _) = failed_demo_run(&p);
    let dir = format!("runs/orders-demo/{id}");
    p.file("secret.txt", "TOP-SECRET-CONTENT");
    let secret = p.path("secret.txt");
    std::os::unix::fs::symlink(&secret, p.path(&format!("{dir}/link.json"))).expect("symlink");
    std::os::unix::fs::symlink(p.root(), p.path(&format!("{dir}/up"))).expect("symlink");
    let v = Viewer::start(&p, &[]);
    for path in [
        format!("/runs/{id}/files/../../../secret.txt"),
        format!("/runs/{id}/files/%2e%2e/%2e%2e/%2e%2e/secret.txt"),
        format!("/runs/{id}/files/%2E%2E%2F%2E%2E%2F%2E%2E%2Fsecret.txt"),
        format!("/runs/{id}/files/..%2f..%2f..%2fsecret.txt"),
        format!("/runs/{id}/files//{}", secret.display()),
        format!(
            "/runs/{id}/files/{}",
            secret.display().to_string().replace('/', "%2F")
        ),
        format!("/runs/{id}/files/link.json"),
        format!("/runs/{id}/files/up/secret.txt"),
        format!("/runs/{id}/files/steps/%00"),
        format!("/runs/{id}/files/"),
        format!("/runs/{id}/files/steps"),
        "/runs/..%2F..%2Fsecret.txt/files/x".to_owned(),
        "/../secret.txt".to_owned(),
    ] {
        let r = v.get(&path);
        assert!(
            r.status == 400 || r.status == 404,
            "GET {path} answered {}",
            r.status
        );
        assert!(
            !r.text().contains("TOP-SECRET-CONTENT"),
            "GET {path} leaked"
        );
    }
}

#[test]
fn payload_text_is_escaped() {
    let p = demo_project();
    let (id, _) = failed_demo_run(&p);
    let v = Viewer::start(&p, &[]);
    let page = v.page(&format!("/runs/{id}/steps/batch/1"));
    assert!(
        page.contains("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"),
        "{page}"
    );
    assert!(
        !page.contains(EVIL) && !page.contains("<img"),
        "unescaped payload text"
    );
    // Where a payload reaches the pages in other ways: the error message.
    let run = v.page(&format!("/runs/{id}"));
    assert!(!run.contains("<img"), "{run}");
}

#[test]
fn run_logs_are_paged_newest_first() {
    let p = demo_project();
    let (id, _) = failed_demo_run(&p);
    let mut ids = copy_runs(&p, &id, 119);
    ids.insert(0, id);
    ids.reverse();
    let v = Viewer::start(&p, &[]);
    let first = v.page("/");
    assert_eq!(rows(&first), ids[..50]);
    assert!(first.contains("href=\"/?page=2\""), "{first}");
    assert!(!first.contains("rel=\"prev\""));
    let third = v.page("/?page=3");
    assert_eq!(rows(&third), ids[100..]);
    assert!(!third.contains("rel=\"next\""));
    assert_eq!(rows(&v.page("/?status=failure&page=2")), ids[50..100]);
    assert!(rows(&v.page("/?page=4")).is_empty());
    assert_eq!(rows(&v.page("/?page=0")), ids[..50]);
}

#[test]
fn a_damaged_manifest_shows_an_error_box() {
    let p = demo_project();
    let (id, _) = failed_demo_run(&p);
    let ids = copy_runs(&p, &id, 2);
    p.file(
        &format!("runs/orders-demo/{}/manifest.json", ids[1]),
        "{\"format\": ",
    );
    // A run being written right now: its payload file not there yet.
    std::fs::remove_file(p.path(&format!(
        "runs/orders-demo/{}/steps/04-paid/000003.json",
        ids[0]
    )))
    .expect("remove");
    let v = Viewer::start(&p, &[]);
    let home = v.page("/");
    assert!(home.contains("manifest unreadable"), "{home}");
    assert_eq!(rows(&home), [ids[0].clone(), id.clone()]);
    let run = v.page(&format!("/runs/{}", ids[1]));
    assert!(
        run.contains("error-box") && run.contains("not valid JSON"),
        "{run}"
    );
    let missing = v.page(&format!("/runs/{}/steps/paid/3", ids[0]));
    assert!(missing.contains("cannot be read"), "{missing}");
}

#[test]
#[allow(clippy::too_many_lines, reason = "one walk through the actions")]
fn actions_need_the_token_and_run_the_cli() {
    let p = demo_project();
    let (id, _) = failed_demo_run(&p);
    // Read-only by default: no forms, and a POST does nothing.
    {
        let v = Viewer::start(&p, &[]);
        assert!(!v.page(&format!("/runs/{id}")).contains("/actions/"));
        let r = post_form(&v, "/actions/resume", &[("run", &id)], None);
        assert_eq!(r.status, 403);
    }
    let v = Viewer::start(&p, &["--actions"]);
    let token = v.token.clone().expect("token");
    assert_eq!(token.len(), 32);
    // Without the token the page only says how to get it.
    let run = v.page(&format!("/runs/{id}"));
    assert!(
        run.contains("Actions are on") && !run.contains("/actions/resume"),
        "{run}"
    );
    // The token's URL sets the cookie and leaves the address.
    let login = v.get(&format!("/runs/{id}?token={token}"));
    assert_eq!(login.status, 303);
    assert_eq!(
        login.header("Location"),
        Some(format!("/runs/{id}").as_str())
    );
    let cookie = login.header("Set-Cookie").expect("cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().expect("pair").to_owned();
    assert_eq!(v.get("/?token=wrong").status, 403);
    let page = request(
        &v.addr,
        "GET",
        &format!("/runs/{id}"),
        &[("Cookie", &cookie)],
        b"",
    )
    .text();
    assert!(page.contains("action=\"/actions/resume\""), "{page}");
    assert!(page.contains(&format!("name=\"token\" value=\"{token}\"")));
    // The form needs the token field itself: a cookie alone is not enough (CSRF).
    for fields in [
        vec![("run", id.as_str())],
        vec![("run", &id), ("token", "0".repeat(32).as_str())],
    ] {
        let r = post_form(&v, "/actions/resume", &fields, Some(&cookie));
        assert_eq!(r.status, 403, "{}", r.text());
    }
    assert_eq!(p.run_ids("orders-demo").len(), 1, "nothing ran");
    // Fix the data's bad email, then resume: a new run that resumes the failed one.
    let flow = p
        .read("flows/orders-demo.toml")
        .replace("contains(\"@\")", "contains(\"@\") or contains(\"(at)\")");
    p.flow("orders-demo", &flow);
    let r = post_form(
        &v,
        "/actions/resume",
        &[("token", &token), ("run", &id)],
        None,
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let new = p.last_run("orders-demo");
    assert_ne!(new, id);
    assert_eq!(r.header("Location"), Some(format!("/runs/{new}").as_str()));
    let m = p.manifest("orders-demo", &new);
    assert_eq!(m["resume_of"], id.as_str());
    assert_eq!(m["status"], "success");
    // The CLI's own guard: the failed run was resumed already? Then replay; both go
    // through the same binary, so whatever it refuses is shown, not run.
    let r = post_form(
        &v,
        "/actions/replay",
        &[("token", &token), ("run", &id), ("file", "../../x.json")],
        None,
    );
    assert_eq!(r.status, 400);
    // Initialise with data: a pasted payload runs the flow.
    let r = post_form(
        &v,
        "/actions/run",
        &[
            ("token", &token),
            ("flow", "orders-demo"),
            ("payload", "not json"),
        ],
        None,
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("Nothing was run"), "{}", r.text());
    let before = p.run_ids("orders-demo").len();
    let r = post_form(
        &v,
        "/actions/run",
        &[
            ("token", &token),
            ("flow", "orders-demo"),
            ("payload", "{\"pasted\": true}"),
        ],
        None,
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let ids = p.run_ids("orders-demo");
    assert_eq!(ids.len(), before + 1);
    let pasted = ids.last().expect("run");
    assert!(is_run_id(pasted));
    let m = p.manifest("orders-demo", pasted);
    let input = m["input"][0]["file"].as_str().expect("input file");
    assert_eq!(
        p.json(&format!("runs/orders-demo/{pasted}/{input}")),
        serde_json::json!({"pasted": true})
    );
}

#[test]
fn listening_elsewhere_warns() {
    let p = demo_project();
    let mut child = p
        .cmd(&["ui", "--listen", "0.0.0.0:0"])
        .command()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    err.read_line(&mut line).expect("read");
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("warning: listening on 0.0.0.0:"), "{line}");
    let bad = p.cmd(&["ui", "--listen", "nowhere"]).run().code(2);
    assert!(bad.stderr.contains("is not an address"), "{}", bad.stderr);
}

#[test]
fn diffs_show_which_payloads_changed_and_how() {
    let p = demo_project();
    let (a, _) = failed_demo_run(&p);
    // Fix the one bad email in the data and run again: the second run succeeds.
    let mut data: Value = serde_json::from_str(&p.read("data/orders-demo.json")).expect("json");
    for order in data.as_array_mut().expect("orders") {
        let email = order["customer"]["email"]
            .as_str()
            .expect("email")
            .to_owned();
        order["customer"]["email"] = Value::String(email.replace("(at)", "@"));
    }
    p.file("data/orders-demo.json", &data.to_string());
    p.cmd(&["run", "orders-demo"]).run().ok();
    let b = p.last_run("orders-demo");
    let v = Viewer::start(&p, &[]);
    let diff = v.page(&format!("/diff?a={a}&b={b}"));
    let row = |step: &str| {
        diff.split("<tr")
            .find(|r| r.contains(&format!("<code>{step}</code>")))
            .unwrap_or_else(|| panic!("no row for {step}: {diff}"))
            .to_owned()
    };
    assert!(
        row("batch").contains("1 differ") && row("batch").contains("#3 changed"),
        "{diff}"
    );
    assert!(row("paid").contains("#3 changed") && !row("paid").contains("#1 changed"));
    assert!(row("valid").contains("only in b"), "{}", row("valid"));
    // The run page offers the comparison with the run before it.
    assert!(
        v.page(&format!("/runs/{b}"))
            .contains(&format!("<option value=\"{a}\" selected>"))
    );
    let json = v.page(&format!("/diff?a={a}&b={b}&step=paid&n=3"));
    assert!(json.contains("<code>[2].email</code>"), "{json}");
    assert!(
        json.contains("lena.fischer(at)example.com") && json.contains("lena.fischer@example.com")
    );
    let same = v.page(&format!("/diff?a={a}&b={b}&step=paid&n=1"));
    assert!(same.contains("id=\"no-changes\""), "{same}");
    // A trimmed payload cannot be diffed as JSON, and says so.
    let trimmed = v.page(&format!("/diff?a={a}&b={b}&step=load&n=1"));
    assert!(trimmed.contains("was trimmed"), "{trimmed}");
}

#[test]
fn a_run_in_progress_shows_as_running_until_it_ends() {
    let p = Project::new();
    let go = p.path("go");
    p.flow(
        "slow",
        &format!(
            "[[steps]]\nid = \"wait\"\nkind = \"command\"\nrun = [\"sh\", \"-c\", \"while [ ! -e '{}' ]; do sleep 0.05; done; cat\"]\n",
            go.display()
        ),
    );
    p.file("in.json", "{\"n\": 1}");
    let run = p.cmd(&["run", "slow", "--input", "in.json"]).spawn();
    crate::support::wait_for("the run to start", || {
        p.exists("runs/slow") && !p.run_ids("slow").is_empty()
    });
    let id = p.last_run("slow");
    let v = Viewer::start(&p, &[]);
    crate::support::wait_for("the run to read as running", || {
        v.page("/")
            .contains(&format!("data-run=\"{id}\" data-status=\"running\""))
    });
    // What the page's script polls, and the run page's marker for it.
    let api: Value = serde_json::from_str(&v.page(&format!("/api/runs/{id}"))).expect("json");
    assert_eq!(api["status"], "running");
    assert!(
        v.page(&format!("/runs/{id}"))
            .contains("data-status=\"running\" hidden")
    );
    std::fs::write(&go, "").expect("go");
    run.wait().ok();
    let api: Value = serde_json::from_str(&v.page(&format!("/api/runs/{id}"))).expect("json");
    assert_eq!(api["status"], "success");
    assert!(
        v.page("/")
            .contains(&format!("data-run=\"{id}\" data-status=\"success\""))
    );
}

#[test]
fn replay_action_uses_the_cli_and_its_guards() {
    let p = demo_project();
    let (id, _) = failed_demo_run(&p);
    let flow = p
        .read("flows/orders-demo.toml")
        .replace("contains(\"@\")", "contains(\"@\") or contains(\"(at)\")");
    p.flow("orders-demo", &flow);
    let v = Viewer::start(&p, &["--actions"]);
    let token = v.token.clone().expect("token");
    let m = p.manifest("orders-demo", &id);
    let failed = m["error"]["failed_input"].as_str().expect("failed input");
    let fields = [("token", token.as_str()), ("run", &id), ("file", failed)];
    let r = post_form(&v, "/actions/replay", &fields, None);
    assert_eq!(r.status, 303, "{}", r.text());
    let new = p.last_run("orders-demo");
    assert_eq!(r.header("Location"), Some(format!("/runs/{new}").as_str()));
    let m = p.manifest("orders-demo", &new);
    assert_eq!(m["replay_of"]["run_id"], id.as_str());
    assert_eq!(m["trigger"], "replay");
    // The same replay again is what the CLI refuses without --force: shown, not run.
    let cli = p
        .cmd(&[
            "replay",
            &format!("runs/orders-demo/{id}/{failed}"),
            "--auto-skip",
        ])
        .run();
    assert_eq!(cli.code, 2, "{}", cli.stderr);
    assert!(cli.stderr.contains("already replayed"), "{}", cli.stderr);
    let before = p.run_ids("orders-demo").len();
    let r = post_form(&v, "/actions/replay", &fields, None);
    assert_eq!(r.status, 409, "{}", r.text());
    let refusal = cli.stderr.lines().last().expect("an error line");
    assert!(r.text().contains(&html_text(refusal)), "{}", r.text());
    assert_eq!(p.run_ids("orders-demo").len(), before, "nothing ran");
}

/// `text` as the pages escape it.
pub fn html_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[test]
fn odd_requests_never_take_the_server_down() {
    let p = demo_project();
    let (id, _) = failed_demo_run(&p);
    let v = Viewer::start(&p, &["--actions"]);
    let long = format!("/runs/{}", "a".repeat(60_000));
    for path in [
        "/%ff%fe",
        "/runs/%c0%ae%c0%ae/files/x",
        &long,
        "/?page=18446744073709551615",
        "/?page=99999999999999999999999&status=failure",
        &format!("/runs/{id}/steps/paid?page=18446744073709551615"),
        &format!("/runs/{id}/steps/paid/18446744073709551616"),
        &format!("/diff?a={id}&b={id}&step=paid&n=0"),
        &format!("/diff?a={id}"),
        "/api/runs?limit=-1",
        "/api/runs?flow=../x",
        "/runs/%00",
        "relative",
    ] {
        let r = request(&v.addr, "GET", path, &[], b"");
        assert!(
            r.status < 500 || r.status == 505,
            "GET {path}: {}",
            r.status
        );
        assert_eq!(v.get("/").status, 200, "after GET {path}");
    }
    for (ctype, body) in [
        ("text/plain", "token=x"),
        ("application/x-www-form-urlencoded", "%zz=%zz&&=="),
        ("application/x-www-form-urlencoded", ""),
    ] {
        let r = request(
            &v.addr,
            "POST",
            "/actions/resume",
            &[("Content-Type", ctype)],
            body.as_bytes(),
        );
        assert!(
            r.status == 403 || r.status == 415,
            "POST {ctype} {body}: {}",
            r.status
        );
    }
    let mut s = TcpStream::connect(&v.addr).expect("connect");
    s.write_all(b"\x00\xff garbage\r\n\r\n").expect("send");
    let mut sink = Vec::new();
    let _ = s.read_to_end(&mut sink);
    assert_eq!(v.get("/").status, 200, "after a garbage request");
}
