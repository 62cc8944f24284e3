//! `command`: runs a program (no shell) with the payload as JSON on stdin; stdout is the output.

use super::{Step, StepCx, StepError};
use crate::flow::LineFormat;
use crate::flow::duration::show;
use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A `command` step.
pub struct Command {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub timeout: Option<Duration>,
    pub output: LineFormat,
}

/// How much of stderr is quoted in an error.
const STDERR_TAIL: usize = 2000;

impl Step for Command {
    fn process(&mut self, input: Value, cx: &StepCx<'_>) -> Result<Vec<Value>, StepError> {
        let name = &self.argv[0];
        let program = if name.contains('/') {
            cx.root.join(name)
        } else {
            name.into()
        };
        // Its own process group: a Ctrl-C meant for the runner does not kill the step.
        let mut child = std::process::Command::new(&program)
            .process_group(0)
            .args(&self.argv[1..])
            .current_dir(cx.root)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("FLOWRUN_FLOW", cx.flow)
            .env("FLOWRUN_RUN", cx.run_id)
            .env("FLOWRUN_STEP", cx.step_id)
            .env("FLOWRUN_PAYLOAD", cx.n.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| StepError::new(format!("cannot start `{name}`: {e}")))?;

        let mut stdin = child.stdin.take().expect("stdin is piped");
        let body = serde_json::to_vec(&input).expect("a payload always serialises");
        std::thread::spawn(move || {
            // A program that does not read its input closes the pipe: not an error.
            let _ = stdin.write_all(&body).and_then(|()| stdin.write_all(b"\n"));
        });
        let stdout = collect(child.stdout.take().expect("stdout is piped"));
        let stderr = collect(child.stderr.take().expect("stderr is piped"));

        let limit = match (self.timeout, cx.deadline) {
            (Some(t), Some(d)) => Some((Instant::now() + t).min(d)),
            (Some(t), None) => Some(Instant::now() + t),
            (None, d) => d,
        };
        let status =
            wait(&mut child, limit).map_err(|e| StepError::new(format!("`{name}`: {e}")))?;
        let Some(status) = status else {
            let what = match self.timeout {
                Some(t) if limit.is_some_and(|l| cx.deadline.is_none_or(|d| l < d)) => {
                    format!("`{name}` did not finish within its timeout of {}", show(t))
                }
                _ => format!("`{name}` was stopped: the run's timeout was reached"),
            };
            return Err(StepError::new(what));
        };
        let out = stdout
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_default();
        let err = stderr
            .recv_timeout(Duration::from_secs(1))
            .unwrap_or_default();
        if !status.success() {
            return Err(StepError::new(format!(
                "`{name}` {}{}",
                describe(status),
                tail(&err)
            )));
        }
        parse_output(name, &out, self.output)
    }
}

fn collect(mut from: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = from.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// Waits for `child` until `limit`; kills it and returns `None` when the limit passes.
fn wait(child: &mut Child, limit: Option<Instant>) -> std::io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if limit.is_some_and(|l| Instant::now() >= l) {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        (None, None) => "failed".to_owned(),
    }
}

fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let mut start = text.len().saturating_sub(STDERR_TAIL);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!(": {}", &text[start..])
}

fn parse_output(name: &str, out: &[u8], format: LineFormat) -> Result<Vec<Value>, StepError> {
    match format {
        LineFormat::Json => {
            if out.iter().all(u8::is_ascii_whitespace) {
                return Err(StepError::new(format!(
                    "`{name}` printed nothing; it must print one JSON value (or set output = \"ndjson\" to emit zero or more payloads)"
                )));
            }
            crate::json::decode(out, 1).map(|v| vec![v]).map_err(|e| {
                StepError::new(format!(
                    "`{name}` printed output that is not one JSON value (line {}, column {}): {}",
                    e.line, e.column, e.message
                ))
            })
        }
        LineFormat::Ndjson => crate::json::decode_lines(out)
            .map_err(|e| StepError::new(format!("`{name}` output line {}: {}", e.line, e.message))),
    }
}
