//! A temporary project and a builder for `flowrun` commands run in it.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A project folder with `flows/` and `runs/`, removed when dropped.
pub struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// With `FLOWRUN_TEST_STORE=s3`: the project's own bucket on the local S3 server,
    /// and a folder its objects are copied to for reading.
    store: Option<(s3::TestStore, tempfile::TempDir)>,
}

impl Project {
    /// An empty project.
    pub fn new() -> Project {
        Project::in_folder(None)
    }

    /// An empty project, in a folder `name` inside the temporary folder when given.
    pub fn in_folder(name: Option<&str>) -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = match name {
            Some(name) => dir.path().join(name),
            None => dir.path().to_path_buf(),
        };
        std::fs::create_dir_all(root.join("flows")).expect("flows dir");
        Project {
            _dir: dir,
            root,
            store: s3::TestStore::for_test().map(|s| (s, tempfile::tempdir().expect("mirror dir"))),
        }
    }

    /// Where a test reads `rel`: in the project, or — on S3, for a path under `runs/` —
    /// in a fresh copy of the stored objects, so that what a test reads there is what
    /// the store holds.
    fn stored(&self, rel: &str) -> PathBuf {
        match &self.store {
            Some((store, mirror)) if rel == "runs" || rel.starts_with("runs/") => {
                store.sync_down(mirror.path());
                mirror.path().join(rel)
            }
            _ => self.path(rel),
        }
    }

    /// The project folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A path inside the project.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Writes `flows/<name>.toml`.
    pub fn flow(&self, name: &str, toml: &str) -> &Self {
        self.file(&format!("flows/{name}.toml"), toml)
    }

    /// Writes a file (creating folders); under `runs/`, through [`Project::tamper`].
    pub fn file(&self, rel: &str, contents: &str) -> &Self {
        self.bytes_file(rel, contents.as_bytes())
    }

    /// Writes a file of raw bytes (creating folders); under `runs/`, through
    /// [`Project::tamper`].
    pub fn bytes_file(&self, rel: &str, contents: &[u8]) -> &Self {
        if is_run_file(rel) {
            self.tamper(rel, Tamper::Write(contents));
            return self;
        }
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        std::fs::write(path, contents).expect("write file");
        self
    }

    /// Changes a recorded file behind flowrun's back, as a user (or a bad disk) would:
    /// in the project's `runs/`, and on S3 in the bucket too (where every machine reads
    /// it), so that a test checks the same thing on either backend.
    #[track_caller]
    pub fn tamper(&self, rel: &str, change: Tamper) {
        assert!(is_run_file(rel), "{rel} is not under runs/");
        let path = self.path(rel);
        match change {
            Tamper::Write(bytes) => {
                std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
                std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {rel}: {e}"));
            }
            Tamper::Remove => {
                let gone = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                gone.unwrap_or_else(|e| panic!("remove {rel}: {e}"));
            }
            Tamper::MoveTo(to) => {
                let bytes = self.bytes(rel);
                self.tamper(rel, Tamper::Remove);
                self.tamper(to, Tamper::Write(&bytes));
                return;
            }
        }
        if let Some((store, _)) = &self.store {
            match change {
                Tamper::Write(bytes) => store.put(rel, bytes),
                Tamper::Remove => store.delete(rel),
                Tamper::MoveTo(_) => {}
            }
        }
    }

    /// The variables every `flowrun` command of this project gets (the store's, on S3),
    /// for a test that starts `flowrun` another way (a shell).
    pub fn store_env(&self) -> Vec<(String, String)> {
        self.store
            .as_ref()
            .map(|(s, _)| s.env())
            .unwrap_or_default()
    }

    /// Writes an executable script (creating folders).
    pub fn script(&self, rel: &str, contents: &str) -> &Self {
        use std::os::unix::fs::PermissionsExt;
        self.file(rel, contents);
        std::fs::set_permissions(self.path(rel), std::fs::Permissions::from_mode(0o755))
            .expect("chmod script");
        self
    }

    /// Reads a file.
    #[track_caller]
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.stored(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// Reads a file's bytes.
    #[track_caller]
    pub fn bytes(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.stored(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// Whether a file or folder exists.
    pub fn exists(&self, rel: &str) -> bool {
        self.stored(rel).exists()
    }

    /// Every file under `rel` (paths relative to it, `/`-separated) with its bytes.
    #[track_caller]
    pub fn tree(&self, rel: &str) -> BTreeMap<String, Vec<u8>> {
        fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Vec<u8>>) {
            for entry in std::fs::read_dir(dir).expect("read dir") {
                let entry = entry.expect("dir entry");
                let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
                if entry.file_type().expect("file type").is_dir() {
                    walk(&entry.path(), &format!("{name}/"), out);
                } else {
                    out.insert(name, std::fs::read(entry.path()).expect("read file"));
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.stored(rel), "", &mut out);
        out
    }

    /// A `flowrun` command with `args`, run in the project folder.
    pub fn cmd(&self, args: &[&str]) -> Cmd {
        Cmd {
            cwd: self.root().to_path_buf(),
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            env: self
                .store
                .as_ref()
                .map(|(s, _)| s.env())
                .unwrap_or_default(),
            stdin: None,
        }
    }

    /// Run ids of `flow`, oldest first.
    pub fn run_ids(&self, flow: &str) -> Vec<String> {
        run_ids_in(&self.stored(&format!("runs/{flow}")))
    }

    /// The newest run id of `flow`.
    #[track_caller]
    pub fn last_run(&self, flow: &str) -> String {
        self.run_ids(flow).pop().expect("a run exists")
    }

    /// The manifest of a run, as stored.
    #[track_caller]
    pub fn manifest(&self, flow: &str, id: &str) -> Value {
        serde_json::from_str(&self.read(&format!("runs/{flow}/{id}/manifest.json")))
            .expect("manifest is JSON")
    }

    /// A stored payload, parsed.
    #[track_caller]
    pub fn json(&self, rel: &str) -> Value {
        serde_json::from_str(&self.read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// The manifest entry of step `step` in run `id` of `flow`.
    #[track_caller]
    pub fn step_record(&self, flow: &str, id: &str, step: &str) -> Value {
        let m = self.manifest(flow, id);
        m["steps"]
            .as_array()
            .expect("steps is an array")
            .iter()
            .find(|s| s["id"] == step)
            .unwrap_or_else(|| panic!("run {id} has no step {step}"))
            .clone()
    }

    /// The output payloads of `step` in the newest run of `flow`, parsed, in order.
    #[track_caller]
    pub fn outputs(&self, flow: &str, step: &str) -> Vec<Value> {
        let id = self.last_run(flow);
        self.step_record(flow, &id, step)["payloads"]
            .as_array()
            .expect("payloads is an array")
            .iter()
            .map(|p| {
                let file = p["file"].as_str().expect("file is a string");
                self.json(&format!("runs/{flow}/{id}/{file}"))
            })
            .collect()
    }
}

/// What [`Project::tamper`] does to a recorded file.
#[derive(Clone, Copy)]
pub enum Tamper<'a> {
    /// Writes these bytes (creating or replacing the file).
    Write(&'a [u8]),
    /// Removes the file, or the folder with everything in it.
    Remove,
    /// Moves the file to this path (relative to the project, under `runs/`).
    MoveTo(&'a str),
}

fn is_run_file(rel: &str) -> bool {
    rel.starts_with("runs/")
}

/// Skips the rest of a test on S3 (`FLOWRUN_TEST_STORE=s3`) because the fault it sets up
/// cannot exist there; prints why. Returns whether the test should stop.
#[must_use]
pub fn not_on_s3(why: &str) -> bool {
    let on = std::env::var("FLOWRUN_TEST_STORE").as_deref() == Ok("s3");
    if on {
        eprintln!("skipped on S3: {why}");
    }
    on
}

/// blake3 of `bytes`, in hex.
pub fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Whether `s` reads `^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{4}$`.
pub fn is_run_id(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 25
        && digits(0..8)
        && b[8] == b'T'
        && digits(9..15)
        && b[15] == b'.'
        && digits(16..19)
        && b[19] == b'Z'
        && b[20] == b'-'
        && b[21..]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

/// Polls `cond` until it holds; panics naming `what` if it never does.
///
/// The limit is only a safety net against a hung test, not a timing assertion.
#[track_caller]
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A command about to run.
#[must_use]
pub struct Cmd {
    cwd: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
}

impl Cmd {
    /// Sets an environment variable.
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.to_owned(), v.to_owned()));
        self
    }

    /// Feeds stdin.
    pub fn stdin(mut self, data: &str) -> Self {
        self.stdin = Some(data.as_bytes().to_vec());
        self
    }

    /// Runs in another folder.
    pub fn cwd(mut self, dir: &Path) -> Self {
        self.cwd = dir.to_path_buf();
        self
    }

    /// The `std::process::Command` this would run.
    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_flowrun"));
        c.args(&self.args)
            .current_dir(&self.cwd)
            .env_remove("FLOWRUN_ROOT")
            .env_remove("FLOWRUN_THREADS");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Starts in the background, stdin closed, output captured.
    #[track_caller]
    pub fn spawn(self) -> Running {
        let child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn flowrun");
        Running {
            child,
            args: self.args.join(" "),
        }
    }

    /// Runs to completion.
    #[track_caller]
    pub fn run(self) -> Output {
        let mut c = self.command();
        c.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn flowrun");
        if let Some(data) = &self.stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(data)
                .expect("write stdin");
        }
        let out = child.wait_with_output().expect("wait flowrun");
        let output = Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            args: self.args.join(" "),
        };
        assert!(
            !output.stderr.contains("panicked"),
            "flowrun {} panicked:\n{}",
            output.args,
            output.stderr
        );
        output
    }
}

/// A `flowrun` process running in the background.
pub struct Running {
    child: Child,
    args: String,
}

impl Running {
    /// Whether the process has ended.
    pub fn has_exited(&mut self) -> bool {
        self.child.try_wait().expect("poll flowrun").is_some()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(mut self) {
        self.child.kill().expect("kill flowrun");
        self.child.wait().expect("reap flowrun");
    }

    /// Waits for the process to end.
    #[track_caller]
    pub fn wait(self) -> Output {
        let out = self.child.wait_with_output().expect("wait flowrun");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            args: self.args,
        }
    }
}

/// What a command did.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    args: String,
}

impl Output {
    /// Asserts the exit code.
    #[track_caller]
    pub fn code(self, want: i32) -> Self {
        assert_eq!(
            self.code, want,
            "flowrun {} exited {} (want {want})\n--- stdout\n{}\n--- stderr\n{}",
            self.args, self.code, self.stdout, self.stderr
        );
        self
    }

    /// Asserts success.
    #[track_caller]
    pub fn ok(self) -> Self {
        self.code(0)
    }

    /// Asserts stdout contains `s`.
    #[track_caller]
    pub fn stdout_has(self, s: &str) -> Self {
        assert!(
            self.stdout.contains(s),
            "stdout of flowrun {} lacks {s:?}:\n{}",
            self.args,
            self.stdout
        );
        self
    }

    /// Asserts stderr contains `s`.
    #[track_caller]
    pub fn stderr_has(self, s: &str) -> Self {
        assert!(
            self.stderr.contains(s),
            "stderr of flowrun {} lacks {s:?}:\n{}",
            self.args,
            self.stderr
        );
        self
    }

    /// Asserts stdout does not contain `s`.
    #[track_caller]
    pub fn stdout_lacks(self, s: &str) -> Self {
        assert!(
            !self.stdout.contains(s),
            "stdout of flowrun {} has {s:?}:\n{}",
            self.args,
            self.stdout
        );
        self
    }

    /// Asserts stderr does not contain `s`.
    #[track_caller]
    pub fn stderr_lacks(self, s: &str) -> Self {
        assert!(
            !self.stderr.contains(s),
            "stderr of flowrun {} has {s:?}:\n{}",
            self.args,
            self.stderr
        );
        self
    }

    /// Asserts stderr is not empty and every line of it is an `error: ` line.
    #[track_caller]
    pub fn only_errors(self) -> Self {
        assert!(
            !self.stderr.trim().is_empty() && self.stderr.lines().all(|l| l.starts_with("error: ")),
            "stderr of flowrun {} is not all `error: ` lines:\n{}",
            self.args,
            self.stderr
        );
        self
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// A small flow: read a JSON array, split, map, assert, write.
pub const ORDERS_FLOW: &str = r#"
[[steps]]
id = "load"
kind = "read"
path = "data/orders.json"

[[steps]]
id = "batch"
kind = "split"
size = 2

[[steps]]
id = "to-erp"
kind = "map"
jq = 'map({id, email: (.email | ascii_downcase)})'

[[steps]]
id = "valid"
kind = "assert"
jq = '.email | contains("@")'
message = "every order needs an email"

[[steps]]
id = "save"
kind = "write"
path = "out/batch-{n}.json"
"#;

/// Five orders; the fourth has no `@` in its email.
pub const ORDERS_BAD: &str = r#"[
  {"id": 1, "email": "A@X.COM"},
  {"id": 2, "email": "b@x.com"},
  {"id": 3, "email": "c@x.com"},
  {"id": 4, "email": "d.x.com"},
  {"id": 5, "email": "e@x.com"}
]"#;

/// Five good orders.
pub const ORDERS_GOOD: &str = r#"[
  {"id": 1, "email": "A@X.COM"},
  {"id": 2, "email": "b@x.com"},
  {"id": 3, "email": "c@x.com"},
  {"id": 4, "email": "d@x.com"},
  {"id": 5, "email": "e@x.com"}
]"#;

/// Run ids in a flow's run folder, oldest first (names that look like run ids: they
/// start with the year).
pub fn run_ids_in(flow_dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(flow_dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("20"))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// The S3 side of the test switch: `FLOWRUN_TEST_STORE=s3` runs every project's commands
/// against a fresh bucket on the local S3 server at `FLOWRUN_TEST_S3_ENDPOINT` (default
/// `http://127.0.0.1:5055`; `.ci/run` starts moto's server there).
pub mod s3 {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// moto reads private objects only on an authenticated request; it does not check
    /// the signature, so a header of the right form does.
    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00";

    /// One test's bucket.
    pub struct TestStore {
        endpoint: String,
        bucket: String,
        /// The `ETag` of each object last copied by [`TestStore::sync_down`], so a copy
        /// fetches only what changed (a read is one listing, not a GET of every object).
        copied: Mutex<BTreeMap<String, String>>,
    }

    /// The test server's address.
    pub fn endpoint() -> String {
        std::env::var("FLOWRUN_TEST_S3_ENDPOINT")
            .unwrap_or_else(|_| "http://127.0.0.1:5055".to_owned())
    }

    impl TestStore {
        /// A fresh bucket when the suite runs on S3.
        pub fn for_test() -> Option<TestStore> {
            (std::env::var("FLOWRUN_TEST_STORE").as_deref() == Ok("s3")).then(TestStore::fresh)
        }

        /// A fresh bucket on the test server, whatever the switch says.
        pub fn fresh() -> TestStore {
            static N: AtomicUsize = AtomicUsize::new(0);
            let bucket = format!(
                "t{}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos()
            );
            let store = TestStore {
                endpoint: endpoint(),
                bucket,
                copied: Mutex::new(BTreeMap::new()),
            };
            ureq::put(&format!("{}/{}", store.endpoint, store.bucket))
                .header("Authorization", AUTH)
                .send_empty()
                .unwrap_or_else(|e| panic!("cannot create a bucket on {}: {e}", store.endpoint));
            store
        }

        /// `s3://BUCKET/runs`.
        pub fn url(&self) -> String {
            format!("s3://{}/runs", self.bucket)
        }

        /// The variables a `flowrun` command needs to use this store.
        pub fn env(&self) -> Vec<(String, String)> {
            [
                ("FLOWRUN_STORE", self.url().as_str()),
                ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
                ("AWS_ACCESS_KEY_ID", "test"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ALLOW_HTTP", "true"),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
        }

        /// Every key under the prefix.
        pub fn keys(&self) -> Vec<String> {
            self.listing().into_keys().collect()
        }

        /// Every key under the prefix, with its `ETag`.
        fn listing(&self) -> BTreeMap<String, String> {
            let mut keys = BTreeMap::new();
            let mut token: Option<String> = None;
            loop {
                let mut url = format!("{}/{}?list-type=2&prefix=runs/", self.endpoint, self.bucket);
                if let Some(t) = &token {
                    url.push_str("&continuation-token=");
                    url.push_str(&percent(t));
                }
                let body = ureq::get(&url)
                    .header("Authorization", AUTH)
                    .call()
                    .expect("list objects")
                    .body_mut()
                    .read_to_string()
                    .expect("list body");
                for object in body.split("<Contents>").skip(1) {
                    let key = tags(object, "Key").into_iter().next().unwrap_or_default();
                    let etag = tags(object, "ETag").into_iter().next().unwrap_or_default();
                    keys.insert(key, etag);
                }
                token = tags(&body, "NextContinuationToken").into_iter().next();
                if token.is_none() {
                    return keys;
                }
            }
        }

        /// An object's bytes.
        pub fn get(&self, key: &str) -> Vec<u8> {
            ureq::get(&format!("{}/{}/{key}", self.endpoint, self.bucket))
                .header("Authorization", AUTH)
                .call()
                .unwrap_or_else(|e| panic!("get {key}: {e}"))
                .body_mut()
                .with_config()
                .limit(1 << 34)
                .read_to_vec()
                .expect("object body")
        }

        /// Stores `bytes` as object `key`.
        pub fn put(&self, key: &str, bytes: &[u8]) {
            ureq::put(&format!("{}/{}/{key}", self.endpoint, self.bucket))
                .header("Authorization", AUTH)
                .send(bytes)
                .unwrap_or_else(|e| panic!("put {key}: {e}"));
        }

        /// Keys of the multipart uploads begun and neither completed nor aborted.
        pub fn uploads_in_progress(&self) -> Vec<String> {
            let body = ureq::get(&format!("{}/{}?uploads", self.endpoint, self.bucket))
                .header("Authorization", AUTH)
                .call()
                .expect("list multipart uploads")
                .body_mut()
                .read_to_string()
                .expect("uploads body");
            tags(&body, "Key")
        }

        /// Replaces the contents of folder `to` with the stored objects (their keys as
        /// paths). Objects unchanged since the last copy to the same folder are not fetched
        /// again.
        pub fn sync_down(&self, to: &Path) {
            let mut copied = self
                .copied
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let listing = self.listing();
            let runs = to.join("runs");
            // Anything in the copy that is not an unchanged object goes: files and
            // folders the store no longer holds, and objects that changed since.
            for entry in walkdir::WalkDir::new(&runs).into_iter().flatten() {
                let rel = entry
                    .path()
                    .strip_prefix(to)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if !entry.file_type().is_dir() && listing.get(&rel) != copied.get(&rel) {
                    std::fs::remove_file(entry.path()).unwrap();
                }
            }
            copied.retain(|k, v| listing.get(k) == Some(v) && to.join(k).is_file());
            for (key, etag) in &listing {
                if copied.get(key) == Some(etag) {
                    continue;
                }
                let path = to.join(key);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, self.get(key)).unwrap();
                copied.insert(key.clone(), etag.clone());
            }
            // Folders whose last object went.
            for entry in walkdir::WalkDir::new(&runs)
                .contents_first(true)
                .into_iter()
                .flatten()
            {
                if entry.file_type().is_dir() {
                    let _ = std::fs::remove_dir(entry.path());
                }
            }
        }

        /// Deletes object `key`, or every object below `key/` when it names a folder.
        pub fn delete(&self, key: &str) {
            let below = format!("{}/", key.trim_end_matches('/'));
            for k in self
                .keys()
                .into_iter()
                .filter(|k| k == key || k.starts_with(&below))
            {
                ureq::delete(&format!("{}/{}/{k}", self.endpoint, self.bucket))
                    .header("Authorization", AUTH)
                    .call()
                    .unwrap_or_else(|e| panic!("delete {k}: {e}"));
            }
        }
    }

    fn tags(xml: &str, tag: &str) -> Vec<String> {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        xml.split(&open)
            .skip(1)
            .filter_map(|p| p.split_once(&close).map(|(v, _)| unescape(v)))
            .collect()
    }

    fn unescape(s: &str) -> String {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&")
    }

    fn percent(s: &str) -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }
}
