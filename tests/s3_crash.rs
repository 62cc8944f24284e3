//! Crash campaign against the S3 store (issue 18): a run whose first step's output is
//! over 8 MiB (stored as a multipart upload) and whose `http` step posts every payload to
//! a real local HTTP sink is killed with SIGKILL at seeded random moments, and resumed —
//! from a second project root whose working copy is emptied before every command — until
//! it finishes (resumes are killed too). After every kill the bucket itself is checked:
//! every stored manifest parses and every file it lists is stored with the size and
//! blake3 it records; the killed holder's lock is free at once (same host, dead process)
//! and the run reads `interrupted`. At the end of each chain: one run finished, every
//! payload reached the sink, none was sent again once its response was stored, and the
//! lock is released. A payload sent but not yet recorded when the kill came is sent again
//! by the resume (the store cannot know about it): counted apart as re-done.
//!
//! Skipped unless `FLOWRUN_TEST_S3_ENDPOINT` is set (a moto server, see README). Settings
//! (environment): `FLOWRUN_S3_CRASH_KILLS` (kills; default 5), `FLOWRUN_CRASH_SEED`
//! (default: from the clock; always printed), `FLOWRUN_S3_CRASH_PAYLOADS` (default 24),
//! `FLOWRUN_S3_CRASH_MB` (size of the first step's output; default 9).

use crate::crash_campaign::Rng;
use crate::server::{Reply, Server};
use crate::support::s3::TestStore;
use crate::support::{Cmd, Project};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

/// read (one payload over 8 MiB) → split → map (drops the padding) → http POST → filter.
fn flow(sink: &str) -> String {
    format!(
        r#"[[steps]]
id = "load"
kind = "read"
path = "data/in.json"

[[steps]]
id = "one"
kind = "split"
size = 1

[[steps]]
id = "shape"
kind = "map"
jq = '.[0] | {{id, v}}'

[[steps]]
id = "send"
kind = "http"
method = "POST"
url = "{sink}"

[[steps]]
id = "keep"
kind = "filter"
jq = '.got.id % 3 != 0'
"#
    )
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |t| {
        t.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={t} is not a number"))
    })
}

/// One chain's bucket, sink and two project roots (`a` runs, `b` resumes).
struct Site {
    store: TestStore,
    sink: Server,
    a: tempfile::TempDir,
    b: tempfile::TempDir,
}

impl Site {
    fn new(data: &[u8]) -> Site {
        let sink = Server::start(|req, _| {
            let got: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            Reply::json(200, &serde_json::json!({ "got": got }))
        });
        let site = Site {
            store: TestStore::fresh(),
            a: tempfile::tempdir().expect("root a"),
            b: tempfile::tempdir().expect("root b"),
            sink,
        };
        for root in [site.a.path(), site.b.path()] {
            std::fs::create_dir_all(root.join("flows")).expect("flows");
            std::fs::create_dir_all(root.join("data")).expect("data");
            std::fs::write(root.join("flows/c.toml"), flow(&site.sink.url("/in"))).expect("flow");
            std::fs::write(root.join("data/in.json"), data).expect("data");
        }
        site
    }

    /// `flowrun args` on root `a` (the first run) or `b` (with an empty working copy).
    fn cmd(&self, launcher: &Project, args: &[&str]) -> Cmd {
        let root = if args[0] == "run" {
            self.a.path()
        } else {
            let _ = std::fs::remove_dir_all(self.b.path().join("runs"));
            self.b.path()
        };
        let mut cmd = launcher
            .cmd(args)
            .cwd(root)
            .env("FLOWRUN_S3_LEASE_SECS", "2");
        for (k, v) in self.store.env() {
            cmd = cmd.env(&k, &v);
        }
        cmd
    }

    /// Stored run ids, oldest first.
    fn runs(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .store
            .keys()
            .iter()
            .filter_map(|k| {
                k.strip_prefix("runs/c/")?
                    .strip_suffix("/manifest.json")
                    .map(str::to_owned)
            })
            .collect();
        ids.sort();
        ids
    }

    fn manifest(&self, id: &str) -> Option<Value> {
        serde_json::from_slice(&self.store.get(&format!("runs/c/{id}/manifest.json"))).ok()
    }

    /// How many requests the sink got per payload id.
    fn sends(&self) -> BTreeMap<u64, usize> {
        let mut out = BTreeMap::new();
        for r in self.sink.requests() {
            if let Some(id) = serde_json::from_slice::<Value>(&r.body)
                .ok()
                .and_then(|v| v["id"].as_u64())
            {
                *out.entry(id).or_default() += 1;
            }
        }
        out
    }
}

/// The files a manifest lists, with the size and blake3 it records for each.
fn listed(m: &Value) -> Vec<(String, u64, String)> {
    let mut records: Vec<&Value> = m["input"].as_array().into_iter().flatten().collect();
    for s in m["steps"].as_array().into_iter().flatten() {
        records.extend(s["payloads"].as_array().into_iter().flatten());
        records.extend(s["failed"].as_array().into_iter().flatten());
    }
    records
        .into_iter()
        .filter_map(|r| {
            Some((
                r["file"].as_str()?.to_owned(),
                r["bytes"].as_u64()?,
                r["blake3"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// What the bucket holds, checked: the damage found, and the payload ids whose `send`
/// response a stored manifest lists.
fn inspect(site: &Site) -> (Vec<String>, BTreeSet<u64>) {
    let mut damage = Vec::new();
    let mut recorded = BTreeSet::new();
    let keys: BTreeSet<String> = site.store.keys().into_iter().collect();
    for id in site.runs() {
        let Some(m) = site.manifest(&id) else {
            damage.push(format!("run {id}: the stored manifest is not JSON"));
            continue;
        };
        if m["format"] != "flowrun.run/1" {
            damage.push(format!("run {id}: manifest format {}", m["format"]));
        }
        let flow_key = format!("runs/c/{id}/flow.toml");
        if !keys.contains(&flow_key) {
            damage.push(format!("run {id}: flow.toml is not stored"));
        }
        for (file, bytes, hash) in listed(&m) {
            let key = format!("runs/c/{id}/{file}");
            if !keys.contains(&key) {
                damage.push(format!("{key}: listed by its manifest but not stored"));
                continue;
            }
            let got = site.store.get(&key);
            if got.len() as u64 != bytes || blake3::hash(&got).to_hex().as_str() != hash {
                damage.push(format!(
                    "{key}: stored {} bytes, blake3 {}; the manifest says {bytes}, {hash}",
                    got.len(),
                    blake3::hash(&got).to_hex()
                ));
                continue;
            }
            if file.starts_with("steps/04-send/")
                && let Some(n) = serde_json::from_slice::<Value>(&got)
                    .ok()
                    .and_then(|v| v["got"]["id"].as_u64())
            {
                recorded.insert(n);
            }
        }
    }
    (damage, recorded)
}

/// Where a kill landed, from what the bucket says.
fn landing(site: &Site, id: Option<&str>, resume: bool) -> String {
    let prefix = if resume { "resume: " } else { "" };
    let uploading = !site.store.uploads_in_progress().is_empty();
    let upload = if uploading {
        " (a multipart upload in progress)"
    } else {
        ""
    };
    let Some(m) = id.and_then(|id| site.manifest(id)) else {
        return format!("{prefix}before the run was stored{upload}");
    };
    let steps = m["steps"].as_array().cloned().unwrap_or_default();
    if let Some(s) = steps.iter().find(|s| s["status"] == "running") {
        return format!(
            "{prefix}in step {}{upload}",
            s["id"].as_str().unwrap_or("?")
        );
    }
    let done = steps
        .iter()
        .filter(|s| s["status"] == "success" || s["status"] == "skipped")
        .count();
    match done {
        0 => format!("{prefix}start-up{upload}"),
        d if d == steps.len() => format!("{prefix}every step done{upload}"),
        d => format!(
            "{prefix}after step {}{upload}",
            steps[d - 1]["id"].as_str().unwrap_or("?")
        ),
    }
}

/// Starts `cmd` and kills it with SIGKILL `after` from now — or, with `upload`, `after`
/// the moment a multipart upload is first seen in progress in that bucket — unless it
/// ended before. Returns whether the kill happened (and the exit code otherwise).
fn run_and_kill(cmd: Cmd, after: Duration, upload: Option<&TestStore>) -> Result<(), i32> {
    let mut running = cmd.spawn();
    let mut deadline = upload.map_or(Instant::now() + after, |_| {
        Instant::now() + Duration::from_secs(3600)
    });
    let mut waiting = upload;
    loop {
        if let Some(store) = waiting
            && !store.uploads_in_progress().is_empty()
        {
            deadline = Instant::now() + after;
            waiting = None;
        }
        if running.has_exited() {
            let out = running.wait();
            assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
            if out.code != 0 {
                eprintln!("exit {}: {}", out.code, out.stderr.trim());
            }
            return Err(out.code);
        }
        let now = Instant::now();
        if now >= deadline {
            running.kill();
            return Ok(());
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(2)));
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
}

/// An uninterrupted run: how long it took, and its steps' windows from its start — the
/// first step's being the time its multipart upload was seen in progress, when it was.
fn reference(launcher: &Project, data: &[u8]) -> (Duration, Vec<(Duration, Duration)>) {
    let site = Site::new(data);
    let wall = SystemTime::now();
    let start = Instant::now();
    let mut running = site.cmd(launcher, &["run", "c"]).spawn();
    let mut upload: Option<(Duration, Duration)> = None;
    while !running.has_exited() {
        if !site.store.uploads_in_progress().is_empty() {
            let now = start.elapsed();
            upload = Some(upload.map_or((now, now), |(from, _)| (from, now)));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    running.wait().ok();
    let took = start.elapsed();
    let id = site.runs().pop().expect("the reference run");
    let m = site.manifest(&id).expect("its manifest");
    let at = |v: &Value| {
        v.as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map_or(wall, SystemTime::from)
            .duration_since(wall)
            .unwrap_or_default()
    };
    let mut windows: Vec<(Duration, Duration)> = m["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| (at(&s["started_at"]), at(&s["finished_at"])))
        .collect();
    if let Some((from, to)) = upload {
        eprintln!(
            "reference run: multipart upload seen from {:.3}s to {:.3}s",
            from.as_secs_f64(),
            to.as_secs_f64()
        );
        windows[0] = (from, to + Duration::from_millis(5));
    }
    let (damage, recorded) = inspect(&site);
    assert!(damage.is_empty(), "the reference run: {damage:?}");
    assert_eq!(recorded.len(), site.sends().len());
    (took, windows)
}

#[derive(Default)]
struct Tally {
    kills: usize,
    chains: usize,
    landed: BTreeMap<String, usize>,
    redone: usize,
    damage: Vec<String>,
}

impl Tally {
    fn damage(&mut self, chain: usize, what: impl Into<String>) {
        let what = format!("chain {chain}: {}", what.into());
        eprintln!("  DAMAGE {what}");
        self.damage.push(what);
    }
}

/// One chain: the run killed at a random moment, then resumed from root `b` (each resume
/// possibly killed too, up to three kills) until one ends by itself.
#[allow(
    clippy::too_many_lines,
    reason = "one chain: kill, check, resume, check"
)]
fn chain(
    launcher: &Project,
    data: &[u8],
    payloads: u64,
    r: &(Duration, Vec<(Duration, Duration)>),
    rng: &mut Rng,
    n: usize,
    tally: &mut Tally,
) {
    let site = Site::new(data);
    let (took, windows) = r;
    let mut args: Vec<String> = vec!["run".into(), "c".into()];
    let mut kills = 0;
    // Per payload: how many times it had been sent when its response was first stored.
    let mut sent_when_recorded: BTreeMap<u64, usize> = BTreeMap::new();
    let finished = loop {
        let before = site.runs();
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let may_kill = kills == 0 || (kills < 3 && rng.below(2) == 0);
        // The first chain's first kill, and a third of the others, land inside the
        // first step: mostly its multipart upload.
        let pick = if n == 1 && kills == 0 {
            0
        } else {
            rng.below(3)
        };
        let in_upload = pick == 0 && args[0] == "run";
        let at = match pick {
            0 if in_upload => {
                rng.between(Duration::ZERO, windows[0].1.saturating_sub(windows[0].0))
            }
            0 | 1 => rng.between(Duration::ZERO, *took),
            _ => {
                let w = windows[usize::try_from(rng.below(windows.len() as u64)).unwrap_or(0)];
                rng.between(w.0, w.1 + Duration::from_millis(5))
            }
        };
        let ended = if may_kill {
            run_and_kill(
                site.cmd(launcher, &argv),
                at,
                in_upload.then_some(&site.store),
            )
        } else {
            let out = site.cmd(launcher, &argv).run();
            if out.code != 0 {
                eprintln!("exit {}: {}", out.code, out.stderr.trim());
            }
            Err(out.code)
        };
        let id = site.runs().into_iter().find(|id| !before.contains(id));
        if let Err(code) = ended {
            if code != 0 {
                tally.damage(n, format!("`flowrun {}` exited {code}", args.join(" ")));
                return;
            }
            break id;
        }
        kills += 1;
        tally.kills += 1;
        // Requests the killed process had sent are all in by now.
        std::thread::sleep(Duration::from_millis(50));
        let place = landing(&site, id.as_deref(), args[0] == "resume");
        eprintln!(
            "chain {n}: kill {} at {:.3}s{}: {place}",
            tally.kills,
            at.as_secs_f64(),
            if in_upload {
                " after the upload began"
            } else {
                ""
            }
        );
        *tally.landed.entry(place.clone()).or_default() += 1;
        let (damage, recorded) = inspect(&site);
        for d in damage {
            tally.damage(n, format!("after a kill {place}: {d}"));
        }
        let sends = site.sends();
        for p in recorded {
            sent_when_recorded
                .entry(p)
                .or_insert_with(|| sends.get(&p).copied().unwrap_or(0));
        }
        let Some(id) = id else {
            // Nothing was stored: the same command again.
            continue;
        };
        // The killed holder is a dead process of this host: its run reads interrupted
        // and its lock is free at once.
        let shown = site.cmd(launcher, &["show", &id, "--json"]).run();
        // (`success` when the kill came after the run's last write.)
        if shown.code != 0
            || (shown.json()["status"] != "interrupted" && shown.json()["status"] != "success")
        {
            tally.damage(
                n,
                format!(
                    "after a kill {place}: show {id} exited {}: {}{}",
                    shown.code, shown.stdout, shown.stderr
                ),
            );
        }
        let all_done = site.manifest(&id).is_some_and(|m| {
            m["steps"].as_array().is_some_and(|s| {
                s.iter()
                    .all(|s| s["status"] == "success" || s["status"] == "skipped")
            })
        });
        if all_done {
            break Some(id);
        }
        args = vec!["resume".into(), id];
    };
    tally.chains += 1;
    let Some(last) = finished else {
        tally.damage(n, "no run was stored");
        return;
    };
    let (damage, recorded) = inspect(&site);
    for d in damage {
        tally.damage(n, format!("at the end: {d}"));
    }
    let m = site.manifest(&last).unwrap_or_default();
    let done = m["steps"].as_array().is_some_and(|s| {
        s.iter()
            .all(|s| s["status"] == "success" || s["status"] == "skipped")
    });
    if !done {
        tally.damage(n, format!("the last run {last} did not finish its steps"));
    }
    let successes = site
        .runs()
        .iter()
        .filter(|id| site.manifest(id).is_some_and(|m| m["status"] == "success"))
        .count();
    // (A last run killed once its steps were all done reads `interrupted`; as stored
    // it still says `running`, its holder being dead.)
    if successes > 1 || (successes == 0 && m["status"] != "interrupted" && m["status"] != "running")
    {
        tally.damage(n, format!("{successes} runs succeeded"));
    }
    let sends = site.sends();
    for p in 1..=payloads {
        let sent = sends.get(&p).copied().unwrap_or(0);
        if sent == 0 {
            tally.damage(n, format!("payload {p} never reached the sink"));
        }
        if !recorded.contains(&p) {
            tally.damage(
                n,
                format!("payload {p}: no stored run recorded its response"),
            );
        }
        match sent_when_recorded.get(&p) {
            Some(&then) if sent > then => tally.damage(
                n,
                format!(
                    "payload {p} was sent again after its response was stored ({then} → {sent})"
                ),
            ),
            _ => tally.redone += sent.saturating_sub(1),
        }
    }
    // Released by the last run: free for anyone, whatever host.
    let lock = String::from_utf8_lossy(&site.store.get("runs/c/.lock")).into_owned();
    let expires: u64 = lock
        .lines()
        .nth(2)
        .and_then(|l| l.parse().ok())
        .unwrap_or(u64::MAX);
    if expires > now_ms() {
        tally.damage(
            n,
            format!("the lock is still held after the chain: {lock:?}"),
        );
    }
    if !site.store.uploads_in_progress().is_empty() {
        // An abandoned multipart upload is invisible (and a lifecycle rule clears it).
        eprintln!("chain {n}: an abandoned multipart upload is left in the bucket");
    }
}

#[test]
fn killed_runs_on_s3_never_list_a_missing_object_and_resume_from_another_root_exactly_once() {
    if std::env::var_os("FLOWRUN_TEST_S3_ENDPOINT").is_none() {
        eprintln!("skipped: no FLOWRUN_TEST_S3_ENDPOINT (see README, crash campaign on S3)");
        return;
    }
    let kills = usize::try_from(env_number("FLOWRUN_S3_CRASH_KILLS", 5)).unwrap_or(5);
    let payloads = env_number("FLOWRUN_S3_CRASH_PAYLOADS", 24).max(1);
    let mb = env_number("FLOWRUN_S3_CRASH_MB", 9);
    let seed = env_number(
        "FLOWRUN_CRASH_SEED",
        u64::try_from(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
                % u128::from(u64::MAX),
        )
        .unwrap_or(1),
    );
    let pad = "x".repeat(usize::try_from((mb << 20) / payloads).unwrap_or(0));
    let items: Vec<Value> = (1..=payloads)
        .map(|i| serde_json::json!({"id": i, "v": i * 7 % 101, "pad": pad}))
        .collect();
    let data = serde_json::to_vec(&items).expect("data");
    eprintln!(
        "s3 crash campaign: seed {seed} (set FLOWRUN_CRASH_SEED to repeat), {kills} kills, {payloads} payloads, first output {} bytes",
        data.len()
    );
    let launcher = Project::new();
    let r = reference(&launcher, &data);
    eprintln!("reference run: {:.2}s", r.0.as_secs_f64());
    let mut rng = Rng::new(seed);
    let mut tally = Tally::default();
    while tally.kills < kills {
        let n = tally.chains + 1;
        chain(&launcher, &data, payloads, &r, &mut rng, n, &mut tally);
        if tally.chains < n {
            break;
        }
    }
    eprintln!(
        "s3 crash campaign: seed {seed}: {} kills over {} chains",
        tally.kills, tally.chains
    );
    for (place, count) in &tally.landed {
        eprintln!("  {count:>4}  {place}");
    }
    eprintln!(
        "  re-done after kill (sent, not yet recorded): {} payloads",
        tally.redone
    );
    assert!(
        tally.damage.is_empty(),
        "seed {seed}: damage found:\n{}",
        tally.damage.join("\n")
    );
}
