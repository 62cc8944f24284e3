//! HTTP faults: a connection cut mid-body, a trickling server, a 5xx storm, a body far
//! over the limit, servers that never answer. Each ends in bounded time and memory with
//! a clear failure: exit 1, the step named, the run's manifest recording the failure.
//!
//! The time bounds are generous safety limits (a hang is the bug they catch), not
//! performance assertions.

use crate::server::{Reply, Server};
use crate::support::Project;
use serde_json::json;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every fault must end well within this.
const BOUND: Duration = Duration::from_secs(30);
/// Peak memory (resident set) allowed for a fault, in KiB.
const MAX_PEAK_KIB: u64 = 100 * 1024;

fn http_flow(options: &str) -> String {
    format!("[[steps]]\nid = \"call\"\nkind = \"http\"\n{options}\n")
}

/// What a finished `flowrun` process printed.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

/// How a run went, with its peak memory when it could be measured.
struct Measured {
    out: Ran,
    took: Duration,
    peak_kib: Option<u64>,
}

const TIME_TAG: &str = "flowrun-peak-rss-kib=";

/// Runs `flowrun run f`, measuring time and (with GNU time, else from /proc) peak memory.
fn run_measured(p: &Project) -> Measured {
    let cmd = p.cmd(&["run", "f"]).command();
    let started = Instant::now();
    let gnu_time = Path::new("/usr/bin/time");
    let (out, peak_kib) = if gnu_time.exists() {
        let mut timed = Command::new(gnu_time);
        timed
            .arg("-f")
            .arg(format!("{TIME_TAG}%M"))
            .arg(cmd.get_program())
            .args(cmd.get_args());
        copy_setup(&cmd, &mut timed);
        let out = timed.output().expect("run flowrun under /usr/bin/time");
        let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let peak = stderr.rfind(TIME_TAG).and_then(|at| {
            let peak = stderr[at + TIME_TAG.len()..].trim().parse().ok();
            stderr.truncate(at);
            peak
        });
        (output(out.status.code(), &out.stdout, stderr), peak)
    } else {
        proc_peak(cmd)
    };
    assert!(
        !out.stderr.contains("panicked"),
        "flowrun panicked:\n{}",
        out.stderr
    );
    Measured {
        out,
        took: started.elapsed(),
        peak_kib,
    }
}

fn copy_setup(from: &Command, to: &mut Command) {
    if let Some(dir) = from.get_current_dir() {
        to.current_dir(dir);
    }
    for (k, v) in from.get_envs() {
        match v {
            Some(v) => to.env(k, v),
            None => to.env_remove(k),
        };
    }
}

fn output(code: Option<i32>, stdout: &[u8], stderr: String) -> Ran {
    Ran {
        code: code.unwrap_or(-1),
        stdout: String::from_utf8_lossy(stdout).into_owned(),
        stderr,
    }
}

/// Without GNU time: polls `VmHWM` (the peak resident set) in /proc while it runs.
fn proc_peak(mut cmd: Command) -> (Ran, Option<u64>) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn flowrun");
    let status = format!("/proc/{}/status", child.id());
    let mut peak = None;
    while child.try_wait().expect("poll").is_none() {
        if let Some(kib) = std::fs::read_to_string(&status).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        }) {
            peak = Some(peak.map_or(kib, |p: u64| p.max(kib)));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().expect("wait flowrun");
    (
        output(
            out.status.code(),
            &out.stdout,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
        peak,
    )
}

/// Runs flow `f` and checks it failed cleanly in step `call` with `needle` in the
/// message, within the time bound and the memory bound.
#[track_caller]
fn fails_cleanly(p: &Project, fault: &str, needle: &str) -> Measured {
    let m = run_measured(p);
    let out = &m.out;
    assert_eq!(
        out.code, 1,
        "{fault}: exit {} (want 1)\n--- stdout\n{}\n--- stderr\n{}",
        out.code, out.stdout, out.stderr
    );
    assert!(
        out.stderr.starts_with("error: step `call` failed") && out.stderr.contains(needle),
        "{fault}: stderr must name the step and say {needle:?}:\n{}",
        out.stderr
    );
    let id = p.last_run("f");
    let manifest = p.manifest("f", &id);
    assert_eq!(manifest["status"], "failure", "{fault}: {manifest:#}");
    assert_eq!(manifest["error"]["step"], "call", "{fault}: {manifest:#}");
    assert!(
        manifest["error"]["message"]
            .as_str()
            .is_some_and(|s| s.contains(needle)),
        "{fault}: the manifest's error must say {needle:?}: {manifest:#}"
    );
    assert_eq!(manifest["steps"][0]["status"], "failure", "{fault}");
    assert!(m.took < BOUND, "{fault}: took {:?}", m.took);
    match m.peak_kib {
        Some(kib) => assert!(
            kib < MAX_PEAK_KIB,
            "{fault}: peak memory {kib} KiB (limit {MAX_PEAK_KIB} KiB)"
        ),
        None => eprintln!("{fault}: peak memory not measured (no /usr/bin/time, no /proc)"),
    }
    eprintln!(
        "http fault `{fault}`: exit 1 after {:.2}s, peak memory {}: {}",
        m.took.as_secs_f64(),
        m.peak_kib.map_or_else(
            || "not measured".to_owned(),
            |k| format!("{}.{} MiB", k / 1024, k % 1024 * 10 / 1024)
        ),
        out.stderr.lines().next().unwrap_or_default()
    );
    m
}

#[test]
fn a_connection_cut_mid_body_fails_the_step() {
    let body = json!({"items": vec!["x".repeat(100); 100]});
    let s = Server::start(move |_, _| Reply {
        cut: true,
        ..Reply::json(200, &body)
    });
    let p = Project::new();
    p.flow("f", &http_flow(&format!("url = \"{}\"", s.url("/cut"))));
    fails_cleanly(&p, "connection cut mid-body", "connection error");
    assert_eq!(s.requests().len(), 1);
}

#[test]
fn a_connection_cut_mid_body_is_retried_then_fails() {
    let s = Server::start(|_, _| Reply {
        cut: true,
        ..Reply::json(200, &json!({"items": vec![1; 5000]}))
    });
    let p = Project::new();
    p.flow(
        "f",
        &http_flow(&format!("url = \"{}\"\nretries = 2", s.url("/cut"))),
    );
    fails_cleanly(&p, "connection cut mid-body, 2 retries", "after 3 attempts");
    assert_eq!(s.requests().len(), 3, "one request and two retries");
}

#[test]
fn a_trickling_server_hits_the_timeout() {
    // One byte every 100 ms: the whole body would take 30 s.
    let s = Server::start(|_, _| Reply {
        trickle: 1,
        ..Reply::json(200, &json!({"slow": "x".repeat(290)}))
    });
    let p = Project::new();
    p.flow(
        "f",
        &http_flow(&format!("url = \"{}\"\ntimeout = \"1s\"", s.url("/slow"))),
    );
    let m = fails_cleanly(&p, "trickle (1 byte / 100 ms, timeout 1s)", "timeout");
    assert!(m.took < Duration::from_secs(15), "took {:?}", m.took);
    assert_eq!(s.requests().len(), 1);
}

#[test]
fn a_5xx_storm_is_retried_exactly_as_configured() {
    let s = Server::start(|_, _| Reply::text(503, "overloaded, try later"));
    let p = Project::new();
    p.flow(
        "f",
        &http_flow(&format!("url = \"{}\"\nretries = 3", s.url("/storm"))),
    );
    let m = fails_cleanly(
        &p,
        "5xx storm (every request 503, retries 3)",
        "returned status 503",
    );
    assert!(
        m.out.stderr.contains("after 4 attempts") && m.out.stderr.contains("overloaded"),
        "{}",
        m.out.stderr
    );
    assert_eq!(s.requests().len(), 4, "one request and three retries");
    let id = p.last_run("f");
    let manifest = p.manifest("f", &id);
    assert_eq!(manifest["steps"][0]["payloads"], json!([]));
}

#[test]
fn a_body_far_over_the_limit_fails_without_reading_it_all() {
    let s = Server::start(|_, _| Reply::generated(50 << 20));
    let p = Project::new();
    p.flow(
        "f",
        &http_flow(&format!(
            "url = \"{}\"\nmax_response_bytes = 1048576",
            s.url("/huge")
        )),
    );
    fails_cleanly(
        &p,
        "50 MiB body, max_response_bytes = 1 MiB",
        "larger than 1048576 bytes (max_response_bytes)",
    );
}

#[test]
fn a_server_that_never_answers_hits_the_timeout() {
    let s = Server::start(|_, _| Reply::silent());
    let p = Project::new();
    p.flow(
        "f",
        &http_flow(&format!(
            "url = \"{}\"\ntimeout = \"1s\"\nretries = 2",
            s.url("/silent")
        )),
    );
    fails_cleanly(&p, "accepts, never answers (timeout 1s)", "timeout");
    assert_eq!(s.requests().len(), 1, "a timeout is not retried");
}

#[test]
fn a_listener_that_never_accepts_hits_the_timeout() {
    // The kernel completes the handshake from the backlog; nobody reads the request.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let p = Project::new();
    p.flow(
        "f",
        &http_flow(&format!(
            "url = \"http://127.0.0.1:{port}/x\"\ntimeout = \"1s\""
        )),
    );
    fails_cleanly(&p, "never accepts (timeout 1s)", "timeout");
    drop(listener);
}

#[test]
fn a_server_that_hangs_up_without_answering_is_retried_then_fails() {
    let s = Server::start(|_, _| Reply::hangup());
    let p = Project::new();
    p.flow(
        "f",
        &http_flow(&format!("url = \"{}\"\nretries = 1", s.url("/hangup"))),
    );
    fails_cleanly(&p, "hangs up without a reply, 1 retry", "after 2 attempts");
    assert_eq!(s.requests().len(), 2);
}

#[test]
fn a_fault_on_a_later_payload_keeps_the_earlier_ones() {
    // Payloads 1 and 2 go through; the server then starts cutting connections.
    let s = Server::start(|req, n| {
        if n < 2 {
            Reply::json(200, &json!({"got": req.json()}))
        } else {
            Reply {
                cut: true,
                ..Reply::json(200, &json!({"pad": "x".repeat(1000)}))
            }
        }
    });
    let p = Project::new();
    p.file("data/in.json", "[1, 2, 3, 4]").flow(
        "f",
        &format!(
            "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/in.json\"\n[[steps]]\nid = \"one\"\nkind = \"split\"\nsize = 1\n[[steps]]\nid = \"call\"\nkind = \"http\"\nmethod = \"POST\"\nurl = \"{}\"\n",
            s.url("/post")
        ),
    );
    let m = run_measured(&p);
    assert_eq!(m.out.code, 1, "{}", m.out.stderr);
    assert!(
        m.out.stderr.contains("step `call` failed"),
        "{}",
        m.out.stderr
    );
    let id = p.last_run("f");
    let call = p.step_record("f", &id, "call");
    assert_eq!(call["status"], "failure");
    assert_eq!(call["payloads"].as_array().map(Vec::len), Some(2));
    let manifest = p.manifest("f", &id);
    assert_eq!(
        manifest["error"]["failed_input"],
        "steps/02-one/000003.json"
    );
    assert!(m.took < BOUND);
}
