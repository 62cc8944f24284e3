//! `deploy/` (the container image recipe, the `CronJob`s) checked without a cluster, and the
//! README's walk-through on S3 ("Running on more than one machine") run as written
//! against the local S3 server at `FLOWRUN_TEST_S3_ENDPOINT` (skipped when it is unset).
//!
//! The manifests are read with line checks (and, when `kubectl` is installed, decoded by
//! `kubectl` offline); the command lines they hold are run for real.

use crate::support::{Output, Project};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const CRONJOBS: [&str; 2] = ["deploy/cronjob.yaml", "deploy/cronjob-git-sync.yaml"];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The value of the first line (trimmed) starting with `key`, in `text`.
fn value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix(key).map(str::trim))
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The lines of the container `name` (its list item and everything indented below it).
fn container<'a>(yaml: &'a str, name: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = yaml.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == format!("- name: {name}") && !l.contains('#'))
        .unwrap_or_else(|| panic!("no container `{name}`"));
    let depth = indent(lines[start]);
    let mut out = vec![lines[start]];
    out.extend(
        lines[start + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || indent(l) > depth)
            .copied(),
    );
    out
}

/// The flowrun container's `args: [...]` (a flow-style list, which is JSON).
fn args(yaml: &str) -> Vec<String> {
    let lines = container(yaml, "flowrun");
    let found: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.trim().strip_prefix("args: "))
        .collect();
    assert_eq!(found.len(), 1, "one `args: [...]` line: {found:?}");
    serde_json::from_str(found[0]).expect("args is a JSON-style list")
}

/// The environment variables the flowrun container sets (commented-out ones too: they
/// are offered to the reader), and the value of each one set by `value:`.
fn env_names(yaml: &str) -> Vec<(String, Option<String>)> {
    let lines = container(yaml, "flowrun");
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let l = l.trim().trim_start_matches('#').trim();
        let Some(name) = l.strip_prefix("- name: ") else {
            continue;
        };
        if !name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            continue; // a volume mount
        }
        let next = lines
            .get(i + 1)
            .map(|n| n.trim().trim_start_matches('#').trim());
        let val = next
            .and_then(|n| n.strip_prefix("value: "))
            .map(|v| v.trim_matches('"').to_owned());
        out.push((name.to_owned(), val));
    }
    out
}

/// Lays `from` (a folder of the repository) out in `to` the way a `ConfigMap` volume
/// mounts it: the files in a timestamped folder, `..data` linking to it, and one link
/// per key through `..data`.
fn as_configmap_volume(from: &str, to: &Path) {
    let stamp = to.join("..2026_12_01_12_00_00.000000001");
    std::fs::create_dir_all(&stamp).expect("configmap folder");
    std::os::unix::fs::symlink(stamp.file_name().expect("name"), to.join("..data"))
        .expect("..data");
    for entry in std::fs::read_dir(repo().join(from)).expect("read folder") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("file name").to_owned();
        std::fs::copy(&path, stamp.join(&name)).expect("copy");
        std::os::unix::fs::symlink(Path::new("..data").join(&name), to.join(&name)).expect("link");
    }
}

/// Copies the repository folder `from` to `to`, plain files.
fn copy_folder(from: &str, to: &Path) {
    std::fs::create_dir_all(to).expect("folder");
    for entry in std::fs::read_dir(repo().join(from)).expect("read folder") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, to.join(path.file_name().expect("file name"))).expect("copy");
    }
}

/// The demo fails at `valid` on purpose (README, the tour): a real run, recorded.
fn ran_the_demo(out: Output) -> Output {
    out.code(1)
        .stdout_has("of flow orders-demo")
        .stdout_has("05 valid   assert   FAILED")
        .stderr_has("every order needs an email")
}

#[test]
fn the_configmap_cronjob_runs_its_command_line_on_the_flows_as_the_volume_mounts_them() {
    let yaml = read("deploy/cronjob.yaml");
    let dockerfile = read("deploy/Dockerfile");
    let workdir = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("WORKDIR "))
        .next_back();
    assert_eq!(workdir, Some("/project"), "the image's project folder");
    for mount in ["flows", "data", "runs"] {
        assert!(
            yaml.contains(&format!("mountPath: /project/{mount}\n")),
            "{mount}/ is mounted in the project folder"
        );
    }
    let p = Project::new();
    std::fs::remove_dir(p.path("flows")).expect("empty flows/");
    as_configmap_volume("flows", &p.path("flows"));
    as_configmap_volume("data", &p.path("data"));
    std::fs::create_dir_all(p.path("runs")).expect("runs/, the emptyDir");
    let args = args(&yaml);
    assert_eq!(args, ["run", "orders-demo"]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    p.cmd(&["check"])
        .run()
        .ok()
        .stdout_has("ok: flows/orders-demo.toml");
    ran_the_demo(p.cmd(&argv).run());
    let run = p.last_run("orders-demo");
    assert_eq!(p.manifest("orders-demo", &run)["status"], "failure");
    // The same command line with --root, from anywhere.
    let mut rooted = vec!["--root", p.root().to_str().expect("utf-8 path")];
    rooted.extend(&argv);
    ran_the_demo(p.cmd(&rooted).cwd(&std::env::temp_dir()).run());
    assert_eq!(p.run_ids("orders-demo").len(), 2);
}

#[test]
fn the_git_sync_cronjob_runs_its_command_line_in_the_checkout_git_sync_links() {
    let yaml = read("deploy/cronjob-git-sync.yaml");
    let init = container(&yaml, "git-sync").join("\n");
    assert!(
        init.contains("- --one-time"),
        "git-sync syncs once, then the Job runs"
    );
    let root = value(&init, "- --root=").expect("git-sync --root");
    let link = value(&init, "- --link=").expect("git-sync --link");
    let env = env_names(&yaml);
    let flowrun_root = env
        .iter()
        .find(|(k, _)| k == "FLOWRUN_ROOT")
        .and_then(|(_, v)| v.clone())
        .expect("FLOWRUN_ROOT is set");
    assert_eq!(
        flowrun_root,
        format!("{root}/{link}"),
        "FLOWRUN_ROOT is git-sync's link"
    );
    let mount = container(&yaml, "flowrun").join("\n") + "\n";
    assert!(
        mount.contains(&format!("mountPath: {root}\n")),
        "flowrun sees git-sync's volume"
    );

    // git-sync's layout: the worktree in .worktrees/<hash>, the link beside it.
    let p = Project::new();
    let git = p.path("git");
    let tree = git.join(".worktrees/3f2b1c0");
    copy_folder("flows", &tree.join("flows"));
    copy_folder("data", &tree.join("data"));
    std::os::unix::fs::symlink(".worktrees/3f2b1c0", git.join(link)).expect("link");
    let checkout = git.join(link);
    let args = args(&yaml);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    ran_the_demo(
        p.cmd(&argv)
            .env("FLOWRUN_ROOT", checkout.to_str().expect("utf-8 path"))
            .run(),
    );
    let runs: Vec<PathBuf> = std::fs::read_dir(tree.join("runs/orders-demo"))
        .expect("the run's working copy is in the checkout")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
}

#[test]
fn the_cronjobs_forbid_overlap_and_set_only_variables_flowrun_reads() {
    let help = crate::support::Project::new()
        .cmd(&["--help"])
        .run()
        .ok()
        .stdout;
    let dockerfile = read("deploy/Dockerfile");
    let uid = value(&dockerfile, "USER ")
        .and_then(|u| u.split(':').next())
        .expect("USER");
    let readme = read("deploy/README.md");
    for file in CRONJOBS {
        let yaml = read(file);
        assert_eq!(value(&yaml, "apiVersion:"), Some("batch/v1"), "{file}");
        assert_eq!(value(&yaml, "kind:"), Some("CronJob"), "{file}");
        assert_eq!(value(&yaml, "concurrencyPolicy:"), Some("Forbid"), "{file}");
        assert_eq!(value(&yaml, "restartPolicy:"), Some("Never"), "{file}");
        assert_eq!(
            value(&yaml, "runAsUser:"),
            Some(uid),
            "{file}: the image's user"
        );
        let env = env_names(&yaml);
        let names: BTreeSet<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        for needed in [
            "FLOWRUN_STORE",
            "AWS_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(names.contains(needed), "{file} sets {needed}: {names:?}");
        }
        for name in &names {
            if name.starts_with("FLOWRUN_") {
                assert!(
                    help.contains(&format!("`{name}`")),
                    "{file}: flowrun does not read {name}"
                );
            } else {
                // What `AmazonS3Builder::from_env` (src/store/s3.rs) takes.
                let key = name
                    .to_ascii_lowercase()
                    .parse::<object_store::aws::AmazonS3ConfigKey>();
                assert!(
                    name.starts_with("AWS_") && key.is_ok(),
                    "{file}: flowrun does not read {name}"
                );
            }
        }
        let store = env
            .iter()
            .find_map(|(k, v)| (k == "FLOWRUN_STORE").then_some(v.clone()))
            .flatten()
            .expect("FLOWRUN_STORE value");
        assert!(
            store.starts_with("s3://") && store.len() > 5,
            "{file}: {store}"
        );
        // The image is the one deploy/README.md builds and pushes.
        let tag = readme
            .lines()
            .find_map(|l| l.strip_prefix("docker build -f deploy/Dockerfile -t "))
            .and_then(|l| l.split_whitespace().next())
            .expect("docker build … -t TAG in deploy/README.md");
        let flowrun = container(&yaml, "flowrun").join("\n");
        assert_eq!(value(&flowrun, "image:"), Some(tag), "{file}");
        // The keys of the S3 Secret are the ones deploy/README.md creates it with.
        for key in yaml.lines().filter_map(|l| l.trim().strip_prefix("key: ")) {
            assert!(
                readme.contains(&format!("--from-literal={key}=")),
                "{file}: deploy/README.md creates secret key {key}"
            );
        }
    }
}

#[test]
fn the_dockerfile_builds_the_locked_release_binary_and_runs_it_as_a_user() {
    let d = read("deploy/Dockerfile");
    let lines: Vec<&str> = d
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    let froms: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "a multi-stage build: {froms:?}");
    let (image, stage) = froms[0].split_once(" AS ").expect("FROM … AS build");
    let version = image
        .strip_prefix("rust:")
        .and_then(|t| t.split('-').next())
        .expect("a rust:X.Y image");
    let manifest: toml::Table = read("Cargo.toml").parse().expect("Cargo.toml");
    let wanted = manifest["package"]["rust-version"]
        .as_str()
        .expect("rust-version");
    let num = |v: &str| -> Vec<u32> { v.split('.').map(|n| n.parse().expect("version")).collect() };
    assert!(
        num(version) >= num(wanted),
        "rust:{version} builds rust-version {wanted}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("RUN cargo build --release --locked")),
        "the build is `cargo build --release --locked`"
    );
    // What the build stage copies exists in the repository.
    let build_stage = lines
        .iter()
        .take_while(|l| !l.starts_with(&format!("FROM {}", froms[1])));
    for copy in build_stage.filter_map(|l| l.strip_prefix("COPY ")) {
        let parts: Vec<&str> = copy.split_whitespace().collect();
        for src in &parts[..parts.len() - 1] {
            assert!(
                repo().join(src).exists(),
                "COPY {src}: not in the repository"
            );
        }
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_flowrun"))
        .file_name()
        .expect("binary name");
    let bin = bin.to_str().expect("utf-8");
    let workdir = value(&d, "WORKDIR ").expect("build WORKDIR");
    let from_build = format!("COPY --from={stage} {workdir}/target/release/{bin} ");
    let dest = value(&d, &from_build).unwrap_or_else(|| panic!("{from_build}DEST"));
    let entry: Vec<String> =
        serde_json::from_str(value(&d, "ENTRYPOINT ").expect("ENTRYPOINT")).expect("exec form");
    assert_eq!(entry, [dest], "the entrypoint is the copied binary");
    let user = value(&d, "USER ").expect("USER");
    let uid: u32 = user
        .split(':')
        .next()
        .and_then(|u| u.parse().ok())
        .expect("a numeric USER");
    assert_ne!(uid, 0, "not root");
    let cmd: Vec<String> =
        serde_json::from_str(value(&d, "CMD ").expect("CMD")).expect("exec form");
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    Project::new()
        .cmd(&cmd)
        .run()
        .ok()
        .stdout_has("Usage: flowrun");
}

/// Whether a `kubectl` (the client; no cluster is needed) that knows `batch/v1` `CronJob`s
/// (1.21 or newer) is installed. Debian 12's package `kubernetes-client` is 1.20: too old.
fn has_kubectl() -> bool {
    let Ok(out) = Command::new("kubectl")
        .args(["version", "--client", "-o", "json"])
        .output()
    else {
        return false;
    };
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let number = |k: &str| -> u32 {
        let s = v["clientVersion"][k].as_str().unwrap_or("");
        s.trim_end_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap_or(0)
    };
    (number("major"), number("minor")) >= (1, 21)
}

/// `kubectl ARGS` (offline) in the repository, its JSON output.
fn kubectl_json(args: &[&str]) -> serde_json::Value {
    let out = Command::new("kubectl")
        .args(args)
        .current_dir(repo())
        .env("KUBECONFIG", "/dev/null")
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "kubectl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("kubectl prints JSON")
}

/// Every field of `raw` that `typed` lacks or holds otherwise (an empty value, which
/// Kubernetes' types leave out, counts as present).
fn not_kept(
    raw: &serde_json::Value,
    typed: Option<&serde_json::Value>,
    at: &str,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    let empty = match raw {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(_) => false,
    };
    match (raw, typed) {
        (_, None) if empty => {}
        (Value::Object(m), Some(Value::Object(t))) => {
            for (k, v) in m {
                not_kept(v, t.get(k), &format!("{at}.{k}"), out);
            }
        }
        (Value::Array(a), Some(Value::Array(t))) => {
            for (i, v) in a.iter().enumerate() {
                not_kept(v, t.get(i), &format!("{at}[{i}]"), out);
            }
        }
        (v, Some(t)) if v == t => {}
        (v, t) => out.push(format!("{at}: {v} (kept as {t:?})")),
    }
}

/// `(kind, name) → data keys` of what the `kubectl create` lines of deploy/README.md
/// make, run with `--dry-run=client`.
fn readme_creates() -> Vec<(String, String, BTreeSet<String>)> {
    let readme = read("deploy/README.md");
    let block = readme
        .split("<!-- deploy commands")
        .nth(1)
        .and_then(|r| r.split("```sh\n").nth(1))
        .and_then(|r| r.split("```").next())
        .expect("the deploy commands block");
    let mut made = Vec::new();
    for line in block.replace("\\\n", " ").lines() {
        let line = line.split(" #").next().unwrap_or(line).trim();
        let Some(rest) = line.strip_prefix("kubectl ") else {
            continue;
        };
        if !rest.starts_with("create ") {
            continue; // `apply` needs a cluster
        }
        let mut args: Vec<&str> = rest.split_whitespace().collect();
        args.extend(["--dry-run=client", "-o", "json"]);
        let v = kubectl_json(&args);
        let keys = v["data"]
            .as_object()
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default();
        made.push((
            v["kind"].as_str().expect("kind").to_owned(),
            v["metadata"]["name"].as_str().expect("name").to_owned(),
            keys,
        ));
    }
    made
}

/// `(kind, name, key)` of every `ConfigMap` and `Secret` a manifest refers to.
fn referred(yaml: &str) -> Vec<(&'static str, String, Option<String>)> {
    let lines: Vec<&str> = yaml.lines().map(str::trim).collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let kind = match *l {
            "configMap:" => "ConfigMap",
            "secretKeyRef:" | "secretRef:" => "Secret",
            _ => continue,
        };
        let name = lines[i + 1]
            .strip_prefix("name: ")
            .expect("name: after a reference");
        let key = (*l == "secretKeyRef:")
            .then(|| lines[i + 2].strip_prefix("key: ").expect("key:").to_owned());
        out.push((kind, name.to_owned(), key));
    }
    out
}

#[test]
fn kubectl_decodes_every_manifest_offline_and_the_readme_creates_what_they_name() {
    if !has_kubectl() {
        eprintln!("skipped: no kubectl 1.21 or newer (the client alone; no cluster is needed)");
        return;
    }
    let made = readme_creates();
    for file in CRONJOBS {
        // As written: kubectl's YAML reader keeps every field.
        let raw = kubectl_json(&[
            "label",
            "--local",
            "-f",
            file,
            "-o",
            "json",
            "deploy-check=1",
        ]);
        // Decoded into Kubernetes' own types and encoded again: a field of a wrong type
        // is refused, an unknown one dropped.
        let typed = kubectl_json(&[
            "set",
            "env",
            "--local",
            "-f",
            file,
            "-o",
            "json",
            "DEPLOY_CHECK=1",
        ]);
        let mut lost = Vec::new();
        not_kept(&raw, Some(&typed), "", &mut lost);
        lost.retain(|f| !f.starts_with(".metadata.labels.deploy-check"));
        assert!(
            lost.is_empty(),
            "{file}: fields Kubernetes does not know: {lost:#?}"
        );
        assert_eq!(typed["spec"]["concurrencyPolicy"], "Forbid");

        let yaml = read(file);
        for (kind, name, key) in referred(&yaml) {
            let found = made.iter().find(|(k, n, _)| k == kind && *n == name);
            let (_, _, keys) = found
                .unwrap_or_else(|| panic!("{file}: deploy/README.md creates no {kind} {name}"));
            if let Some(key) = key {
                assert!(
                    keys.contains(&key),
                    "{file}: {kind} {name} has no key {key}: {keys:?}"
                );
            }
        }
    }
    // The flows ConfigMap holds every flow file.
    let (_, _, keys) = made
        .iter()
        .find(|(k, n, _)| k == "ConfigMap" && n == "flowrun-flows")
        .expect("the flows ConfigMap");
    for entry in std::fs::read_dir(repo().join("flows")).expect("flows/") {
        let name = entry
            .expect("entry")
            .file_name()
            .into_string()
            .expect("utf-8");
        assert!(keys.contains(&name), "flowrun-flows lacks {name}");
    }
}

/// The README's command block after `marker`, as one script for `bash`: each command
/// (continuation lines joined) between markers that give its output and exit code.
fn readme_script(marker: &str, skip: &[&str], subst: &[(&str, String)]) -> (String, Vec<String>) {
    let readme = read("README.md");
    let mut block = readme
        .split(marker)
        .nth(1)
        .and_then(|r| r.split("```sh\n").nth(1))
        .and_then(|r| r.split("```").next())
        .expect("the README's command block")
        .replace("\\\n", " ");
    for (from, to) in subst {
        assert!(block.contains(from), "the README's block has {from}");
        block = block.replace(from, to);
    }
    let mut script = String::from("flowrun() { \"$FLOWRUN_BIN\" \"$@\"; }\n");
    let mut commands = Vec::new();
    for line in block
        .lines()
        .filter(|l| !skip.iter().any(|s| l.starts_with(s)))
    {
        let n = commands.len();
        let _ = write!(
            script,
            "echo '::begin {n}'\n{line}\necho \"::end {n} $?\"\n"
        );
        commands.push(line.to_owned());
    }
    (script, commands)
}

/// Each command's output (stdout and stderr together) and exit code.
fn outputs(stdout: &str, n: usize) -> Vec<(String, i32)> {
    (0..n)
        .map(|i| {
            let body = stdout
                .split(&format!("::begin {i}\n"))
                .nth(1)
                .unwrap_or_else(|| panic!("command {i} did not start:\n{stdout}"));
            let (out, rest) = body
                .split_once(&format!("::end {i} "))
                .unwrap_or_else(|| panic!("command {i} did not end:\n{stdout}"));
            let code = rest
                .lines()
                .next()
                .and_then(|c| c.parse().ok())
                .expect("exit code");
            (out.to_owned(), code)
        })
        .collect()
}

/// The demo flows and data in a git repository, as a clean clone has them.
fn demo_clone() -> Project {
    let p = Project::new();
    copy_folder("flows", &p.path("flows"));
    copy_folder("data", &p.path("data"));
    std::fs::create_dir_all(p.path("runs")).expect("runs/");
    p.file("runs/.gitkeep", "");
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-qm",
            "demo",
        ],
    ] {
        let st = Command::new("git")
            .args(args)
            .current_dir(p.root())
            .status()
            .expect("git");
        assert!(st.success(), "git {args:?}");
    }
    p
}

#[test]
fn the_readme_s3_walk_through_runs_as_written_and_a_second_root_resumes_and_replays() {
    let Ok(endpoint) = std::env::var("FLOWRUN_TEST_S3_ENDPOINT") else {
        eprintln!("skipped: FLOWRUN_TEST_S3_ENDPOINT is not set (a local S3 server, see .ci/run)");
        return;
    };
    let endpoint = endpoint.trim_end_matches('/').to_owned();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    let bucket = format!("walk-{}-{nanos}", std::process::id());
    let a = demo_clone();
    let other = tempfile::tempdir().expect("temp dir");
    let b = other.path().join("b");
    let (script, commands) = readme_script(
        "**Try it against a local S3 server**",
        &["python3 -m venv", "/opt/moto/bin/moto_server"],
        &[
            (
                "http://127.0.0.1:5055/flowrun ",
                format!("{endpoint}/{bucket} "),
            ),
            ("s3://flowrun/", format!("s3://{bucket}/")),
            ("http://127.0.0.1:5055", endpoint.clone()),
            ("/tmp/flowrun-b", b.display().to_string()),
        ],
    );
    let mut sh = Command::new("bash");
    sh.arg("-c").arg(&script).current_dir(a.root());
    for (k, _) in std::env::vars() {
        if k.starts_with("FLOWRUN_") || k.starts_with("AWS_") {
            sh.env_remove(k);
        }
    }
    sh.env("FLOWRUN_BIN", env!("CARGO_BIN_EXE_flowrun"));
    let out = sh.output().expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let results = outputs(&stdout, commands.len());
    for ((out, code), cmd) in results.iter().zip(&commands) {
        let want = i32::from(cmd.starts_with("flowrun run orders-demo"));
        assert_eq!(*code, want, "`{cmd}` exited {code}:\n{out}\n{stderr}");
    }
    walk_through_results(&commands, &results, &stderr);
    second_root(&a, &b, &bucket, &endpoint);
}

/// What the README says each step of the walk-through shows.
fn walk_through_results(commands: &[String], results: &[(String, i32)], stderr: &str) {
    let at = |prefix: &str| -> Vec<&str> {
        commands
            .iter()
            .zip(results)
            .filter(|(c, _)| c.contains(prefix))
            .map(|(_, (o, _))| o.as_str())
            .collect()
    };
    let runs = at("flowrun run orders-demo");
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter()
            .all(|o| o.contains("05 valid   assert   FAILED")),
        "{runs:?}"
    );
    assert!(stderr.contains("every order needs an email"), "{stderr}");
    let second = runs[1]
        .split_whitespace()
        .nth(1)
        .expect("run id")
        .to_owned();
    let resumes = at("flowrun resume --flow orders-demo last");
    assert_eq!(resumes.len(), 2);
    assert!(
        resumes.iter().all(|o| o.contains("success: run")),
        "{resumes:?}"
    );
    assert!(
        resumes[1].contains(&format!("resume run {second}:")),
        "the first root resumes the second root's run {second}: {}",
        resumes[1]
    );
    let lists = at("flowrun runs");
    assert_eq!(lists.len(), 2);
    for list in lists {
        assert_eq!(
            list.lines().filter(|l| l.contains(" orders-demo ")).count(),
            2,
            "{list}"
        );
    }
}

/// After the walk-through: both roots list the same four runs; the second root, whose
/// working copy lacks the first root's runs, replays one of them by its payload path.
fn second_root(a: &Project, b: &Path, bucket: &str, endpoint: &str) {
    let store = format!("s3://{bucket}/team");
    let on = |cmd: crate::support::Cmd| {
        cmd.env("FLOWRUN_STORE", &store)
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ALLOW_HTTP", "true")
    };
    let list = |dir: &Path| {
        on(a.cmd(&["runs", "-q", "--flow", "orders-demo"]).cwd(dir))
            .run()
            .ok()
            .stdout
    };
    let ids = list(a.root());
    assert_eq!(ids.lines().count(), 4, "{ids}");
    assert_eq!(list(b), ids);
    let first = ids.lines().last().expect("the first run").to_owned();
    let load = format!("runs/orders-demo/{first}/steps/01-load");
    assert!(
        !b.join(&load).exists(),
        "the second root has no copy of {first}"
    );
    // Refused by the re-sync guard (the run was resumed), which reads the stored run.
    on(a.cmd(&["replay", &load, "--auto-skip"]).cwd(b))
        .run()
        .code(2)
        .stderr_has("already resumed by successful run");
    let flow = std::fs::read_to_string(b.join("flows/orders-demo.toml")).expect("flow");
    let fixed = flow.replace(
        "ascii_downcase)",
        "ascii_downcase | sub(\"[(]at[)]\"; \"@\"))",
    );
    std::fs::write(b.join("flows/orders-demo.toml"), fixed).expect("fix the flow");
    on(a.cmd(&["replay", &load, "--auto-skip", "--force"]).cwd(b))
        .run()
        .ok()
        .stdout_has("success: run");
    assert_eq!(list(a.root()).lines().count(), 5);
}
