//! `GET /api/runs` and `GET /api/runs/<id>`: the JSON of `runs --json` and `show --json`.

use super::files::find_run;
use super::server::{App, Req, Resp};
use crate::commands::{check_filters, run_row, select};
use serde_json::json;

/// Most runs one call lists.
const MAX_LIMIT: usize = 1000;

fn pretty(value: &impl serde::Serialize) -> String {
    // As `--json` prints it: pretty, then a newline.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
    text.push('\n');
    text
}

fn error(status: u16, message: &str) -> Resp {
    Resp::json(status, pretty(&json!({ "error": message })))
}

/// `GET /api/runs?flow=&status=&limit=` (limit 20 by default, like `runs`).
#[must_use]
pub(crate) fn runs(app: &App<'_>, req: &Req) -> Resp {
    let flow = req.param("flow");
    let status = req.param("status");
    if let Err(e) = check_filters(flow, status) {
        return error(400, &e.to_string());
    }
    let limit = match req.param("limit").map(str::parse::<usize>) {
        None => 20,
        Some(Ok(n)) => n.min(MAX_LIMIT),
        Some(Err(_)) => return error(400, "limit must be a number"),
    };
    let rows: Vec<_> = select(app.ctx, flow, status, limit)
        .iter()
        .map(run_row)
        .collect();
    Resp::json(200, pretty(&rows))
}

/// `GET /api/runs/<id>`: the run's manifest, as `show --json` prints it.
#[must_use]
pub(crate) fn run(app: &App<'_>, id: &str) -> Resp {
    let Some(r) = find_run(app, id) else {
        return error(404, &format!("no run `{id}` in this store"));
    };
    match app.ctx.store.read_manifest(&r.dir) {
        Ok(m) => Resp::json(200, pretty(&m)),
        Err(e) => error(422, &e.to_string()),
    }
}
