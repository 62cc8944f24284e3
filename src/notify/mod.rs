//! `[notify]`: telling a webhook and/or a command how a run ended. The table is read
//! here (`read`); [`send`] runs after the run is recorded and never changes its status.
//!
//! A webhook is an `http` step's request (`steps::webhook`: POST, its retries, redirects
//! and cross-origin rules, its masking), so nothing of the HTTP handling is repeated.

mod send;

pub(crate) use send::send;

use crate::flow::Text;
use crate::flow::reader::{Cx, Item, Reader, table, text_of, type_err};
use crate::steps::StepSpec;
use std::sync::Arc;
use std::time::Duration;

/// Statuses `on` may name; `partial` is the status of a run some of whose payloads
/// failed under `on_error = "continue"`.
const STATUSES: &[&str] = &["failure", "partial", "interrupted", "success"];

/// What the body looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `{flow, run_id, status, failed_step, error, failed_payload, resume_hint}`.
    Json,
    /// `{"text": "…"}`: a Slack (or Mattermost, …) incoming webhook.
    Slack,
}

/// The `[notify]` table of a flow.
#[derive(Debug, Clone)]
pub(crate) struct Notify {
    /// The run statuses that notify.
    pub(crate) on: Vec<String>,
    /// `url` with `headers`, as an `http` request.
    pub(crate) webhook: Option<Arc<dyn StepSpec>>,
    /// `url` as written, for the record (placeholders unresolved).
    pub(crate) url: Option<Text>,
    /// `run = ["prog", …]`.
    pub(crate) run: Vec<Text>,
    /// Limit per attempt.
    pub(crate) timeout: Duration,
    /// Extra attempts after a failed one.
    pub(crate) retries: u32,
    /// The body's shape.
    pub(crate) format: Format,
}

/// Reads `[notify]`; `None` when it has problems (each reported with its place).
pub(crate) fn read(cx: &mut Cx<'_>, item: &Item<'_>) -> Option<Notify> {
    let t = table(cx, item, "notify")?;
    let before = cx.count();
    let mut r = Reader::new(t, item.span().start, "[notify]");
    let on = match r.get("on") {
        None => vec!["failure".to_owned(), "partial".to_owned()],
        Some(item) => statuses(cx, item),
    };
    let url = r.text(cx, "url");
    let headers = r.text_table(cx, "headers");
    let run = match r.get("run") {
        None => Vec::new(),
        Some(item) => program(cx, item),
    };
    let timeout = r.duration(cx, "timeout").unwrap_or(Duration::from_secs(30));
    let retries = r
        .uint(cx, "retries", 0)
        .map_or(3, |n| u32::try_from(n.min(100)).unwrap_or(100));
    let format = r
        .choice(
            cx,
            "format",
            &[("json", Format::Json), ("slack", Format::Slack)],
        )
        .unwrap_or(Format::Json);
    r.finish(cx);
    if url.is_none() && run.is_empty() && cx.count() == before {
        cx.err(item.span().start, "[notify] needs `url` and/or `run`");
    }
    if !headers.is_empty() && url.is_none() && cx.count() == before {
        cx.err(item.span().start, "[notify] has `headers` but no `url`");
    }
    if cx.count() > before {
        return None;
    }
    let webhook = url.clone().map(|u| {
        Arc::new(crate::steps::webhook(u, headers, timeout, retries)) as Arc<dyn StepSpec>
    });
    Some(Notify {
        on,
        webhook,
        url,
        run,
        timeout,
        retries,
        format,
    })
}

fn statuses(cx: &mut Cx<'_>, item: &Item<'_>) -> Vec<String> {
    let Some(list) = item.get_ref().as_array() else {
        type_err(
            cx,
            item,
            "on",
            "an array of statuses, e.g. [\"failure\", \"partial\"]",
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for v in list {
        match v.get_ref().as_str() {
            Some(s) if STATUSES.contains(&s) => out.push(s.to_owned()),
            Some(s) => cx.err(
                v.span().start,
                format!(
                    "`on`: `{s}` is not a run status; use {}",
                    STATUSES.join(", ")
                ),
            ),
            None => type_err(cx, v, "on", "a string"),
        }
    }
    out
}

fn program(cx: &mut Cx<'_>, item: &Item<'_>) -> Vec<Text> {
    let Some(list) = item.get_ref().as_array() else {
        type_err(
            cx,
            item,
            "run",
            "an array of strings, e.g. [\"scripts/alert.sh\"]",
        );
        return Vec::new();
    };
    if list.is_empty() {
        cx.err(item.span().start, "`run` needs at least the program");
    }
    list.iter().filter_map(|v| text_of(cx, v, "run")).collect()
}
