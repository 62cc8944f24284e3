//! Crash campaign (issue 6): a six-step run over hundreds of payloads is killed with
//! SIGKILL at seeded random moments. After every kill the trail must be whole (every
//! manifest parses, `verify` passes, no half-written file sits under a final name, the run
//! reads as `interrupted`), and `resume` must finish the work so that the outputs equal
//! those of an uninterrupted run, with no side effect repeated for a payload whose output
//! was recorded and none missing.
//!
//! A payload whose side effect happened but whose output was not recorded yet when the
//! kill came is legitimately done again by `resume` (the store cannot know about it);
//! those are counted apart as "re-done after kill (unrecorded)".
//!
//! After every kill the output folder of the `write` step is checked too: a kill may
//! leave the temporary file of the write in flight (named for its flow, step and run), but
//! once a later run has written there, no leftover of an earlier run may remain, and none
//! at all once the chain is done.
//!
//! Settings (environment): `FLOWRUN_CRASH_KILLS` (kills per test; default 5),
//! `FLOWRUN_CRASH_SEED` (default: from the clock; always printed), `FLOWRUN_CRASH_PAYLOADS`
//! (default 120; the full campaign uses 300), `FLOWRUN_CRASH_DIR` (where the projects live; default `/dev/shm` when it
//! is writable, else the temporary folder). SIGKILL kills the process, not the machine: the
//! page cache survives, so what a reader finds after the kill does not depend on the file
//! system, and a tmpfs keeps the campaign fast (fsync costs nothing there).

use crate::support::{Cmd, Project, s3};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// read → split (size 1) → a pure map → a command with a side effect (a line in
/// `call.log`) → filter → write with `{n}`.
const FLOW: &str = r#"[[steps]]
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
jq = '.[0] | {id, sq: (.v * .v), tag: ("p" + (.id | tostring))}'

[[steps]]
id = "call"
kind = "command"
run = ["sh", "-c", "read -r x; echo \"$FLOWRUN_RUN $FLOWRUN_PAYLOAD $x\" >> call.log; echo \"{\\\"done\\\": $x}\""]

[[steps]]
id = "keep"
kind = "filter"
jq = '.done.id % 3 != 0'

[[steps]]
id = "save"
kind = "write"
path = "out/{n}.json"
"#;

/// The line that ends a trimmed payload file.
const TRIMMED_MARK: &[u8] = b"\n[trimmed]\n";

/// A tiny seeded generator (xorshift64): the same seed gives the same moments.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        // Never zero, and nearby seeds start far apart.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// A moment in `from..to`.
    pub(crate) fn between(&mut self, from: Duration, to: Duration) -> Duration {
        let span = to.saturating_sub(from).as_micros().max(1);
        from + Duration::from_micros(self.below(u64::try_from(span).unwrap_or(u64::MAX)))
    }
}

/// The campaign's settings.
struct Config {
    kills: usize,
    seed: u64,
    payloads: usize,
    base: PathBuf,
}

fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    Some(
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text} is not a number")),
    )
}

impl Config {
    fn from_env() -> Config {
        let seed = env_number("FLOWRUN_CRASH_SEED").unwrap_or_else(|| {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            u64::try_from(now.as_nanos() % u128::from(u64::MAX)).unwrap_or(1)
        });
        let shm = Path::new("/dev/shm");
        let base = std::env::var_os("FLOWRUN_CRASH_DIR").map_or_else(
            || {
                let usable = tempfile::tempdir_in(shm).is_ok();
                if usable {
                    shm.to_path_buf()
                } else {
                    std::env::temp_dir()
                }
            },
            PathBuf::from,
        );
        Config {
            kills: env_number("FLOWRUN_CRASH_KILLS").map_or(5, |n| usize::try_from(n).unwrap_or(5)),
            seed,
            payloads: env_number("FLOWRUN_CRASH_PAYLOADS")
                .map_or(120, |n| usize::try_from(n).unwrap_or(120)),
            base,
        }
    }
}

/// One project folder for one chain of kills; with `FLOWRUN_TEST_STORE=s3`, with its own
/// bucket (one bucket per folder, as one working copy per store) and a folder its objects
/// are copied to, so that the checks read what the store holds.
struct Site {
    dir: tempfile::TempDir,
    store: Option<(s3::TestStore, tempfile::TempDir)>,
}

impl Site {
    fn new(cfg: &Config) -> Site {
        let dir = tempfile::Builder::new()
            .prefix("flowrun-crash-")
            .tempdir_in(&cfg.base)
            .expect("campaign folder");
        std::fs::create_dir_all(dir.path().join("flows")).expect("flows dir");
        std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
        std::fs::write(dir.path().join("flows/c.toml"), FLOW).expect("flow file");
        let items: Vec<Value> = (1..=cfg.payloads)
            .map(|i| serde_json::json!({"id": i, "v": (i * 7) % 101, "name": format!("item-{i}")}))
            .collect();
        std::fs::write(
            dir.path().join("data/in.json"),
            serde_json::to_vec(&items).expect("data"),
        )
        .expect("data file");
        Site {
            dir,
            store: s3::TestStore::for_test().map(|s| (s, tempfile::tempdir().expect("mirror dir"))),
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A `flowrun` command run in this folder, on its store.
    fn cmd(&self, launcher: &Project, args: &[&str]) -> Cmd {
        let mut cmd = launcher.cmd(args).cwd(self.root());
        for (k, v) in self
            .store
            .as_ref()
            .map(|(s, _)| s.env())
            .unwrap_or_default()
        {
            cmd = cmd.env(&k, &v);
        }
        cmd
    }

    /// Where the checks read `runs/`: the folder's own, or on S3 a fresh copy of the
    /// stored objects.
    fn runs(&self) -> PathBuf {
        match &self.store {
            Some((store, mirror)) => {
                store.sync_down(mirror.path());
                mirror.path().join("runs")
            }
            None => self.root().join("runs"),
        }
    }

    fn run_dir(&self, id: &str) -> PathBuf {
        self.runs().join("c").join(id)
    }

    /// Run ids, oldest first.
    fn run_ids(&self) -> Vec<String> {
        crate::support::run_ids_in(&self.runs().join("c"))
    }

    fn manifest(&self, id: &str) -> Option<Value> {
        let text = std::fs::read(self.run_dir(id).join("manifest.json")).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Every file under `rel` with its bytes (temporary files left out).
    fn files(&self, rel: &str) -> BTreeMap<String, Vec<u8>> {
        let base = match rel.strip_prefix("runs/") {
            Some(under) => self.runs().join(under),
            None => self.root().join(rel),
        };
        let mut out = BTreeMap::new();
        for entry in walkdir::WalkDir::new(&base).into_iter().flatten() {
            if !entry.file_type().is_file()
                || entry.file_name().to_string_lossy().starts_with(".tmp-")
            {
                continue;
            }
            let rel = entry
                .path()
                .strip_prefix(&base)
                .expect("inside")
                .to_string_lossy()
                .into_owned();
            out.insert(rel, std::fs::read(entry.path()).unwrap_or_default());
        }
        out
    }

    /// Temporary files in `out/` (the `write` step's, or any other hidden temporary name).
    fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.root().join("out"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".flowrun-tmp.") || n.starts_with(".tmp-"))
            .collect()
    }

    /// How many inputs run `id`'s `write` step handled itself (not reused).
    fn wrote(&self, id: &str) -> u64 {
        self.manifest(id).map_or(0, |m| {
            let s = &m["steps"][5];
            s["inputs_done"].as_u64().unwrap_or(0) - s["reused"].as_u64().unwrap_or(0)
        })
    }

    /// Lines of `call.log` as (run id, payload id).
    fn calls(&self) -> Vec<(String, u64)> {
        let text = std::fs::read_to_string(self.root().join("call.log")).unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let mut parts = line.splitn(3, ' ');
                let run = parts.next()?.to_owned();
                let _n = parts.next()?;
                let v: Value = serde_json::from_str(parts.next()?).ok()?;
                Some((run, v["id"].as_u64()?))
            })
            .collect()
    }

    /// The payload ids whose `call` output run `id` recorded in its manifest.
    fn recorded_calls(&self, id: &str) -> BTreeSet<u64> {
        let Some(m) = self.manifest(id) else {
            return BTreeSet::new();
        };
        let dir = self.run_dir(id);
        m["steps"][3]["payloads"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let bytes = std::fs::read(dir.join(p["file"].as_str()?)).ok()?;
                let v: Value = serde_json::from_slice(&bytes).ok()?;
                v["done"]["id"].as_u64()
            })
            .collect()
    }
}

/// What an uninterrupted run produced, and when its steps ran.
struct Reference {
    took: Duration,
    /// Step windows, from the start of the process.
    windows: Vec<(Duration, Duration)>,
    out: BTreeMap<String, Vec<u8>>,
    save: Vec<(String, Value, Value, Vec<u8>)>,
}

fn since(start: SystemTime, stamp: &Value) -> Duration {
    let t = stamp
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map_or(start, SystemTime::from);
    t.duration_since(start).unwrap_or_default()
}

/// The last step's records (file, bytes, blake3) with the file's bytes.
fn save_records(site: &Site, id: &str) -> Vec<(String, Value, Value, Vec<u8>)> {
    let m = site.manifest(id).unwrap_or_default();
    m["steps"][5]["payloads"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let file = p["file"].as_str().unwrap_or_default().to_owned();
            let bytes = std::fs::read(site.run_dir(id).join(&file)).unwrap_or_default();
            (file, p["bytes"].clone(), p["blake3"].clone(), bytes)
        })
        .collect()
}

fn reference(launcher: &Project, cfg: &Config) -> Reference {
    let site = Site::new(cfg);
    let wall = SystemTime::now();
    let start = Instant::now();
    site.cmd(launcher, &["run", "c"]).run().ok();
    let took = start.elapsed();
    let id = site.run_ids().pop().expect("the reference run");
    let m = site.manifest(&id).expect("reference manifest");
    let windows = m["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                since(wall, &s["started_at"]),
                since(wall, &s["finished_at"]),
            )
        })
        .collect();
    let calls = site.calls();
    assert_eq!(
        calls.len(),
        cfg.payloads,
        "the reference run's side effects"
    );
    Reference {
        took,
        windows,
        out: site.files("out"),
        save: save_records(&site, &id),
    }
}

/// What was found, over the whole campaign.
#[derive(Default)]
struct Tally {
    kills: usize,
    landed: BTreeMap<String, usize>,
    redone: usize,
    damage: Vec<String>,
    chains: usize,
}

impl Tally {
    fn damage(&mut self, chain: usize, what: impl Into<String>) {
        let what = what.into();
        eprintln!("  DAMAGE (chain {chain}): {what}");
        self.damage.push(format!("chain {chain}: {what}"));
    }

    fn summary(&self, cfg: &Config) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "crash campaign: seed {} ({} payloads, projects in {})",
            cfg.seed,
            cfg.payloads,
            cfg.base.display()
        );
        let _ = writeln!(
            s,
            "  kills made: {} over {} chains",
            self.kills, self.chains
        );
        for (place, n) in &self.landed {
            let _ = writeln!(s, "    {n:>4}  {place}");
        }
        let _ = writeln!(
            s,
            "  re-done after kill (unrecorded): {} payloads",
            self.redone
        );
        let _ = writeln!(s, "  damage found: {}", self.damage.len());
        for d in &self.damage {
            let _ = writeln!(s, "    {d}");
        }
        s
    }
}

/// A moment to kill at: half uniformly over the whole run, half inside one step (or the
/// start-up before the first, or the finish after the last), so short steps get hit too.
/// A resume does its own bookkeeping first (storing its input, copying reused outputs),
/// so half of the kills of a resume land in its first 300 ms.
fn moment(rng: &mut Rng, r: &Reference, resume: bool) -> Duration {
    if resume && rng.below(2) == 0 {
        return rng.between(Duration::ZERO, r.took.min(Duration::from_millis(300)));
    }
    if rng.below(2) == 0 {
        return rng.between(Duration::ZERO, r.took);
    }
    let pick = usize::try_from(rng.below(r.windows.len() as u64 + 2)).unwrap_or(0);
    let (from, to) = match pick {
        0 => (Duration::ZERO, r.windows[0].0),
        p if p <= r.windows.len() => r.windows[p - 1],
        _ => (r.windows[r.windows.len() - 1].1, r.took),
    };
    rng.between(from, to + Duration::from_millis(2))
}

/// Where a kill landed, from what the run store says.
fn landing(site: &Site, id: Option<&str>, resume: bool) -> String {
    let prefix = if resume { "resume: " } else { "" };
    let Some(id) = id else {
        return format!("{prefix}before the run folder existed");
    };
    let Some(m) = site.manifest(id) else {
        return format!("{prefix}run folder without a manifest");
    };
    let steps = m["steps"].as_array().cloned().unwrap_or_default();
    if m["status"] == "success" {
        return format!("{prefix}after the run finished");
    }
    let stored_inputs = site.files(&format!("runs/c/{id}/input")).len();
    if m["input"].as_array().is_some_and(Vec::is_empty) && stored_inputs > 0 {
        return format!("{prefix}storing its input");
    }
    if let Some(s) = steps.iter().find(|s| s["status"] == "running") {
        let reused = s["reused"].as_u64().unwrap_or(0);
        let what = if reused > 0 && reused == s["inputs_done"].as_u64().unwrap_or(0) {
            " (copying reused outputs)"
        } else {
            ""
        };
        return format!("{prefix}in step {}{what}", s["id"].as_str().unwrap_or("?"));
    }
    let done: Vec<&Value> = steps
        .iter()
        .filter(|s| s["status"] == "success" || s["status"] == "skipped")
        .collect();
    match (done.len(), steps.len()) {
        (0, _) => format!("{prefix}start-up (no step started)"),
        (d, n) if d == n => format!("{prefix}every step done, run status not yet written"),
        (d, _) => format!(
            "{prefix}between steps {} and {}",
            steps[d - 1]["id"].as_str().unwrap_or("?"),
            steps[d]["id"].as_str().unwrap_or("?")
        ),
    }
}

/// The checks made after every kill; returns the damage found.
fn inspect(launcher: &Project, site: &Site, id: &str) -> Vec<String> {
    let mut damage = Vec::new();
    for run in site.run_ids() {
        match site.manifest(&run) {
            None => damage.push(format!("run {run}: manifest.json missing or not JSON")),
            Some(m) if m["format"] != "flowrun.run/1" => {
                damage.push(format!("run {run}: manifest format is {}", m["format"]));
            }
            Some(_) => {}
        }
        for (rel, bytes) in site.files(&format!("runs/c/{run}")) {
            let payload = rel.starts_with("steps/") || rel.starts_with("input/");
            if (payload || rel == "manifest.json")
                && Path::new(&rel).extension().is_some_and(|e| e == "json")
                && !bytes.ends_with(TRIMMED_MARK)
                && serde_json::from_slice::<Value>(&bytes).is_err()
            {
                damage.push(format!("run {run}: {rel} is half-written (not JSON)"));
            }
        }
    }
    for (rel, bytes) in site.files("out") {
        if serde_json::from_slice::<Value>(&bytes).is_err() {
            damage.push(format!("out/{rel} is half-written (not JSON)"));
        }
    }
    // A leftover of the write in flight is expected; one of an earlier run must be gone
    // once a later run has written to the folder.
    let runs = site.run_ids();
    for name in site.leftovers() {
        let Some(at) = runs
            .iter()
            .position(|r| name.starts_with(&format!(".flowrun-tmp.c.save.{r}.")))
        else {
            damage.push(format!("out/{name}: a temporary file that names no run"));
            continue;
        };
        if let Some(later) = runs[at + 1..].iter().find(|r| site.wrote(r) > 0) {
            damage.push(format!(
                "out/{name}: left over from run {} although run {later} wrote to out/ since",
                runs[at]
            ));
        }
    }
    let verify = site.cmd(launcher, &["verify"]).run();
    if verify.code != 0 {
        damage.push(format!(
            "verify exited {}: {}{}",
            verify.code, verify.stdout, verify.stderr
        ));
    }
    let shown = site.cmd(launcher, &["show", id, "--json"]).run();
    if shown.code == 0 {
        let status = shown.json()["status"].clone();
        if status != "interrupted" && status != "success" {
            damage.push(format!("run {id} reads as {status} after the kill"));
        }
    } else {
        damage.push(format!("show {id} exited {}: {}", shown.code, shown.stderr));
    }
    damage
}

/// Starts `args` and kills it with SIGKILL `after` from now (unless it ended before).
/// Returns whether the kill happened.
fn run_and_kill(launcher: &Project, site: &Site, args: &[&str], after: Duration) -> bool {
    let mut running = site.cmd(launcher, args).spawn();
    let deadline = Instant::now() + after;
    loop {
        if running.has_exited() {
            let out = running.wait();
            assert!(
                !out.stderr.contains("panicked"),
                "flowrun {args:?} panicked:\n{}",
                out.stderr
            );
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            running.kill();
            return true;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(2)));
    }
}

/// The run ids that are new since `before`.
fn new_run(site: &Site, before: &[String]) -> Option<String> {
    site.run_ids().into_iter().find(|id| !before.contains(id))
}

/// Checks the side effects over a whole chain: every payload's effect happened, and
/// none was repeated once its output was recorded. Returns the re-done count.
fn check_effects(site: &Site, cfg: &Config, chain: usize, tally: &mut Tally) -> usize {
    let mut recorded: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for run in site.run_ids() {
        let ids = site.recorded_calls(&run);
        recorded.insert(run, ids);
    }
    let mut by_payload: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for (run, id) in site.calls() {
        by_payload.entry(id).or_default().push(run);
    }
    let mut redone = 0;
    // Payload ids per kind of damage, with the runs involved.
    let mut found: BTreeMap<&str, (Vec<u64>, BTreeSet<String>)> = BTreeMap::new();
    for id in 1..=cfg.payloads as u64 {
        let runs = by_payload.remove(&id).unwrap_or_default();
        let with_record = runs
            .iter()
            .filter(|r| recorded.get(*r).is_some_and(|s| s.contains(&id)))
            .count();
        let kind = match (runs.len(), with_record) {
            (0, _) => "their command never ran (missing)",
            (_, 0) => "no run recorded the output of their command",
            (_, 1) => {
                redone += runs.len() - 1;
                continue;
            }
            _ => "their command ran again after their output was recorded",
        };
        let entry = found.entry(kind).or_default();
        entry.0.push(id);
        entry.1.extend(runs);
    }
    for (kind, (ids, runs)) in found {
        let runs: Vec<String> = runs.into_iter().collect();
        tally.damage(
            chain,
            format!(
                "payloads {} ({} of them): {kind} (runs {})",
                ranges(&ids),
                ids.len(),
                runs.join(", ")
            ),
        );
    }
    for id in by_payload.keys() {
        tally.damage(chain, format!("unknown payload {id} in call.log"));
    }
    redone
}

/// `1-3, 7, 9-10` for `[1, 2, 3, 7, 9, 10]` (sorted).
fn ranges(ids: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            ids[i].to_string()
        } else {
            format!("{}-{}", ids[i], ids[j])
        });
        i = j + 1;
    }
    parts.join(", ")
}

/// One chain: a run killed at a random moment; then, with `kill_resumes`, possibly its
/// resume killed too (up to three kills), and a final resume to the end.
fn chain(
    launcher: &Project,
    cfg: &Config,
    r: &Reference,
    rng: &mut Rng,
    n: usize,
    kill_resumes: bool,
    tally: &mut Tally,
) {
    let site = Site::new(cfg);
    let mut args: Vec<String> = vec!["run".into(), "c".into()];
    let mut kills_here = 0;
    let finished = loop {
        let before = site.run_ids();
        let may_kill = kills_here == 0 || (kill_resumes && kills_here < 3 && rng.below(2) == 0);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        if !may_kill {
            let out = site.cmd(launcher, &argv).run();
            let id = new_run(&site, &before);
            if out.code != 0 {
                tally.damage(
                    n,
                    format!(
                        "`flowrun {}` exited {}: {}",
                        args.join(" "),
                        out.code,
                        out.stderr.trim()
                    ),
                );
                return;
            }
            break id;
        }
        let at = moment(rng, r, args[0] == "resume");
        if !run_and_kill(launcher, &site, &argv, at) {
            // It ended before the moment came: a whole run.
            break new_run(&site, &before);
        }
        kills_here += 1;
        tally.kills += 1;
        let id = new_run(&site, &before);
        let place = landing(&site, id.as_deref(), args[0] == "resume");
        eprintln!(
            "chain {n}: kill {} at {:.3}s: {place}",
            tally.kills,
            at.as_secs_f64()
        );
        *tally.landed.entry(place.clone()).or_default() += 1;
        let Some(id) = id else {
            // Nothing was started: try the same command again.
            continue;
        };
        for d in inspect(launcher, &site, &id) {
            tally.damage(n, format!("after a kill {place}: {d}"));
        }
        let status = site.manifest(&id).map(|m| m["status"].clone());
        let all_done = site.manifest(&id).is_some_and(|m| {
            m["steps"].as_array().is_some_and(|s| {
                s.iter()
                    .all(|s| s["status"] == "success" || s["status"] == "skipped")
            })
        });
        if status.is_some_and(|s| s == "success") || all_done {
            break Some(id);
        }
        args = vec!["resume".into(), id];
    };
    tally.chains += 1;
    let Some(last) = finished else {
        tally.damage(n, "no run finished");
        return;
    };
    final_checks(launcher, cfg, &site, r, &last, n, tally);
}

/// After a chain: the outputs equal the reference run's, the trail verifies, and every
/// payload's side effect happened once (plus re-dos of effects a kill left unrecorded).
fn final_checks(
    launcher: &Project,
    cfg: &Config,
    site: &Site,
    r: &Reference,
    last: &str,
    n: usize,
    tally: &mut Tally,
) {
    let out = site.files("out");
    if out != r.out {
        let missing: Vec<&String> = r.out.keys().filter(|k| !out.contains_key(*k)).collect();
        let extra: Vec<&String> = out.keys().filter(|k| !r.out.contains_key(*k)).collect();
        let changed: Vec<&String> = out
            .iter()
            .filter(|(k, v)| r.out.get(*k).is_some_and(|w| w != *v))
            .map(|(k, _)| k)
            .collect();
        tally.damage(
            n,
            format!("out/ differs from the reference: missing {missing:?}, extra {extra:?}, changed {changed:?}"),
        );
    }
    let save = save_records(site, last);
    if save != r.save {
        tally.damage(
            n,
            format!(
                "run {last}: the last step's payloads differ from the reference ({} vs {})",
                save.len(),
                r.save.len()
            ),
        );
    }
    let verify = site.cmd(launcher, &["verify"]).run();
    if verify.code != 0 {
        tally.damage(
            n,
            format!("final verify exited {}: {}", verify.code, verify.stderr),
        );
    }
    let left = site.leftovers();
    if !left.is_empty() {
        tally.damage(n, format!("out/ still holds temporary files: {left:?}"));
    }
    let redone = check_effects(site, cfg, n, tally);
    if redone > 0 {
        eprintln!("chain {n}: {redone} payloads re-done after a kill (unrecorded)");
    }
    tally.redone += redone;
}

fn campaign(kill_resumes: bool) {
    let cfg = Config::from_env();
    let launcher = Project::new();
    eprintln!(
        "crash campaign: seed {} (set FLOWRUN_CRASH_SEED to repeat), {} kills, {} payloads, in {}{}",
        cfg.seed,
        cfg.kills,
        cfg.payloads,
        cfg.base.display(),
        if kill_resumes {
            ", resumes killed too"
        } else {
            ""
        }
    );
    let r = reference(&launcher, &cfg);
    eprintln!("reference run: {:.2}s", r.took.as_secs_f64());
    let mut rng = Rng::new(cfg.seed ^ u64::from(kill_resumes));
    let mut tally = Tally::default();
    let mut n = 0;
    while tally.kills < cfg.kills {
        n += 1;
        chain(&launcher, &cfg, &r, &mut rng, n, kill_resumes, &mut tally);
    }
    let summary = tally.summary(&cfg);
    eprintln!("{summary}");
    assert!(tally.damage.is_empty(), "{summary}");
}

#[test]
fn killed_runs_keep_a_whole_trail_and_resume_exactly_once() {
    campaign(false);
}

#[test]
fn killed_resumes_resume_exactly_once_too() {
    campaign(true);
}

// ---------------------------------------------------------------------------------
// Routed payloads (issue 15): a run with a `route` step killed at random moments, then
// resumed (resumes killed too) until it succeeds. Every routed payload must end in
// exactly one successful child run of the right flow, linked from the final run, and no
// child run may be lost or run twice. `FLOWRUN_CRASH_ROUTE_PAYLOADS` (default 8) sets
// the number of payloads; `FLOWRUN_CRASH_KILLS` and `FLOWRUN_CRASH_SEED` apply too.

/// read → split (size 1) → map → route by parity into `even` / `odd`.
const ROUTED: &str = r#"[[steps]]
id = "load"
kind = "read"
path = "data/in.json"

[[steps]]
id = "one"
kind = "split"
size = 1

[[steps]]
id = "item"
kind = "map"
jq = '.[0]'

[[steps]]
id = "to"
kind = "route"
routes = [{ when = '.id % 2 == 0', flow = "even" }]
otherwise = "odd"
"#;

/// A child flow whose command leaves a side effect (a line in `<name>.log`).
fn routed_child(name: &str) -> String {
    format!(
        r#"[[steps]]
id = "send"
kind = "command"
run = ["sh", "-c", "read -r x; echo \"$FLOWRUN_RUN $x\" >> {name}.log; echo \"$x\""]
"#
    )
}

/// The successful runs of `flow` under `root`, with the `id` of their input payload.
fn successful_children(site: &Site, flow: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let runs = site.runs();
    for id in crate::support::run_ids_in(&runs.join(flow)) {
        let dir = runs.join(flow).join(&id);
        let Ok(text) = std::fs::read(dir.join("manifest.json")) else {
            continue;
        };
        let m: Value = serde_json::from_slice(&text).expect("child manifest parses");
        if m["status"] != "success" {
            continue;
        }
        let input: Value = serde_json::from_slice(
            &std::fs::read(dir.join("input/000001.json")).expect("child input"),
        )
        .expect("child input parses");
        out.push((id, input["id"].as_u64().expect("an id")));
    }
    out
}

/// Runs `argv` until a run of it ends without being killed, killing it (and the
/// resumes after it) at random moments first. Returns the kills made.
fn routed_chain(launcher: &Project, site: &Site, rng: &mut Rng, reference: Duration) -> usize {
    let mut kills = 0;
    let mut argv: Vec<String> = vec!["run".into(), "r".into()];
    for _ in 0..20 {
        let may_kill = kills == 0 || (kills < 3 && rng.below(2) == 0);
        let args: Vec<&str> = argv.iter().map(String::as_str).collect();
        let at = rng.between(Duration::from_millis(5), reference);
        if may_kill && run_and_kill(launcher, site, &args, at) {
            kills += 1;
        } else if !may_kill {
            let out = site.cmd(launcher, &args).run();
            assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
            // Killed after its last step was recorded but before the run was: every
            // step is done, nothing is left to resume.
            if out
                .stderr
                .contains("has no failed or unfinished step to resume")
            {
                return kills;
            }
            assert_eq!(out.code, 0, "flowrun {args:?}:\n{}", out.stderr);
        }
        let ids = crate::support::run_ids_in(&site.runs().join("r"));
        let Some(last) = ids.last() else {
            // Killed before the run folder existed: start again.
            continue;
        };
        let m: Value = serde_json::from_slice(
            &std::fs::read(site.run_dir_of("r", last).join("manifest.json")).expect("manifest"),
        )
        .expect("manifest parses");
        if m["status"] == "success" {
            return kills;
        }
        argv = vec!["resume".into(), last.clone()];
    }
    panic!("the routed run did not finish after 20 runs and resumes");
}

impl Site {
    fn run_dir_of(&self, flow: &str, id: &str) -> PathBuf {
        self.runs().join(flow).join(id)
    }
}

#[test]
#[allow(clippy::too_many_lines, reason = "one campaign: set up, kill, check")]
fn killed_route_runs_lose_no_child_run_and_run_none_twice() {
    let cfg = Config::from_env();
    let payloads = env_number("FLOWRUN_CRASH_ROUTE_PAYLOADS").unwrap_or(8);
    eprintln!(
        "route crash campaign: seed {} (set FLOWRUN_CRASH_SEED to repeat), {} kills, {payloads} payloads",
        cfg.seed, cfg.kills
    );
    let launcher = Project::new();
    let mut rng = Rng::new(cfg.seed ^ 0x0072_6f75_7465);
    let make = || {
        let site = Site::new(&cfg);
        std::fs::write(site.root().join("flows/r.toml"), ROUTED).expect("flow");
        std::fs::write(site.root().join("flows/even.toml"), routed_child("even")).expect("flow");
        std::fs::write(site.root().join("flows/odd.toml"), routed_child("odd")).expect("flow");
        let items: Vec<Value> = (1..=payloads)
            .map(|i| serde_json::json!({"id": i}))
            .collect();
        std::fs::write(
            site.root().join("data/in.json"),
            serde_json::to_vec(&items).expect("data"),
        )
        .expect("data");
        site
    };
    // How long an uninterrupted run takes: kills land within it.
    let site = make();
    let start = Instant::now();
    let out = site.cmd(&launcher, &["run", "r"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let reference = start.elapsed();
    let mut kills = 0;
    let mut redone = 0;
    let mut chains = 0;
    while kills < cfg.kills {
        chains += 1;
        let site = make();
        kills += routed_chain(&launcher, &site, &mut rng, reference);
        let root = site.root();
        // Exactly one successful child run per payload, in the right flow.
        let mut by_id: BTreeMap<u64, Vec<(String, String)>> = BTreeMap::new();
        for flow in ["even", "odd"] {
            for (run, id) in successful_children(&site, flow) {
                by_id.entry(id).or_default().push((flow.to_owned(), run));
            }
        }
        for id in 1..=payloads {
            let want = if id % 2 == 0 { "even" } else { "odd" };
            let got = by_id.get(&id).cloned().unwrap_or_default();
            assert!(
                got.len() == 1 && got[0].0 == want,
                "chain {chains} (seed {}): payload {id} ended in successful child runs {got:?}, want exactly one of `{want}`",
                cfg.seed
            );
        }
        // The final run links each payload to that child run.
        let last = crate::support::run_ids_in(&site.runs().join("r"))
            .pop()
            .expect("a run");
        let m: Value = serde_json::from_slice(
            &std::fs::read(site.run_dir_of("r", &last).join("manifest.json")).expect("manifest"),
        )
        .expect("manifest parses");
        // (When the last kill came after every step was done, that run reads
        // `interrupted` with all its steps successful.)
        assert!(
            m["steps"]
                .as_array()
                .expect("steps")
                .iter()
                .all(|s| s["status"] == "success" || s["status"] == "skipped"),
            "chain {chains}: the final run did not finish its steps"
        );
        let links = m["steps"][3]["children"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let linked: BTreeSet<String> = links
            .iter()
            .filter(|l| l["status"] == "success")
            .filter_map(|l| l["run_id"].as_str().map(str::to_owned))
            .collect();
        let succeeded: BTreeSet<String> =
            by_id.values().flatten().map(|(_, r)| r.clone()).collect();
        assert_eq!(
            linked, succeeded,
            "chain {chains} (seed {}): links of the final run",
            cfg.seed
        );
        // Side effects: once per payload from its successful child run; more only from
        // child runs a kill cut off before they recorded their output.
        for flow in ["even", "odd"] {
            let log = std::fs::read_to_string(root.join(format!("{flow}.log"))).unwrap_or_default();
            for line in log.lines() {
                let run = line.split(' ').next().unwrap_or_default();
                if !succeeded.contains(run) {
                    redone += 1;
                }
            }
            let from_successful = log
                .lines()
                .filter(|l| succeeded.contains(l.split(' ').next().unwrap_or_default()))
                .count();
            let want = (1..=payloads)
                .filter(|i| (i % 2 == 0) == (flow == "even"))
                .count();
            assert_eq!(
                from_successful, want,
                "chain {chains} (seed {}): side effects of `{flow}`",
                cfg.seed
            );
        }
        let verify = site.cmd(&launcher, &["verify"]).run();
        assert_eq!(
            verify.code, 0,
            "chain {chains}: verify\n{}\n{}",
            verify.stdout, verify.stderr
        );
    }
    eprintln!(
        "route crash campaign: {kills} kills over {chains} chains; {redone} side effects re-done by child runs a kill cut off"
    );
}
