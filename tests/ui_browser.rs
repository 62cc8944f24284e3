//! `flowrun ui` in real headless Chromium (Debian's `chromium` and `chromium-driver`),
//! driven over the W3C `WebDriver` protocol with plain HTTP JSON calls: the seed's walk, clicked.

use crate::support::{Project, wait_for};
use crate::ui::{Viewer, demo_project, failed_demo_run};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The web driver protocol key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn on_path(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// A chromedriver process and one browser session, both ended when dropped.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and a headless session; `None` (with a
    /// notice) when chromedriver is missing outside CI. In CI it must be there.
    fn start() -> Option<Browser> {
        let Some(driver) = on_path("chromedriver") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but chromedriver is missing: install chromium and chromium-driver"
            );
            eprintln!(
                "notice: chromedriver not found; skipping the browser test (apt-get install chromium chromium-driver)"
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        wait_for("chromedriver to listen", || {
            agent
                .get(&format!("{base}/status"))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == true)
        });
        let profile = tempfile::tempdir().expect("profile dir");
        let mut b = Browser {
            driver: child,
            base,
            session: String::new(),
            agent,
            profile,
        };
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1200,800",
        ]
        .map(String::from)
        .to_vec();
        args.push(format!("--user-data-dir={}", b.profile.path().display()));
        let mut options = json!({ "args": args });
        if let Some(bin) = on_path("chromium") {
            options["binary"] = json!(bin.display().to_string());
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options } } });
        let v = b.call("POST", "/session", Some(caps));
        v["sessionId"]
            .as_str()
            .expect("session id")
            .clone_into(&mut b.session);
        Some(b)
    }

    /// One web driver command; its `value`, or a panic with the driver's message.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let resp = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self
                .agent
                .post(&url)
                .send_json(body.unwrap_or_else(|| json!({}))),
        };
        let mut resp = resp.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status();
        let v: Value = resp.body_mut().read_json().expect("web driver JSON");
        assert!(status.is_success(), "{method} {path}: {status} {v}");
        v["value"].clone()
    }

    fn s(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    fn goto(&self, url: &str) {
        self.call("POST", &self.s("/url"), Some(json!({ "url": url })));
    }

    fn url(&self) -> String {
        self.call("GET", &self.s("/url"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn all(&self, css: &str) -> Vec<String> {
        let v = self.call(
            "POST",
            &self.s("/elements"),
            Some(json!({ "using": "css selector", "value": css })),
        );
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first element matching `css`, waiting for it to appear.
    #[track_caller]
    fn find(&self, css: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(e) = self.all(css).into_iter().next() {
                return e;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no `{css}` on {}:\n{}",
                self.url(),
                self.call("GET", &self.s("/source"), None)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[track_caller]
    fn click(&self, css: &str) {
        let e = self.find(css);
        self.call("POST", &self.s(&format!("/element/{e}/click")), None);
    }

    #[track_caller]
    fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.call("GET", &self.s(&format!("/element/{e}/text")), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .agent
                .delete(&format!("{}/session/{}", self.base, self.session))
                .call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[test]
fn the_walk_from_the_logs_to_the_failed_payload_and_a_resume() {
    let p: Project = demo_project();
    let (id, _) = failed_demo_run(&p);
    let Some(b) = Browser::start() else {
        return;
    };
    let v = Viewer::start(&p, &["--actions"]);
    let token = v.token.clone().expect("token");
    let base = format!("http://{}", v.addr);

    // Open the printed URL: the token goes into a cookie and out of the address.
    b.goto(&format!("{base}/?token={token}"));
    b.find("#runs");
    assert_eq!(b.url(), format!("{base}/"));

    // Filter failures.
    b.click("#status option[value=failure]");
    b.click("#apply");
    b.find("#runs[data-status=failure]");
    assert!(b.url().contains("status=failure"), "{}", b.url());
    assert_eq!(b.text(&format!("tr[data-run='{id}'] .st")), "failure");

    // Open the run, then its failed step, then the payload it failed on.
    b.click(&format!("a[href='/runs/{id}']"));
    b.find("#steps");
    assert!(b.text(".hints").contains(&format!("flowrun resume {id}")));
    b.click("#steps tr.failed a");
    assert!(b.text("h1").contains("valid"));
    b.click("#failed-payload");
    assert!(
        b.url().ends_with(&format!("/runs/{id}/steps/paid/3")),
        "{}",
        b.url()
    );
    assert!(b.text("#payload").contains("lena.fischer(at)example.com"));
    // The script ran (under the CSP): fold handles, and folding hides a value.
    let handles = b.all("#payload .j-o.fold");
    assert!(handles.len() > 1, "no fold handles: the script did not run");
    b.click("#payload .j-c .j-o.fold");
    assert!(
        !b.all("#payload .j-c.hidden").is_empty(),
        "folding did nothing"
    );

    // A trimmed payload shows its banner.
    b.click(&format!("h1 a[href='/runs/{id}']"));
    b.click(&format!("a[href='/runs/{id}/steps/load']"));
    b.click("a.eye");
    assert!(b.text("#trimmed").contains("[trimmed]"));

    // Resume it (after fixing the check) and see the new run appear.
    let flow = p
        .read("flows/orders-demo.toml")
        .replace("contains(\"@\")", "contains(\"@\") or contains(\"(at)\")");
    p.flow("orders-demo", &flow);
    b.goto(&format!("{base}/runs/{id}"));
    b.click("#resume");
    wait_for("the new run's page", || {
        b.url() != format!("{base}/runs/{id}") && !b.all("#steps").is_empty()
    });
    let new = p.last_run("orders-demo");
    assert!(b.url().ends_with(&format!("/runs/{new}")), "{}", b.url());
    assert!(
        b.text(".facts").contains(&id),
        "the new run names the one it resumes"
    );
    b.goto(&format!("{base}/"));
    assert_eq!(b.text(&format!("tr[data-run='{new}'] .st")), "success");

    // A run in progress turns into `success` on the open page, without a reload.
    let go = p.path("go");
    p.flow(
        "slow",
        &format!(
            "[[steps]]\nid = \"wait\"\nkind = \"command\"\nrun = [\"sh\", \"-c\", \"while [ ! -e '{}' ]; do sleep 0.05; done; cat\"]\n",
            go.display()
        ),
    );
    p.file("in.json", "{}");
    let slow = p.cmd(&["run", "slow", "--input", "in.json"]).spawn();
    wait_for("the slow run to start", || {
        p.exists("runs/slow") && !p.run_ids("slow").is_empty()
    });
    let running = p.last_run("slow");
    b.goto(&format!("{base}/?flow=slow"));
    assert_eq!(b.text(&format!("tr[data-run='{running}'] .st")), "running");
    b.call(
        "POST",
        &b.s("/execute/sync"),
        Some(json!({ "script": "window.notReloaded = true;", "args": [] })),
    );
    std::fs::write(&go, "").expect("go");
    slow.wait().ok();
    wait_for("the row to turn to success", || {
        b.text(&format!("tr[data-run='{running}'] .st")) == "success"
    });
    let kept = b.call(
        "POST",
        &b.s("/execute/sync"),
        Some(json!({ "script": "return window.notReloaded === true;", "args": [] })),
    );
    assert_eq!(kept, json!(true), "the page was reloaded");
}
