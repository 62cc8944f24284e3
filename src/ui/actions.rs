//! `--actions`: resume, replay and run-with-data, behind a token. Each action runs this
//! binary with the same arguments a user would type, so the guards are the CLI's own.

use super::files::find_run;
use super::html::{error_box, esc, page};
use super::pages::error_page;
use super::server::{App, COOKIE, Req, Resp};
use crate::store::{Manifest, RunStatus, manifest::is_inside_run};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::process::{Command, Stdio};

/// A new random token: 32 hex digits from the system's random source.
///
/// # Errors
/// `/dev/urandom` cannot be read.
pub(crate) fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

/// Compares in time that does not depend on where the texts differ.
#[must_use]
pub(crate) fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn token_ok(app: &App<'_>, given: Option<&str>) -> bool {
    match (&app.token, given) {
        (Some(t), Some(g)) => same(t, g),
        _ => false,
    }
}

/// The token, when this browser has shown it (the cookie set by [`login`]).
#[must_use]
pub(crate) fn authorized<'a>(app: &'a App<'_>, req: &Req) -> Option<&'a str> {
    token_ok(app, req.cookie(COOKIE))
        .then_some(app.token.as_deref())
        .flatten()
}

/// `GET …?token=T`: with the right token, remember it in a cookie and go to the same
/// page without it (out of the address bar and history).
#[must_use]
pub(crate) fn login(app: &App<'_>, req: &Req, given: &str) -> Resp {
    if !token_ok(app, Some(given)) {
        return error_page(
            403,
            "Wrong token",
            if app.token.is_some() {
                "this is not the token printed when the viewer started"
            } else {
                "actions are off (start the viewer with --actions)"
            },
        );
    }
    let path: Vec<String> = req.segs.iter().map(|s| super::html::url_part(s)).collect();
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in req.query.iter().filter(|(k, _)| k != "token") {
        q.append_pair(k, v);
    }
    let q = q.finish();
    let location = format!(
        "/{}{}{q}",
        path.join("/"),
        if q.is_empty() { "" } else { "?" }
    );
    Resp::redirect(location).with(
        "Set-Cookie",
        format!("{COOKIE}={given}; Path=/; HttpOnly; SameSite=Strict"),
    )
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        esc(name),
        esc(value)
    )
}

/// The action forms of a run page (nothing when actions are off).
#[must_use]
pub(crate) fn run_forms(app: &App<'_>, req: &Req, m: &Manifest) -> String {
    if app.token.is_none() {
        return String::new();
    }
    let Some(token) = authorized(app, req) else {
        return "<section class=\"actions\"><h2>Actions</h2><p>Actions are on: open the address with <code>?token=…</code> printed when the viewer started to use them here.</p></section>".into();
    };
    let mut f = String::from("<section class=\"actions\"><h2>Actions</h2>");
    if matches!(
        m.status,
        RunStatus::Failure | RunStatus::Interrupted | RunStatus::Partial
    ) {
        let _ = write!(
            f,
            "<form method=\"post\" action=\"/actions/resume\">{}{}<button type=\"submit\" id=\"resume\">Resume this run</button> <code>flowrun resume {}</code></form>",
            hidden("token", token),
            hidden("run", &m.run_id),
            esc(&m.run_id)
        );
        if let Some(file) = m.error.as_ref().and_then(|e| e.failed_input.as_deref()) {
            let _ = write!(
                f,
                "<form method=\"post\" action=\"/actions/replay\">{}{}{}<button type=\"submit\" id=\"replay\">Replay the failed payload</button> <code>flowrun replay …/{} --auto-skip</code></form>",
                hidden("token", token),
                hidden("run", &m.run_id),
                hidden("file", file),
                esc(file)
            );
        }
    }
    let _ = write!(
        f,
        "<form method=\"post\" action=\"/actions/run\" class=\"run-with\">{}{}<label>Initialise <code>{}</code> with data (JSON)<br><textarea name=\"payload\" rows=\"6\" cols=\"80\"></textarea></label><br><button type=\"submit\" id=\"run-with\">Run the flow with this payload</button></form></section>",
        hidden("token", token),
        hidden("flow", &m.flow),
        esc(&m.flow)
    );
    f
}

/// `POST /actions/<what>`: checks the token in the form, then runs the command.
#[must_use]
pub(crate) fn post(app: &App<'_>, req: &Req, what: &str) -> Resp {
    if app.token.is_none() {
        return error_page(
            403,
            "Actions are off",
            "start the viewer with --actions to use them",
        );
    }
    if req.body_too_large {
        return error_page(413, "Too large", "the form is larger than 8 MiB");
    }
    let form_type = req.header("content-type").unwrap_or("");
    if !form_type.starts_with("application/x-www-form-urlencoded") {
        return error_page(
            415,
            "Not a form",
            "actions take a form (application/x-www-form-urlencoded)",
        );
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(&req.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if !token_ok(app, field("token")) {
        return error_page(
            403,
            "Wrong token",
            "the form lacks the token printed when the viewer started",
        );
    }
    let root = app.ctx.root.display().to_string();
    let mut args: Vec<String> = vec!["--root".into(), root, "-q".into()];
    // The viewer's store, however it was given (`--store` is not inherited).
    if let Some(url) = crate::store::backend::url() {
        args.extend(["--store".into(), url.into()]);
    }
    let mut stdin = None;
    match what {
        "resume" | "replay" => {
            let id = field("run").unwrap_or("");
            let Some(r) = find_run(app, id) else {
                return error_page(404, "No such run", &format!("no run `{id}` in this store"));
            };
            if what == "resume" {
                args.extend(["resume".into(), r.id]);
            } else {
                let file = field("file").unwrap_or("");
                if !is_inside_run(file) {
                    return error_page(
                        400,
                        "Refused path",
                        "the payload must be a file inside the run folder",
                    );
                }
                let path = r.dir.join(file);
                args.extend([
                    "replay".into(),
                    path.display().to_string(),
                    "--auto-skip".into(),
                ]);
            }
        }
        "run" => {
            let flow = field("flow").unwrap_or("");
            if !crate::flow::is_name(flow) {
                return error_page(400, "Bad flow", &format!("`{flow}` is not a flow name"));
            }
            args.extend(["run".into(), flow.into(), "--input".into(), "-".into()]);
            stdin = Some(field("payload").unwrap_or("").as_bytes().to_vec());
        }
        _ => return error_page(404, "Not found", "no such action"),
    }
    run_command(app, &args, stdin)
}

/// Runs this binary with `args`; a new run goes to its page, anything else is shown.
fn run_command(app: &App<'_>, args: &[String], stdin: Option<Vec<u8>>) -> Resp {
    let Some(exe) = &app.exe else {
        return error_page(500, "Cannot run", "the path of this program is not known");
    };
    let child = Command::new(exe)
        .args(args)
        .current_dir(&app.ctx.root)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return error_page(500, "Cannot run", &format!("{}: {e}", exe.display())),
    };
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // Fed from a thread: a child that stops reading must not block the answer.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    let out = match child.wait_with_output() {
        Ok(o) => o,
        Err(e) => return error_page(500, "Cannot run", &e.to_string()),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let new_run = stdout
        .lines()
        .map(str::trim)
        .find(|l| crate::time::is_run_id(l));
    if let Some(id) = new_run {
        return Resp::redirect(format!("/runs/{}", super::html::url_part(id)));
    }
    let shown_args = args
        .iter()
        .skip(3)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    let body = format!(
        "<h1>Nothing was run</h1><p><code>flowrun {}</code> exited with code {}.</p>{}<p><a href=\"/\">Back to the run logs</a></p>",
        esc(&shown_args),
        out.status
            .code()
            .map_or_else(|| "-".into(), |c| c.to_string()),
        error_box("what it said", &format!("{stdout}{stderr}"))
    );
    Resp::html(409, page("Nothing was run", &body))
}
