//! `flowrun find NAME=VALUE [--flow F]`: the runs, steps, payload files and elements that
//! carried a tracked value, newest first (see `crate::track`).

use super::{Ctx, note, out, out_json};
use crate::error::{Error, Exit};
use crate::track::{self, Hit};
use serde_json::json;

/// Looks `NAME=VALUE` up in the index of `flow` (or of every flow with runs).
///
/// # Errors
/// A malformed argument, an unknown flow or a name no flow tracks (exit 2), or an index
/// that cannot be updated.
pub(crate) fn find(ctx: &Ctx, what: &str, flow: Option<&str>) -> Result<Exit, Error> {
    let Some((name, value)) = what.split_once('=') else {
        return Err(Error::Usage(format!(
            "`{what}`: give NAME=VALUE, e.g. `{}`",
            crate::hint::flowrun(["find", "order_id=ORD-00000023"])
        )));
    };
    if !track::is_track_name(name) {
        return Err(Error::Usage(format!(
            "`{name}` is not a tracked name: names are letters, digits, `_` and `-` (at most 64)"
        )));
    }
    let flows = match flow {
        Some(f) => {
            ctx.known_flow(f)?;
            vec![f.to_owned()]
        }
        None => {
            let mut all = ctx.store.flows();
            all.extend(crate::flow::list(&ctx.root).unwrap_or_default());
            all.sort();
            all.dedup();
            all
        }
    };
    let key = track::key(name, value);
    let mut hits: Vec<Hit> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for f in &flows {
        let found = track::lookup(&ctx.store, f, &key)?;
        hits.extend(found.hits);
        names.extend(found.names);
        names.extend(track::flow_names(&ctx.root, f));
    }
    names.sort();
    names.dedup();
    if !names.iter().any(|n| n == name) {
        let tracked = if names.is_empty() {
            "no step tracks any value: add `track = { NAME = \"<jq>\" }` to a step".to_owned()
        } else {
            format!("tracked names: {}", names.join(", "))
        };
        let scope = flow.map_or_else(|| "no flow".to_owned(), |f| format!("flow `{f}`"));
        return Err(Error::Usage(format!("{scope} tracks `{name}` ({tracked})")));
    }
    hits.sort_by(|a, b| {
        b.place
            .run_id
            .cmp(&a.place.run_id)
            .then_with(|| a.flow.cmp(&b.flow))
            .then_with(|| a.place.file.cmp(&b.place.file))
            .then_with(|| a.place.element.cmp(&b.place.element))
    });
    print(ctx, name, value, &hits);
    if hits.is_empty() {
        if !ctx.json {
            note(format!("no run carried {name}={value}"));
        }
        return Ok(Exit::Failed);
    }
    Ok(Exit::Success)
}

/// Prints the places found: JSON rows, paths (`-q`), or lines with commands to paste.
fn print(ctx: &Ctx, name: &str, value: &str, hits: &[Hit]) {
    let file_of = |h: &Hit| {
        ctx.store
            .run_dir(&h.flow, &h.place.run_id)
            .join(&h.place.file)
    };
    if ctx.json {
        let rows: Vec<_> = hits
            .iter()
            .map(|h| {
                let file = file_of(h);
                json!({
                    "flow": h.flow,
                    "run_id": h.place.run_id,
                    "step": h.place.step,
                    "file": crate::hint::path(&file),
                    "element": h.place.element,
                    "show": crate::hint::flowrun(["show", &h.place.run_id, "--step", &h.place.step]),
                    "replay": crate::hint::flowrun(["replay", &crate::hint::path(&file)]),
                })
            })
            .collect();
        out_json(&rows);
    } else if ctx.quiet {
        for h in hits {
            out(crate::hint::path(&file_of(h)));
        }
    } else if !hits.is_empty() {
        let runs = {
            let mut ids: Vec<&str> = hits.iter().map(|h| h.place.run_id.as_str()).collect();
            ids.dedup();
            ids.len()
        };
        out(format!(
            "{name}={value}: {} place{} in {runs} run{}, newest first",
            hits.len(),
            super::plural(hits.len()),
            super::plural(runs)
        ));
        let mut last: Option<(&str, &str)> = None;
        for h in hits {
            if last != Some((h.place.run_id.as_str(), h.place.step.as_str())) {
                out(format!(
                    "run {} of {}, step {}:  {}",
                    h.place.run_id,
                    h.flow,
                    h.place.step,
                    crate::hint::flowrun(["show", &h.place.run_id, "--step", &h.place.step])
                ));
                last = Some((h.place.run_id.as_str(), h.place.step.as_str()));
            }
            let element = h
                .place
                .element
                .map(|e| format!(" element {e}"))
                .unwrap_or_default();
            out(format!(
                "  {}{element}:  {}",
                crate::hint::path(&file_of(h)),
                crate::hint::flowrun(["replay", &crate::hint::path(&file_of(h))])
            ));
        }
    }
}
