//! Disk faults (issue 6): the run store on a small tmpfs that fills up, or that turns
//! read-only before or during a run. The run must fail with a clear error naming the path
//! (exit 1), never panic, and leave every earlier run verifying.
//!
//! Mounting needs root (CI runs as root); elsewhere, or when `mount` fails, each test
//! says it is skipped and passes. Mounts are undone by a guard, also when a test fails.
//!
//! A tmpfs cannot be remounted read-only while a file on it is open for writing (the
//! running flowrun holds its flow lock open), so "read-only mid-run" stacks a read-only
//! bind mount of the store on top of it: every path the run opens from then on is
//! read-only, as when a disk is remounted read-only after an error.

use crate::support::{Project, wait_for};
use serde_json::Value;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Mounts on one folder, undone (newest first) when dropped.
struct Mounted {
    dir: PathBuf,
    layers: usize,
}

fn sh(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl Mounted {
    /// A tmpfs of `size` (e.g. `2m`) on `dir`, or `None` (with a note) when this
    /// machine does not allow it.
    fn tmpfs(dir: &Path, size: &str, test: &str) -> Option<Mounted> {
        if !is_root() {
            eprintln!("skipped {test}: mounting a tmpfs needs root");
            return None;
        }
        std::fs::create_dir_all(dir).expect("mount point");
        let target = dir.to_string_lossy().into_owned();
        if let Err(e) = sh(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                &target,
            ],
        ) {
            eprintln!("skipped {test}: cannot mount a tmpfs here ({e})");
            return None;
        }
        Some(Mounted {
            dir: dir.to_path_buf(),
            layers: 1,
        })
    }

    fn target(&self) -> String {
        self.dir.to_string_lossy().into_owned()
    }

    /// Remounts the file system read-only or read-write (no file on it may be open for
    /// writing).
    #[track_caller]
    fn remount(&self, how: &str) {
        sh("mount", &["-o", &format!("remount,{how}"), &self.target()]).expect("remount");
    }

    /// Stacks a read-only bind mount of the folder on itself.
    #[track_caller]
    fn read_only_on_top(&mut self) {
        sh("mount", &["--bind", &self.target(), &self.target()]).expect("bind mount");
        self.layers += 1;
        sh("mount", &["-o", "remount,bind,ro", &self.target()]).expect("read-only bind");
    }

    /// Removes the newest mount.
    fn pop(&mut self) {
        if self.layers == 0 {
            return;
        }
        if sh("umount", &[&self.target()]).is_err() {
            let _ = sh("umount", &["-l", &self.target()]);
        }
        self.layers -= 1;
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        while self.layers > 0 {
            self.pop();
        }
    }
}

/// Fills the file system holding `dir` up to all but about `free` bytes.
fn fill(dir: &Path, free: u64) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("filler");
    for chunk in [65_536, 4096, 512] {
        let block = vec![0u8; chunk];
        while f.write_all(&block).is_ok() {}
    }
    let len = f.metadata().expect("filler size").len();
    f.set_len(len.saturating_sub(free)).expect("make room");
    path
}

/// `read` a file, then `map`.
const SMALL: &str = "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/small.json\"\n\n\
                     [[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.'\n";

/// About 600 KiB read, split into 60 payloads, mapped twice: well over a megabyte stored.
const MEDIUM: &str = "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/medium.json\"\n\n\
                      [[steps]]\nid = \"cut\"\nkind = \"split\"\nsize = 10\n\n\
                      [[steps]]\nid = \"a\"\nkind = \"map\"\njq = '.'\n\n\
                      [[steps]]\nid = \"b\"\nkind = \"map\"\njq = 'map(. + \"!\")'\n";

fn project() -> Project {
    let p = Project::new();
    let medium: Vec<String> = (0..600)
        .map(|i| format!("{i:04}{}", "m".repeat(1000)))
        .collect();
    p.flow("small", SMALL)
        .flow("medium", MEDIUM)
        .file("data/small.json", r#"[{"id": 1}, {"id": 2}]"#)
        .file(
            "data/medium.json",
            &serde_json::to_string(&medium).expect("data"),
        );
    p
}

/// Every manifest in the store parses and has the format; returns how many there are.
#[track_caller]
fn manifests_parse(p: &Project) -> usize {
    let mut n = 0;
    for flow in ["small", "medium", "gated"] {
        for id in p.run_ids(flow) {
            let path = p.path(&format!("runs/{flow}/{id}/manifest.json"));
            let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let m: Value = serde_json::from_slice(&text)
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
            assert_eq!(m["format"], "flowrun.run/1", "{}", path.display());
            n += 1;
        }
    }
    n
}

#[test]
fn a_full_disk_fails_the_run_cleanly_and_keeps_earlier_runs() {
    let p = project();
    let Some(runs) = Mounted::tmpfs(&p.path("runs"), "2m", "the full-disk test") else {
        return;
    };
    p.cmd(&["run", "small"]).run().ok();
    let earlier = p.last_run("small");

    // The whole flow does not fit: it fails part-way, wherever the space runs out.
    let out = p.cmd(&["run", "medium"]).run().code(1);
    assert!(
        out.stderr.contains("No space left on device"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("runs/medium/"), "{}", out.stderr);
    eprintln!("full disk, free at start:\n{}", out.stderr.trim());

    // Then with less and less room at the start, so the space runs out at every stage:
    // settling the previous run, the run folder, its manifest, the first payload, a
    // payload part-way through a step.
    for free in [0, 1024, 6000, 20_000, 70_000, 300_000, 800_000, 1_300_000] {
        let filler = fill(&runs.dir, free);
        let before = p.run_ids("medium");
        let out = p.cmd(&["run", "medium"]).run().code(1);
        assert!(
            out.stderr.contains("No space left on device"),
            "free {free}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("runs/medium"),
            "free {free}: {}",
            out.stderr
        );
        let last = out.stderr.lines().last().unwrap_or_default().to_owned();
        eprintln!("free {free} bytes: exit 1: {last}");
        manifests_parse(&p);
        for id in p.run_ids("medium").iter().filter(|i| !before.contains(i)) {
            let shown = p.cmd(&["show", id, "--json"]).run().ok().json();
            assert!(
                shown["status"] == "failure" || shown["status"] == "interrupted",
                "run {id} reads as {}",
                shown["status"]
            );
        }
        std::fs::remove_file(filler).expect("rm filler");
        p.cmd(&["verify", &earlier]).run().ok();
        p.cmd(&["verify"]).run().ok();
        // Make room for the next round: delete the failed runs.
        p.cmd(&["prune", "--keep", "0", "--flow", "medium"])
            .run()
            .ok();
    }
    p.cmd(&["run", "small"]).run().ok();
    p.cmd(&["verify"]).run().ok();
}

#[test]
fn a_read_only_store_refuses_the_run_and_still_reads() {
    let p = project();
    let Some(mut runs) = Mounted::tmpfs(&p.path("runs"), "2m", "the read-only test") else {
        return;
    };
    p.cmd(&["run", "small"]).run().ok();
    let earlier = p.last_run("small");
    runs.remount("ro");

    let out = p.cmd(&["run", "small"]).run().code(1).only_errors();
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("runs/small/"), "{}", out.stderr);
    eprintln!("read-only store: exit 1: {}", out.stderr.trim());
    assert_eq!(p.run_ids("small"), std::slice::from_ref(&earlier));
    // Reading still works.
    p.cmd(&["verify"]).run().ok();
    p.cmd(&["runs"]).run().ok().stdout_has(&earlier);
    p.cmd(&["show", "last", "--json"]).run().ok();
    p.cmd(&["prune", "--keep", "0"])
        .run()
        .code(1)
        .stderr_has("Read-only file system");
    assert_eq!(p.run_ids("small"), std::slice::from_ref(&earlier));

    runs.remount("rw");
    p.cmd(&["run", "small"]).run().ok();
    p.cmd(&["verify"]).run().ok();
    runs.pop();
}

/// read → split into 3 → a command that waits until the file `release` exists.
const GATED: &str = "[[steps]]\nid = \"load\"\nkind = \"read\"\npath = \"data/small.json\"\n\n\
                     [[steps]]\nid = \"one\"\nkind = \"split\"\nsize = 1\n\n\
                     [[steps]]\nid = \"wait\"\nkind = \"command\"\nrun = [\"scripts/wait.sh\"]\n";
const WAIT_SH: &str = "#!/bin/sh\ni=0\nwhile [ ! -f release ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done\ncat\n";

#[test]
fn a_store_turning_read_only_mid_run_fails_the_run_cleanly() {
    let p = project();
    p.flow("gated", GATED).script("scripts/wait.sh", WAIT_SH);
    let Some(mut runs) = Mounted::tmpfs(&p.path("runs"), "2m", "the read-only mid-run test") else {
        return;
    };
    p.cmd(&["run", "small"]).run().ok();
    let mut running = p.cmd(&["run", "gated"]).spawn();
    let mut id = String::new();
    wait_for("the command step to start", || {
        assert!(!running.has_exited(), "the gated run ended early");
        let Some(found) = p.run_ids("gated").pop() else {
            return false;
        };
        id = found;
        std::fs::read_to_string(p.path(&format!("runs/gated/{id}/manifest.json")))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .is_some_and(|m| m["steps"][2]["status"] == "running")
    });
    runs.read_only_on_top();
    p.file("release", "");
    let out = running.wait();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("runs/gated/{id}")),
        "{}",
        out.stderr
    );
    eprintln!(
        "store read-only mid-run: exit 1:\n{}{}",
        out.stdout,
        out.stderr.trim()
    );

    // Still read-only: the trail reads, and the run reads as ended.
    manifests_parse(&p);
    let status = p.cmd(&["show", &id, "--json"]).run().ok().json()["status"].clone();
    assert!(status == "interrupted" || status == "failure", "{status}");
    p.cmd(&["verify"]).run().ok();

    // Writable again: the run resumes and finishes.
    runs.pop();
    p.cmd(&["resume", &id]).run().ok();
    let last = p.last_run("gated");
    assert_eq!(p.manifest("gated", &last)["status"], "success");
    assert_eq!(p.outputs("gated", "wait").len(), 2);
    p.cmd(&["verify"]).run().ok();
}
