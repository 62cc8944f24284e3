//! Nothing lost in silence: reads that find nothing, odd file names and contents, inbox
//! links, FIFOs in the run store, deep payloads, byte-exact skip edits, the run index.

use crate::support::{Output, Project, Tamper, not_on_s3};
use serde_json::{Value, json};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Safety net for things that should happen within a second or two.
const PATIENCE: Duration = Duration::from_secs(15);

fn read_flow(path: &str, extra: &str) -> String {
    format!("[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"{path}\"\n{extra}")
}

/// Runs `flowrun args` and kills it if it has not finished within [`PATIENCE`]: a
/// command blocked on a FIFO fails the test instead of hanging it.
#[track_caller]
fn run_bounded(p: &Project, args: &[&str]) -> Output {
    let mut running = p.cmd(args).spawn();
    let start = Instant::now();
    while !running.has_exited() {
        if start.elapsed() > PATIENCE {
            running.kill();
            panic!("flowrun {} hung", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = running.wait();
    assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
    output
}

fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo")
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

#[test]
fn a_read_matching_no_file_fails_naming_the_path_unless_allowed() {
    let p = Project::new();
    p.file("data/orders.json", "[1]")
        .flow("typo", &read_flow("data/ordrs.json", ""))
        .flow("glob", &read_flow("exports/*.json", ""))
        .flow("fine", &read_flow("exports/*.json", "allow_empty = true\n"));
    // The files may appear before the run: `check` does not look at the disk.
    p.cmd(&["check"]).run().ok();
    p.cmd(&["run", "typo"])
        .run()
        .code(1)
        .stderr_has("no file matches path = \"data/ordrs.json\" (looked in data/)")
        .stderr_has("allow_empty = true");
    p.cmd(&["run", "glob"]).run().code(1).stderr_has(
        "no file matches path = \"exports/*.json\" (looked in exports/, which does not exist)",
    );
    p.cmd(&["run", "fine"]).run().ok();
    assert_eq!(p.outputs("fine", "load"), Vec::<Value>::new());
    p.flow("bad", &read_flow("data/*.json", "allow_empty = \"yes\"\n"));
    p.cmd(&["check", "bad"])
        .run()
        .code(2)
        .stderr_has("allow_empty");
}

#[test]
fn a_read_of_a_folder_is_an_error_with_a_hint() {
    let p = Project::new();
    p.file("data/a.csv", "id\n1\n")
        .flow("dir", &read_flow("data", "format = \"csv\"\n"));
    p.cmd(&["run", "dir"])
        .run()
        .code(1)
        .stderr_has("path = \"data\" is a folder, not a file; did you mean \"data/*.csv\"?");
}

#[test]
fn a_read_glob_reads_a_file_whose_name_is_not_utf8() {
    let p = Project::new();
    p.file("data/a.json", "[1]")
        .flow("f", &read_flow("data/*.json", ""));
    let odd = p
        .root()
        .join("data")
        .join(OsStr::from_bytes(b"caf\xe9.json"));
    std::fs::write(&odd, "[2]").unwrap();
    p.cmd(&["run", "f"]).run().ok();
    assert_eq!(p.outputs("f", "load"), [json!([1]), json!([2])]);
    // Errors in it name it (lossily).
    std::fs::write(&odd, "[2").unwrap();
    p.cmd(&["run", "f"])
        .run()
        .code(1)
        .stderr_has("data/caf\u{fffd}.json:1:2: not valid JSON");
}

#[test]
fn csv_with_a_repeated_header_is_refused() {
    let p = Project::new();
    p.file("data/x.csv", "id,name,id\n1,a,2\n")
        .flow("c", &read_flow("data/*.csv", "format = \"csv\"\n"));
    p.cmd(&["run", "c"])
        .run()
        .code(1)
        .stderr_has("data/x.csv:1: the CSV header `id` is repeated (columns 1 and 3)");
}

#[test]
fn an_integer_beyond_64_bits_is_refused_naming_it() {
    let p = Project::new();
    p.file(
        "data/big.json",
        "{\"ok\": 18446744073709551615,\n \"n\": 1180591620717411303424}",
    )
    .file("data/float.json", "[1.180591620717411303424e21]")
    .flow("big", &read_flow("data/big.json", ""))
    .flow("float", &read_flow("data/float.json", ""))
    .flow("nd", &read_flow("data/big.ndjson", "format = \"ndjson\"\n"))
    .file("data/big.ndjson", "1\n-99999999999999999999\n");
    p.cmd(&["run", "big"]).run().code(1).stderr_has(
        "data/big.json:2:7: the integer 1180591620717411303424 does not fit in 64 bits",
    );
    p.cmd(&["run", "nd"])
        .run()
        .code(1)
        .stderr_has("data/big.ndjson:2:1: the integer -99999999999999999999 does not fit");
    p.cmd(&["run", "float"]).run().ok();
    p.file("in.json", "[1180591620717411303424]");
    p.cmd(&["run", "float", "--input", "in.json"])
        .run()
        .code(2)
        .stderr_has("in.json:1:2: the integer 1180591620717411303424");
}

#[test]
fn json_with_a_byte_order_mark_is_read() {
    let p = Project::new();
    p.bytes_file("data/bom.json", b"\xef\xbb\xbf{\"a\": 1}\n")
        .bytes_file(
            "data/bom.ndjson",
            b"\xef\xbb\xbf{\"a\": 1}\r\n{\"a\": 2}\r\n",
        )
        .flow("j", &read_flow("data/bom.json", ""))
        .flow("n", &read_flow("data/bom.ndjson", "format = \"ndjson\"\n"));
    p.cmd(&["run", "j"]).run().ok();
    assert_eq!(p.outputs("j", "load"), [json!({"a": 1})]);
    p.cmd(&["run", "n"]).run().ok();
    assert_eq!(p.outputs("n", "load"), [json!([{"a": 1}, {"a": 2}])]);
}

/// A `flowrun watch` process whose stderr goes to a file.
struct Watcher {
    child: Option<Child>,
    log: PathBuf,
    _logs: tempfile::TempDir,
}

impl Watcher {
    fn start(p: &Project) -> Watcher {
        let logs = tempfile::tempdir().expect("log dir");
        let log = logs.path().join("stderr.log");
        let file = std::fs::File::create(&log).expect("log file");
        let child = p
            .cmd(&["watch"])
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .expect("spawn flowrun watch");
        let w = Watcher {
            child: Some(child),
            log,
            _logs: logs,
        };
        w.wait("the start line", || w.log().contains("stop with SIGINT"));
        w
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    #[track_caller]
    fn wait(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let start = Instant::now();
        while !cond() {
            assert!(
                !self.log().contains("panicked"),
                "the runner panicked:\n{}",
                self.log()
            );
            assert!(
                start.elapsed() < PATIENCE,
                "gave up waiting for {what}; runner log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the runner with SIGTERM; returns its log.
    fn stop(mut self) -> String {
        let mut child = self.child.take().expect("running");
        let pid = child.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let start = Instant::now();
        while child.try_wait().expect("poll runner").is_none() {
            assert!(start.elapsed() < PATIENCE, "the runner did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = self.log();
        assert!(!log.contains("panicked"), "the runner panicked:\n{log}");
        log
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

const INBOX_FLOW: &str = "[trigger]\nwatch = \"inbox/*.json\"\n\n[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '{got: .n}'\n";

fn finished_runs(p: &Project, flow: &str) -> usize {
    p.run_ids(flow)
        .iter()
        .filter(|id| {
            std::fs::read_to_string(p.path(&format!("runs/{flow}/{id}/manifest.json")))
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .is_some_and(|m| m["status"] == "success")
        })
        .count()
}

#[test]
fn an_inbox_file_whose_name_is_not_utf8_runs_and_the_runner_survives_restarts() {
    let p = Project::new();
    p.flow("drop", INBOX_FLOW);
    std::fs::create_dir_all(p.path("inbox")).unwrap();
    let odd = |b: &[u8]| OsStr::from_bytes(b).to_owned();
    std::fs::write(p.path("inbox").join(odd(b"caf\xe9.json")), r#"{"n": 1}"#).unwrap();
    let w = Watcher::start(&p);
    let done = p.path("inbox/done").join(odd(b"caf\xe9.json"));
    w.wait("the odd file done", || done.exists());
    w.stop();
    // At the next start the odd name sits in done/ and another is dropped.
    std::fs::write(p.path("inbox").join(odd(b"\xff.json")), r#"{"n": 2}"#).unwrap();
    let w = Watcher::start(&p);
    let done2 = p.path("inbox/done").join(odd(b"\xff.json"));
    w.wait("the second odd file done", || done2.exists());
    w.stop();
    assert_eq!(finished_runs(&p, "drop"), 2);
}

#[test]
fn an_inbox_symlink_is_not_followed() {
    let p = Project::new();
    p.flow("drop", INBOX_FLOW)
        .file("secret/key.json", r#"{"n": 42}"#)
        .file("inbox/ok.json", r#"{"n": 1}"#);
    std::os::unix::fs::symlink(p.path("secret/key.json"), p.path("inbox/link.json")).unwrap();
    let w = Watcher::start(&p);
    w.wait("ok.json done", || p.exists("inbox/done/ok.json"));
    w.wait("the link refused", || {
        std::fs::symlink_metadata(p.path("inbox/failed/link.json")).is_ok()
    });
    let log = w.stop();
    assert!(
        log.contains("inbox/link.json is a symbolic link, not a plain file: not run"),
        "{log}"
    );
    // Moved as the link: the target is untouched, and no run read it.
    assert!(
        std::fs::symlink_metadata(p.path("inbox/failed/link.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(p.read("secret/key.json"), r#"{"n": 42}"#);
    assert_eq!(finished_runs(&p, "drop"), 1);
}

/// A successful run of flow `f` (one map step), its id and its payload's path.
fn one_run(p: &Project) -> (String, String) {
    p.flow(
        "f",
        "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '{a: 1}'\n",
    );
    p.cmd(&["run", "f"]).run().ok();
    let id = p.last_run("f");
    let payload = format!("runs/f/{id}/steps/01-m/000001.json");
    assert!(p.exists(&payload));
    (id, payload)
}

#[test]
fn a_fifo_or_device_in_place_of_a_payload_does_not_hang_verify_or_replay() {
    if not_on_s3("an object is a regular file; the working copy's FIFO is replaced by it") {
        return;
    }
    let p = Project::new();
    let (id, payload) = one_run(&p);
    mkfifo(&p.path(&payload));
    run_bounded(&p, &["verify", &id])
        .code(1)
        .stderr_has("unreadable: steps/01-m/000001.json is not a regular file (a FIFO)");
    run_bounded(&p, &["replay", &payload, "--force"])
        .code(2)
        .stderr_has("000001.json: not a regular file (a FIFO)");
    run_bounded(&p, &["show", &id]).ok();
    std::fs::remove_file(p.path(&payload)).unwrap();
    std::os::unix::fs::symlink("/dev/zero", p.path(&payload)).unwrap();
    run_bounded(&p, &["verify", &id])
        .code(1)
        .stderr_has("is not a regular file (a device)");
    // A link out of the run is not one of its payloads at all.
    run_bounded(&p, &["replay", &payload, "--force"]).code(2);
}

#[test]
fn a_fifo_in_place_of_a_manifest_does_not_hang_runs_show_verify_or_replay() {
    if not_on_s3("an object is a regular file; the working copy's FIFO is replaced by it") {
        return;
    }
    let p = Project::new();
    let (id, payload) = one_run(&p);
    mkfifo(&p.path(&format!("runs/f/{id}/manifest.json")));
    run_bounded(&p, &["runs"])
        .ok()
        .stderr_has("manifest.json: not a regular file (a FIFO)");
    run_bounded(&p, &["show", &id])
        .code(2)
        .stderr_has("manifest.json: not a regular file (a FIFO)");
    run_bounded(&p, &["show", "last"]).code(2);
    run_bounded(&p, &["verify", &id])
        .code(1)
        .stderr_has("not a regular file (a FIFO)");
    run_bounded(&p, &["replay", &payload, "--force"])
        .code(2)
        .stderr_has("not a regular file (a FIFO)");
}

#[test]
fn a_fifo_in_place_of_the_lock_file_is_refused_not_waited_on() {
    if not_on_s3("the lock is an object in the store, not a file in the working copy") {
        return;
    }
    let p = Project::new();
    let (id, _) = one_run(&p);
    mkfifo(&p.path("runs/f/.lock"));
    run_bounded(&p, &["run", "f"])
        .code(2)
        .stderr_has("runs/f/.lock: not a regular file (a FIFO)");
    run_bounded(&p, &["show", &id]).ok();
}

#[test]
fn a_payload_nested_300_deep_is_replayed() {
    let p = Project::new();
    p.flow(
        "deep",
        "[[steps]]\nid = \"nest\"\nkind = \"map\"\njq = 'reduce range(300) as $i (1; [.])'\n\n[[steps]]\nid = \"depth\"\nkind = \"map\"\njq = '[paths] | map(length) | max'\n",
    );
    p.cmd(&["run", "deep"]).run().ok();
    assert_eq!(p.outputs("deep", "depth"), [json!(300)]);
    let id = p.last_run("deep");
    let payload = format!("runs/deep/{id}/steps/01-nest/000001.json");
    p.cmd(&["replay", &payload, "--auto-skip", "--force"])
        .run()
        .ok();
    let replay = p.last_run("deep");
    assert_ne!(replay, id);
    assert_eq!(p.outputs("deep", "depth"), [json!(300)]);
    p.cmd(&["verify", &replay]).run().ok();
}

const SKIP_FLOW: &str = "# orders\n[[steps]]\nid = \"a\"\nkind = \"merge\"\n\n[[steps]]\nid = \"b\"\nkind = \"merge\"\n";

#[test]
fn skip_and_unskip_keep_crlf_and_a_byte_order_mark() {
    let p = Project::new();
    let original = format!("\u{feff}{}", SKIP_FLOW.replace('\n', "\r\n"));
    p.flow("f", &original);
    p.cmd(&["skip", "f", "a"]).run().ok();
    let skipped = p.read("flows/f.toml");
    assert!(skipped.starts_with('\u{feff}'), "{skipped:?}");
    assert!(
        skipped.contains("kind = \"merge\"\r\nskip = true # set by flowrun skip\r\n\r\n"),
        "{skipped:?}"
    );
    p.cmd(&["run", "f", "--force"])
        .run()
        .ok()
        .stdout_has("skip");
    p.cmd(&["unskip", "f"]).run().ok();
    assert_eq!(p.read("flows/f.toml"), original);
}

#[test]
fn skip_writes_through_a_symlinked_flow_file_and_keeps_its_mode() {
    let p = Project::new();
    p.file("shared/f.toml", SKIP_FLOW);
    std::os::unix::fs::symlink("../shared/f.toml", p.path("flows/f.toml")).unwrap();
    std::fs::set_permissions(
        p.path("shared/f.toml"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    p.cmd(&["skip", "f", "b"]).run().ok();
    let link = std::fs::symlink_metadata(p.path("flows/f.toml")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
    assert!(p.read("shared/f.toml").contains("skip = true"));
    let mode = std::fs::metadata(p.path("shared/f.toml")).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o640);
    p.cmd(&["unskip", "f"]).run().ok();
    assert_eq!(p.read("shared/f.toml"), SKIP_FLOW);
    // No temporary file left beside the target.
    assert_eq!(std::fs::read_dir(p.path("shared")).unwrap().count(), 1);
}

#[test]
fn a_no_op_unskip_leaves_the_file_alone() {
    let p = Project::new();
    p.flow("f", &SKIP_FLOW.replace('\n', "\r\n"));
    let before = std::fs::metadata(p.path("flows/f.toml")).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    p.cmd(&["unskip", "f"]).run().ok();
    let after = std::fs::metadata(p.path("flows/f.toml")).unwrap();
    assert_eq!(before.ino(), after.ino(), "the file was replaced");
    assert_eq!(
        (before.mtime(), before.mtime_nsec()),
        (after.mtime(), after.mtime_nsec())
    );
}

#[test]
fn after_a_prune_a_stray_folder_does_not_keep_a_stale_run_index() {
    let p = Project::new();
    p.flow("f", "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.'\n");
    for _ in 0..3 {
        p.cmd(&["run", "f"]).run().ok();
    }
    let ids = p.run_ids("f");
    // A stray folder, then a prune of one run: the folder's link count matches the
    // old index again.
    std::fs::create_dir(p.path("runs/f/notes")).unwrap();
    p.cmd(&["runs"]).run().ok();
    p.cmd(&["prune", "--keep", "2"]).run().ok();
    let out = p.cmd(&["runs"]).run().ok().stderr_lacks("cannot read it");
    assert!(!out.stdout.contains(&ids[0]), "{}", out.stdout);
    assert!(
        out.stdout.contains(&ids[1]) && out.stdout.contains(&ids[2]),
        "{}",
        out.stdout
    );
}

#[test]
fn a_run_deleted_by_hand_beside_a_stray_folder_is_not_shown_as_last() {
    let p = Project::new();
    p.flow("f", "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.'\n");
    p.cmd(&["run", "f"]).run().ok();
    p.cmd(&["run", "f"]).run().ok();
    let ids = p.run_ids("f");
    p.cmd(&["runs"]).run().ok();
    p.tamper(&format!("runs/f/{}", ids[1]), Tamper::Remove);
    std::fs::create_dir(p.path("runs/f/notes")).unwrap();
    p.cmd(&["show", "last"]).run().ok().stdout_has(&ids[0]);
    p.cmd(&["runs"])
        .run()
        .ok()
        .stdout_lacks(&ids[1])
        .stderr_lacks("cannot read it");
}
