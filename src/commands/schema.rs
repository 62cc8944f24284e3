//! `flowrun schema`: a JSON schema (draft 2020-12) of the flow file, for editors that
//! read a `#:schema ./flowrun.schema.json` first line (Taplo, Even Better TOML).
//!
//! Built from ONE table of step kinds and their options ([`KINDS`]), so that it can be
//! switched to the step-kind registry when that exposes options; the integration test
//! `schema::every_flow_agrees_with_the_parser` validates every flow of the repository
//! and of the corpus against it, so schema and parser cannot drift apart.

use super::{Ctx, out_json};
use crate::error::{Error, Exit};
use serde_json::{Map, Value, json};

/// The type of an option.
#[derive(Clone, Copy)]
pub(crate) enum Ty {
    /// Any string (placeholders allowed).
    Str,
    /// A jq filter (a string).
    Jq,
    /// `true` / `false`.
    Bool,
    /// A whole number of at least this.
    Uint(u64),
    /// A duration string: `30s`, `15m`, `1h30m`.
    Duration,
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// An HTTP method, any case.
    Method,
    /// A table of strings.
    StrTable,
    /// A non-empty array of strings.
    StrArray,
    /// Any TOML value.
    Any,
}

/// One option of a kind: name, type, whether required, what it means.
pub(crate) type Opt = (&'static str, Ty, bool, &'static str);

/// Every step kind with its options (besides `id`, `kind`, `skip`, `description`).
pub(crate) const KINDS: &[(&str, &str, &[Opt])] = &[
    (
        "read",
        "emits one payload per file matching a glob, sorted by path",
        &[
            ("path", Ty::Str, true, "glob relative to the project root"),
            (
                "format",
                Ty::OneOf(&["json", "ndjson", "csv"]),
                false,
                "file format (default json)",
            ),
            (
                "allow_empty",
                Ty::Bool,
                false,
                "matching no file gives zero payloads instead of an error",
            ),
        ],
    ),
    (
        "write",
        "writes the payload to a file, passes it on",
        &[
            (
                "path",
                Ty::Str,
                true,
                "path template with {flow} {run} {step} {n} {hash}",
            ),
            (
                "format",
                Ty::OneOf(&["json", "ndjson"]),
                false,
                "file format (default json)",
            ),
        ],
    ),
    (
        "http",
        "sends a request, emits the JSON response (one payload per page)",
        &[
            ("method", Ty::Method, false, "HTTP method (default GET)"),
            ("url", Ty::Str, true, "the URL"),
            ("headers", Ty::StrTable, false, "request headers"),
            ("query", Ty::StrTable, false, "query parameters"),
            (
                "body",
                Ty::OneOf(&["payload", "none"]),
                false,
                "send the payload as JSON, or nothing",
            ),
            (
                "next",
                Ty::Jq,
                false,
                "jq giving the next page's URL or null",
            ),
            ("timeout", Ty::Duration, false, "per request (default 30s)"),
            ("retries", Ty::Uint(0), false, "extra attempts (default 0)"),
            (
                "idempotency_key",
                Ty::Bool,
                false,
                "send an Idempotency-Key header",
            ),
            (
                "response",
                Ty::OneOf(&["json", "text"]),
                false,
                "how the body is read (default json)",
            ),
            ("max_pages", Ty::Uint(1), false, "most pages (default 1000)"),
            (
                "max_response_bytes",
                Ty::Uint(1),
                false,
                "largest body (default 64 MiB)",
            ),
        ],
    ),
    (
        "command",
        "runs a program (no shell) with the payload as JSON on stdin",
        &[
            ("run", Ty::StrArray, true, "program and arguments"),
            ("timeout", Ty::Duration, false, "per payload"),
            ("env", Ty::StrTable, false, "extra environment"),
            (
                "output",
                Ty::OneOf(&["json", "ndjson"]),
                false,
                "how stdout is read (default json)",
            ),
        ],
    ),
    (
        "map",
        "jq filter yielding exactly one value",
        &[("jq", Ty::Jq, true, "the filter")],
    ),
    (
        "filter",
        "keeps array elements (or whole payloads) for which the condition holds",
        &[
            ("jq", Ty::Jq, true, "the condition"),
            (
                "keep_empty",
                Ty::Bool,
                false,
                "keep arrays the filter emptied",
            ),
        ],
    ),
    (
        "assert",
        "checks the payload (per element for arrays), passes it on",
        &[
            ("jq", Ty::Jq, false, "condition"),
            (
                "each",
                Ty::Bool,
                false,
                "check jq per element (default true)",
            ),
            ("equals", Ty::Any, false, "the expected whole payload"),
            (
                "equals_file",
                Ty::Str,
                false,
                "a file holding the expected payload",
            ),
            ("message", Ty::Str, false, "message on failure"),
        ],
    ),
    (
        "split",
        "cuts the array at path into batches of size",
        &[
            ("path", Ty::Jq, false, "where the array is (default .)"),
            ("size", Ty::Uint(1), true, "batch size"),
        ],
    ),
    ("merge", "joins all its inputs into one array", &[]),
    (
        "dedupe",
        "drops elements whose key an earlier successful run saw",
        &[
            ("key", Ty::Jq, true, "jq giving an element's key"),
            (
                "mode",
                Ty::OneOf(&["filter", "track", "filter-and-track"]),
                false,
                "what to do with keys (default filter-and-track)",
            ),
        ],
    ),
];

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const DURATION: &str = "^[0-9]+(ms|s|m|h|d)([0-9]+(ms|s|m|h|d))*$";

fn ty(t: Ty, what: &str) -> Value {
    let mut v = match t {
        Ty::Str => json!({"type": "string"}),
        Ty::Jq => json!({"type": "string", "minLength": 1}),
        Ty::Bool => json!({"type": "boolean"}),
        Ty::Uint(min) => json!({"type": "integer", "minimum": min}),
        Ty::Duration => json!({"type": "string", "pattern": DURATION}),
        Ty::OneOf(words) => json!({"type": "string", "enum": words}),
        Ty::Method => {
            // Any case: each letter as a class of both cases.
            let alts: Vec<String> = METHODS
                .iter()
                .map(|m| {
                    m.chars().fold(String::new(), |mut acc, c| {
                        acc.push('[');
                        acc.push(c);
                        acc.push(c.to_ascii_lowercase());
                        acc.push(']');
                        acc
                    })
                })
                .collect();
            json!({"type": "string", "pattern": format!("^({})$", alts.join("|"))})
        }
        Ty::StrTable => json!({"type": "object", "additionalProperties": {"type": "string"}}),
        Ty::StrArray => json!({"type": "array", "minItems": 1, "items": {"type": "string"}}),
        Ty::Any => json!({}),
    };
    if let Value::Object(o) = &mut v {
        o.insert("description".into(), Value::String(what.to_owned()));
    }
    v
}

/// The schema.
#[must_use]
pub(crate) fn schema() -> Value {
    let id = json!({
        "type": "string",
        "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$",
        "description": "unique in the flow: [a-z0-9][a-z0-9_-]{0,63}"
    });
    let names: Vec<&str> = KINDS.iter().map(|(k, _, _)| *k).collect();
    let mut variants = Vec::new();
    for (kind, what, opts) in KINDS {
        let mut props = Map::new();
        props.insert("id".into(), id.clone());
        props.insert("kind".into(), json!({"const": kind, "description": what}));
        props.insert(
            "skip".into(),
            json!({"type": "boolean", "description": "skip this step (a re-sync in progress)"}),
        );
        props.insert("description".into(), json!({"type": "string"}));
        props.insert(
            "track".into(),
            json!({"type": "object", "additionalProperties": {"type": "string"}, "description": "NAME = jq: values recorded for `flowrun find NAME=VALUE`"}),
        );
        let mut required = vec!["id", "kind"];
        for (name, t, req, what) in *opts {
            props.insert((*name).into(), ty(*t, what));
            if *req {
                required.push(name);
            }
        }
        variants.push(json!({
            "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
            "then": {
                "properties": props,
                "required": required,
                "additionalProperties": false,
            },
        }));
    }
    let mut step = json!({
        "type": "object",
        "required": ["id", "kind"],
        "properties": {
            "id": id,
            "kind": {"type": "string", "enum": names},
        },
    });
    step["allOf"] = Value::Array(variants);
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://flowrun.invalid/flowrun.schema.json",
        "title": "flowrun flow file",
        "description": "A flow: flows/<name>.toml. Generated by `flowrun schema`.",
        "type": "object",
        "additionalProperties": false,
        "required": ["steps"],
        "properties": {
            "description": {"type": "string"},
            "trigger": {
                "type": "object",
                "additionalProperties": false,
                "minProperties": 1,
                "maxProperties": 1,
                "description": "what starts the flow besides a person: one of every, cron, watch",
                "properties": {
                    "every": ty(Ty::Duration, "run this often, e.g. 15m"),
                    "cron": ty(Ty::Str, "a cron expression (UTC)"),
                    "watch": ty(Ty::Str, "a glob: each new matching file starts a run"),
                },
            },
            "settings": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "max_payload_bytes": ty(Ty::Uint(0), "stored payloads above this are trimmed (0 = never)"),
                    "timeout": ty(Ty::Duration, "whole-run limit"),
                },
            },
            "steps": {
                "type": "array",
                "minItems": 1,
                "items": step,
            },
        },
    })
}

/// Prints the schema.
///
/// # Errors
/// None in practice; the signature matches the other commands.
#[allow(
    clippy::unnecessary_wraps,
    reason = "the signature every command has, for the dispatch"
)]
pub(crate) fn print(_ctx: &Ctx) -> Result<Exit, Error> {
    out_json(&schema());
    Ok(Exit::Success)
}
