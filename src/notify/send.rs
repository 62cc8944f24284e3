//! Sending the notifications of a finished run and recording how they went.

use super::{Format, Notify};
use crate::engine::Finished;
use crate::flow::{Flow, Text};
use crate::secrets::Secrets;
use crate::steps::{Build, Resolver, StepCx};
use crate::store::Notification;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The end of a failing command's stderr quoted in its error.
const STDERR_QUOTE: usize = 500;

/// Tells `flow`'s `[notify]` targets how the run in `fin` ended, when its status is one
/// they want, and records each outcome in the run's manifest (`notifications`). A
/// failed notification changes nothing else: the run's status stays as it was.
pub(crate) fn send(
    root: &Path,
    flow: &Flow,
    env: &dyn Fn(&str) -> Option<String>,
    fin: &mut Finished,
) {
    let Some(n) = flow.notify.as_deref() else {
        return;
    };
    let status = fin.manifest.status.to_string();
    if !n.on.contains(&status) {
        return;
    }
    let body = body(n.format, fin);
    let mut records = Vec::new();
    match Resolver::new(flow, env) {
        Ok(mut resolver) => {
            let secrets = std::sync::Arc::clone(&resolver.secrets);
            if let Some(spec) = &n.webhook {
                records.push(webhook(
                    root,
                    flow,
                    n,
                    spec.as_ref(),
                    &mut resolver,
                    &body,
                    fin,
                ));
            }
            if !n.run.is_empty() {
                records.push(command(root, flow, n, &mut resolver, &body, fin, &secrets));
            }
        }
        Err(e) => records.push(Notification {
            target: "[notify]".to_owned(),
            status: "failed".to_owned(),
            attempts: 0,
            error: Some(e.to_string()),
        }),
    }
    fin.manifest.notifications.extend(records);
    // The run is recorded already; a manifest that cannot be rewritten loses only this.
    let _ = crate::store::write_manifest(&fin.dir, &fin.manifest);
}

/// The JSON the targets get.
fn body(format: Format, fin: &Finished) -> Value {
    let m = &fin.manifest;
    let error = m.error.as_ref();
    let failed_payload = error
        .and_then(|e| e.failed_input.as_ref())
        .map(|f| fin.dir.join(f).display().to_string());
    let status = m.status.to_string();
    let resume_hint =
        (status != "success").then(|| crate::hint::flowrun(["resume", m.run_id.as_str()]));
    match format {
        Format::Json => json!({
            "flow": m.flow,
            "run_id": m.run_id,
            "status": status,
            "failed_step": error.and_then(|e| e.step.clone()),
            "error": error.map(|e| e.message.clone()),
            "failed_payload": failed_payload,
            "resume_hint": resume_hint,
        }),
        Format::Slack => {
            let mut text = format!(
                "flowrun: run `{}` of flow `{}`: *{status}*",
                m.run_id, m.flow
            );
            if let Some(e) = error {
                if let Some(step) = &e.step {
                    let _ = write!(text, " at step `{step}`");
                }
                let _ = write!(text, "\n> {}", e.message);
            }
            if let Some(p) = &failed_payload {
                let _ = write!(text, "\nfailed payload: `{p}`");
            }
            if let Some(h) = &resume_hint {
                let _ = write!(text, "\nresume: `{h}`");
            }
            json!({ "text": text })
        }
    }
}

fn record(target: String, attempts: u32, result: Result<(), String>) -> Notification {
    let (status, error) = match result {
        Ok(()) => ("sent", None),
        Err(e) => ("failed", Some(e)),
    };
    Notification {
        target,
        status: status.to_owned(),
        attempts,
        error,
    }
}

fn webhook(
    root: &Path,
    flow: &Flow,
    n: &Notify,
    spec: &dyn crate::steps::StepSpec,
    resolver: &mut Resolver<'_>,
    body: &Value,
    fin: &Finished,
) -> Notification {
    let secrets = std::sync::Arc::clone(&resolver.secrets);
    let target = n
        .url
        .as_ref()
        .and_then(|u| resolver.text(u).ok())
        .map_or_else(|| "url".to_owned(), |u| secrets.mask(&u).into_owned());
    let mut b = Build {
        step: "notify",
        root,
        env: resolver,
    };
    let mut step = match spec.build(&mut b) {
        Ok(s) => s,
        Err(e) => return record(target, 0, Err(secrets.mask(&e.to_string()).into_owned())),
    };
    let cx = StepCx {
        root,
        flow: &flow.name,
        run_id: &fin.manifest.run_id,
        step_id: "notify",
        n: 1,
        input_hash: "",
        input_file: None,
        deadline: None,
        source: None,
        links: None,
        prior: &[],
    };
    let result = step.process(body.clone(), &cx);
    let notes = step.take_notes();
    let counted: u32 = notes
        .iter()
        .filter_map(|n| n["attempts"].as_u64())
        .map(|a| u32::try_from(a).unwrap_or(u32::MAX))
        .sum();
    match result {
        Ok(_) => record(target, counted.max(1), Ok(())),
        Err(e) => {
            let message = secrets.mask(&e.message).into_owned();
            let attempts = counted + attempts_in(&message);
            record(target, attempts, Err(message))
        }
    }
}

/// The attempts an `http` error names (`… (after 4 attempts)`), else 1.
fn attempts_in(message: &str) -> u32 {
    message
        .rfind("(after ")
        .and_then(|i| message[i + 7..].split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

fn command(
    root: &Path,
    flow: &Flow,
    n: &Notify,
    resolver: &mut Resolver<'_>,
    body: &Value,
    fin: &Finished,
    secrets: &Secrets,
) -> Notification {
    let args: Result<Vec<String>, String> = n
        .run
        .iter()
        .map(|t| resolver.text(t).map_err(|e| e.to_string()))
        .collect();
    let target = n.run.iter().map(Text::raw).collect::<Vec<_>>().join(" ");
    let args = match args {
        Ok(a) => a,
        Err(e) => return record(target, 0, Err(e)),
    };
    let input = serde_json::to_vec(body).expect("a notification always serialises");
    let mut attempt = 0;
    loop {
        attempt += 1;
        match run_once(root, flow, fin, &args, &input, n.timeout, secrets) {
            Ok(()) => return record(target, attempt, Ok(())),
            Err(e) if attempt > n.retries || crate::child::stop_signal().is_some() => {
                let message = secrets.mask(&e).into_owned();
                return record(target, attempt, Err(message));
            }
            Err(_) => std::thread::sleep(crate::steps::backoff(attempt)),
        }
    }
}

/// Runs the command once in a process group of its own, the body on its stdin.
fn run_once(
    root: &Path,
    flow: &Flow,
    fin: &Finished,
    args: &[String],
    input: &[u8],
    timeout: Duration,
    secrets: &Secrets,
) -> Result<(), String> {
    let Some((prog, rest)) = args.split_first() else {
        return Err("`run` is empty".to_owned());
    };
    let program = if prog.contains('/') && Path::new(prog).is_relative() {
        root.join(prog)
    } else {
        prog.into()
    };
    let mut cmd = Command::new(&program);
    cmd.args(rest)
        .current_dir(root)
        .env("FLOWRUN_FLOW", &flow.name)
        .env("FLOWRUN_RUN", &fin.manifest.run_id)
        .env("FLOWRUN_STATUS", fin.manifest.status.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut group =
        crate::child::spawn(&mut cmd).map_err(|e| format!("cannot start `{prog}`: {e}"))?;
    let stdin = group.child().stdin.take();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(mut s) = stdin {
            // A command that does not read its input is its own business.
            let _ = s.write_all(&input);
        }
    });
    let stderr = group.child().stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(s) = stderr {
            let _ = s.take(64 * 1024).read_to_end(&mut text);
        }
        String::from_utf8_lossy(&text).into_owned()
    });
    let waited = group.wait(Some(Instant::now() + timeout), &|| false);
    group.end();
    let _ = writer.join();
    let err = reader.join().unwrap_or_default();
    let t = err.trim();
    // Masked before it is cut, so that no piece of a secret is quoted.
    let tail = if t.is_empty() {
        String::new()
    } else {
        format!(": {}", secrets.mask_tail(t, STDERR_QUOTE))
    };
    match waited {
        Ok(crate::child::Waited::Exited(s)) if s.success() => Ok(()),
        Ok(crate::child::Waited::Exited(s)) => Err(format!("`{prog}` exited with {s}{tail}")),
        Ok(crate::child::Waited::TimedOut) => Err(format!(
            "`{prog}` did not finish within {} (timeout)",
            crate::flow::duration::show(timeout)
        )),
        Ok(crate::child::Waited::Stopped(sig)) => Err(format!(
            "`{prog}` was stopped by {}",
            crate::child::signal_name(sig)
        )),
        Ok(crate::child::Waited::GaveUp) => Err(format!("`{prog}` was given up on")),
        Err(e) => Err(format!("`{prog}`: {e}")),
    }
}
