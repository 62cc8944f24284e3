//! `command`: runs a program (no shell) with the payload as JSON on stdin; stdout is the output.
//! The program's process group is owned by [`crate::child`].

use super::BuildError;
use super::kind::{Build, Carries, Kind, Props, StepSpec, Ty, opt};
use super::{LineFormat, Step, StepCx, StepError};
use crate::child::{self, Waited};
use crate::flow::Text;
use crate::flow::duration::show;
use crate::flow::reader::{Cx, Reader};
use crate::flow::reader::{Item, text_of, type_err};
use serde_json::Value;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// A `command` step.
pub(crate) struct Command {
    pub(crate) argv: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) output: LineFormat,
    /// The run's secrets: masked out of the stderr tail before it is cut.
    pub(crate) secrets: std::sync::Arc<crate::secrets::Secrets>,
}

/// How much of stderr is quoted in an error.
const STDERR_TAIL: usize = 2000;
/// How much of stderr is kept in memory: its last bytes only, never the whole stream
/// (more than is quoted, so a secret can still be masked across the cut).
const STDERR_KEEP: usize = 16 * 1024;
/// The most a command may print on stdout; more is an error (its output is one payload
/// or a payload per line, held in memory whole).
pub(crate) const MAX_STDOUT: usize = 256 * 1024 * 1024;
/// After the command exits (and whatever was left of its process group is ended), how
/// long to wait for the last of its output to be read. Only a process outside the group
/// that holds the pipe open makes this wait the whole time.
const DRAIN_WAIT: Duration = Duration::from_secs(1);

impl Step for Command {
    fn process(&mut self, input: Value, cx: &StepCx<'_>) -> Result<Vec<Value>, StepError> {
        let name = &self.argv[0];
        let program = if name.contains('/') {
            cx.root.join(name)
        } else {
            name.into()
        };
        // Its own process group (see `crate::child`): a Ctrl-C meant for the runner does
        // not reach the step directly; the runner forwards the stop and ends the group.
        let mut cmd = std::process::Command::new(&program);
        cmd.args(&self.argv[1..])
            .current_dir(cx.root)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("FLOWRUN_FLOW", cx.flow)
            .env("FLOWRUN_RUN", cx.run_id)
            .env("FLOWRUN_STEP", cx.step_id)
            .env("FLOWRUN_PAYLOAD", cx.n.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut group = child::spawn(&mut cmd)
            .map_err(|e| StepError::new(format!("cannot start `{name}`: {e}")))?;

        let mut stdin = group.child().stdin.take().expect("stdin is piped");
        let body = serde_json::to_vec(&input).expect("a payload always serialises");
        std::thread::spawn(move || {
            // A program that does not read its input closes the pipe: not an error.
            let _ = stdin.write_all(&body).and_then(|()| stdin.write_all(b"\n"));
        });
        let stdout = Capture::start(
            group.child().stdout.take().expect("stdout is piped"),
            Sink::Capped(Vec::new()),
        );
        let stderr = Capture::start(
            group.child().stderr.take().expect("stderr is piped"),
            Sink::Tail(VecDeque::new()),
        );

        let limit = match (self.timeout, cx.deadline) {
            (Some(t), Some(d)) => Some((Instant::now() + t).min(d)),
            (Some(t), None) => Some(Instant::now() + t),
            (None, d) => d,
        };
        let waited = group
            .wait(limit, &|| stdout.overflowed())
            .map_err(|e| StepError::new(format!("`{name}`: {e}")))?;
        // Whatever the command left running in its group ends with it.
        group.end();
        let status = match waited {
            Waited::Exited(status) => status,
            Waited::TimedOut => {
                let what = match self.timeout {
                    Some(t) if limit.is_some_and(|l| cx.deadline.is_none_or(|d| l < d)) => {
                        format!("`{name}` did not finish within its timeout of {}", show(t))
                    }
                    _ => format!("`{name}` was stopped: the run's timeout was reached"),
                };
                return Err(StepError::new(what));
            }
            Waited::Stopped(sig) => {
                return Err(StepError::new(format!(
                    "`{name}` was stopped by {}",
                    child::signal_name(sig)
                )));
            }
            Waited::GaveUp => {
                return Err(too_much(name, "; it was stopped"));
            }
        };
        let out = stdout.finish();
        let err = stderr.finish();
        if stdout.overflowed() {
            return Err(too_much(name, ""));
        }
        if !status.success() {
            return Err(StepError::new(format!(
                "`{name}` {}{}",
                describe(status),
                tail(&err, &self.secrets)
            )));
        }
        parse_output(name, &out, self.output)
    }
}

/// The error for a command whose stdout went over [`MAX_STDOUT`] (the run's error names
/// the step).
fn too_much(name: &str, then: &str) -> StepError {
    StepError::new(format!(
        "`{name}` printed more than {} MiB on stdout, the limit for the output of a command{then}",
        MAX_STDOUT / (1024 * 1024)
    ))
}

/// Where a captured stream goes.
enum Sink {
    /// stdout: everything, up to [`MAX_STDOUT`].
    Capped(Vec<u8>),
    /// stderr: only the last [`STDERR_KEEP`] bytes.
    Tail(VecDeque<u8>),
}

impl Sink {
    /// Takes `chunk`; false once the stream is over its limit (what follows is dropped).
    fn take(&mut self, chunk: &[u8]) -> bool {
        match self {
            Sink::Capped(buf) => {
                if buf.len() + chunk.len() > MAX_STDOUT {
                    return false;
                }
                buf.extend_from_slice(chunk);
                true
            }
            Sink::Tail(ring) => {
                ring.extend(chunk);
                let over = ring.len().saturating_sub(STDERR_KEEP);
                ring.drain(..over);
                true
            }
        }
    }

    fn into_bytes(self) -> Vec<u8> {
        match self {
            Sink::Capped(buf) => buf,
            Sink::Tail(ring) => ring.into(),
        }
    }
}

/// A stream of the command read on a thread of its own, into shared bounded memory, so
/// what was read can be taken without waiting for the stream's end.
struct Capture {
    sink: Arc<Mutex<Option<Sink>>>,
    overflow: Arc<AtomicBool>,
    done: mpsc::Receiver<()>,
}

impl Capture {
    fn start(mut from: impl Read + Send + 'static, sink: Sink) -> Capture {
        let shared = Arc::new(Mutex::new(Some(sink)));
        let overflow = Arc::new(AtomicBool::new(false));
        let (tx, done) = mpsc::channel();
        let (s, o) = (Arc::clone(&shared), Arc::clone(&overflow));
        std::thread::spawn(move || {
            let mut chunk = vec![0_u8; 64 * 1024];
            loop {
                let n = match from.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                // Over the limit: keep reading (so the command is not blocked on a full
                // pipe) but keep nothing more.
                if o.load(Ordering::Relaxed) {
                    continue;
                }
                let mut guard = s.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(sink) = guard.as_mut()
                    && !sink.take(&chunk[..n])
                {
                    o.store(true, Ordering::Relaxed);
                    *guard = Some(Sink::Capped(Vec::new()));
                }
            }
            let _ = tx.send(());
        });
        Capture {
            sink: shared,
            overflow,
            done,
        }
    }

    fn overflowed(&self) -> bool {
        self.overflow.load(Ordering::Relaxed)
    }

    /// What was read, once the stream ended or [`DRAIN_WAIT`] passed.
    fn finish(&self) -> Vec<u8> {
        let _ = self.done.recv_timeout(DRAIN_WAIT);
        let mut guard = self
            .sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.take().map(Sink::into_bytes).unwrap_or_default()
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

fn tail(stderr: &[u8], secrets: &crate::secrets::Secrets) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    // Masked before it is cut: a secret that straddles the cut leaves no piece behind.
    format!(": {}", secrets.mask_tail(text, STDERR_TAIL))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stderr_tail_keeps_only_the_last_bytes() {
        let mut sink = Sink::Tail(VecDeque::new());
        for i in 0..100_u8 {
            assert!(sink.take(&[i; 1000]));
        }
        let kept = sink.into_bytes();
        assert_eq!(kept.len(), STDERR_KEEP);
        assert_eq!(kept[kept.len() - 1], 99);
        assert_eq!(kept[0], 99 - u8::try_from(STDERR_KEEP / 1000).unwrap());
    }

    #[test]
    fn stdout_refuses_what_goes_over_the_limit() {
        let mut sink = Sink::Capped(Vec::new());
        assert!(sink.take(&vec![b' '; MAX_STDOUT - 1]));
        assert!(sink.take(b"x"));
        assert!(!sink.take(b"y"));
        assert_eq!(sink.into_bytes().len(), MAX_STDOUT);
    }

    #[test]
    fn the_quoted_tail_is_cut_on_a_character_boundary() {
        let text = "é".repeat(STDERR_TAIL);
        let quoted = tail(text.as_bytes(), crate::secrets::Secrets::none());
        assert!(quoted.starts_with(": é"));
        assert!(quoted.chars().count() <= STDERR_TAIL + 2);
    }
}

/// The `command` kind.
pub(crate) static KIND: Kind = Kind {
    name: "command",
    doc: "runs a program (no shell) with the payload as JSON on stdin",
    options: &[
        opt("run", Ty::StrArray, true, "program and arguments"),
        opt("timeout", Ty::Duration, false, "per payload"),
        opt("env", Ty::StrTable, false, "extra environment"),
        opt(
            "output",
            Ty::OneOf(&["json", "ndjson"]),
            false,
            "how stdout is read (default json)",
        ),
    ],
    props: Props {
        connector: true,
        reuses_outputs: true,
    },
    read,
};

#[derive(Debug)]
struct CommandSpec {
    run: Vec<Text>,
    timeout: Option<Duration>,
    env: Vec<(String, Text)>,
    output: LineFormat,
}

fn read(r: &mut Reader<'_, '_>, cx: &mut Cx<'_>) -> Option<Box<dyn StepSpec>> {
    let run = match r.required(cx, "run") {
        Some(item) => string_array(cx, item, "run"),
        None => None,
    };
    let timeout = r.duration(cx, "timeout");
    let env = r.text_table(cx, "env");
    let output = LineFormat::read(r, cx, "output");
    Some(Box::new(CommandSpec {
        run: run?,
        timeout,
        env,
        output,
    }))
}

impl StepSpec for CommandSpec {
    fn build(&self, b: &mut Build<'_, '_>) -> Result<Box<dyn Step>, BuildError> {
        Ok(Box::new(Command {
            argv: self
                .run
                .iter()
                .map(|t| b.text(t))
                .collect::<Result<_, _>>()?,
            env: b.pairs(&self.env)?,
            timeout: self.timeout,
            output: self.output,
            secrets: b.secrets(),
        }))
    }

    fn texts(&self, f: &mut dyn FnMut(&str, &Text, Carries)) {
        for t in &self.run {
            f("run", t, Carries::Data);
        }
        for (k, v) in &self.env {
            f(&format!("env.{k}"), v, Carries::Credentials);
        }
    }
}

fn string_array(cx: &mut Cx<'_>, item: &Item<'_>, key: &str) -> Option<Vec<Text>> {
    let Some(array) = item.get_ref().as_array() else {
        type_err(
            cx,
            item,
            key,
            "an array of strings, e.g. [\"prog\", \"arg\"]",
        );
        return None;
    };
    if array.is_empty() {
        cx.err(
            item.span().start,
            format!("`{key}` needs at least the program to run"),
        );
        return None;
    }
    array.iter().map(|v| text_of(cx, v, key)).collect()
}
