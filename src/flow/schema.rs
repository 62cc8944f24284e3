//! The flow file's schema: top-level keys, `[trigger]` and `[settings]`; the
//! `[[steps]]` array is read by `step_table`, each step's own options by its kind
//! (see `crate::steps`).

use super::reader::{Cx, Item, Reader, as_str, table};
use super::step_table::steps;
use super::{DEFAULT_MAX_PAYLOAD_BYTES, Problem, Settings, StepDef, Trigger, duration};
use std::sync::Arc;
use toml::de::DeTable;

/// What a flow file holds once it validates.
pub(crate) struct Parsed {
    pub(crate) description: Option<String>,
    pub(crate) trigger: Option<Trigger>,
    pub(crate) settings: Settings,
    pub(crate) steps: Vec<StepDef>,
    pub(crate) notify: Option<crate::notify::Notify>,
}

/// Validates `src`, returning the flow parts or every problem found.
pub(crate) fn parse(src: &str) -> Result<Parsed, Vec<Problem>> {
    let mut cx = Cx::new(src);
    let (doc, errors) = DeTable::parse_recoverable(src);
    if !errors.is_empty() {
        for e in errors {
            // Some errors (the parser's nesting limit) come without a place: they are
            // about the whole file rather than its first character.
            let at = e.span().map(|s| s.start);
            let message = format!("TOML: {}", e.message().trim_end());
            cx.problems.push((at, message));
        }
        return Err(cx.done());
    }
    let doc = doc.get_ref();
    let mut top = Reader::new(doc, 0, "the flow file");
    let description = top.str(&mut cx, "description").map(|(s, _)| s.to_owned());
    let trigger = top.get("trigger").and_then(|t| trigger(&mut cx, t));
    let settings = match top.get("settings") {
        Some(item) => settings(&mut cx, item),
        None => Settings {
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            timeout: None,
        },
    };
    let steps = match top.get("steps") {
        Some(item) => steps(&mut cx, item),
        None => {
            cx.err(0, "the flow has no steps: add at least one [[steps]] table");
            Vec::new()
        }
    };
    let notify = top
        .get("notify")
        .and_then(|n| crate::notify::read(&mut cx, n));
    top.finish(&mut cx);
    if cx.problems.is_empty() {
        Ok(Parsed {
            description,
            trigger,
            settings,
            steps,
            notify,
        })
    } else {
        Err(cx.done())
    }
}

fn trigger(cx: &mut Cx<'_>, item: &Item<'_>) -> Option<Trigger> {
    let t = table(cx, item, "trigger")?;
    let mut r = Reader::new(t, item.span().start, "[trigger]");
    let every = r.get("every");
    let cron = r.get("cron");
    let watch = r.get("watch");
    r.finish(cx);
    let set: Vec<&Item<'_>> = [every, cron, watch].into_iter().flatten().collect();
    if set.len() > 1 {
        cx.err(
            set[1].span().start,
            "[trigger] takes one of `every`, `cron` or `watch`, not several",
        );
        return None;
    }
    if let Some(item) = every {
        let (s, at) = as_str(cx, item, "every")?;
        return match duration::parse(s) {
            Ok(d) => Some(Trigger::Every(d)),
            Err(e) => {
                cx.err(at, format!("`every`: {e}"));
                None
            }
        };
    }
    if let Some(item) = cron {
        let (s, at) = as_str(cx, item, "cron")?;
        if s.split_whitespace().count() != 5 {
            cx.err(
                at,
                format!("`cron`: `{s}` must have 5 fields (minute hour day-of-month month day-of-week), in UTC"),
            );
            return None;
        }
        return match croner::parser::CronParser::new().parse(s) {
            Ok(c) => Some(Trigger::Cron(Arc::new(c), s.to_owned())),
            Err(e) => {
                cx.err(at, format!("`cron`: invalid pattern `{s}`: {e}"));
                None
            }
        };
    }
    if let Some(item) = watch {
        let (s, at) = as_str(cx, item, "watch")?;
        if let Err(e) = glob::Pattern::new(s) {
            cx.err(at, format!("`watch`: invalid glob `{s}`: {e}"));
            return None;
        }
        return Some(Trigger::Watch(s.to_owned()));
    }
    cx.err(
        item.span().start,
        "[trigger] needs one of `every`, `cron` or `watch`",
    );
    None
}

fn settings(cx: &mut Cx<'_>, item: &Item<'_>) -> Settings {
    let mut out = Settings {
        max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
        timeout: None,
    };
    let Some(t) = table(cx, item, "settings") else {
        return out;
    };
    let mut r = Reader::new(t, item.span().start, "[settings]");
    if let Some(n) = r.uint(cx, "max_payload_bytes", 0) {
        out.max_payload_bytes = n;
    }
    out.timeout = r.duration(cx, "timeout");
    r.finish(cx);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::reader::line_col;

    fn problems(src: &str) -> Vec<String> {
        match parse(src) {
            Ok(_) => Vec::new(),
            Err(p) => p
                .into_iter()
                .map(|p| format!("{}:{}: {}", p.line, p.col, p.message))
                .collect(),
        }
    }

    #[test]
    fn toml_errors_without_a_place_are_about_the_whole_file() {
        let deep = format!("{} = 1\n", vec!["a"; 10_000].join("."));
        let err = parse(&deep).err().expect("too deep");
        assert_eq!(err.len(), 1, "{err:?}");
        assert_eq!((err[0].line, err[0].col), (0, 0), "{err:?}");
        assert!(err[0].message.starts_with("TOML: "), "{err:?}");
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
        assert_eq!(line_col("x", 99), (1, 2));
    }

    #[test]
    fn valid_flow_parses() {
        let src = r#"
description = "d"
[trigger]
every = "15m"
[settings]
max_payload_bytes = 10
[[steps]]
id = "load"
kind = "read"
path = "data/*.json"
[[steps]]
id = "m"
kind = "map"
jq = '.a'
"#;
        let p = parse(src).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(p.steps.len(), 2);
        assert_eq!(p.settings.max_payload_bytes, 10);
    }

    #[test]
    fn jq_filters_may_hold_env_placeholders() {
        let step = "[[steps]]\nid = \"m\"\nkind = \"filter\"\njq = ";
        assert_eq!(
            problems(&format!(
                "{step}'.n < ${{env:LIMIT}} and .who == \"${{env:WHO}}\"'\n"
            )),
            Vec::<String>::new()
        );
        let p = problems(&format!("{step}'.n < ${{env:LIMIT}} | nosuch'\n"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("4:27: `jq`"), "{p:?}");
    }

    #[test]
    fn jq_errors_point_inside_the_string() {
        let src = "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.a | nosuch'\n";
        let p = problems(src);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("4:12:"), "{p:?}");
    }

    #[test]
    fn deeply_nested_jq_is_refused_before_it_is_compiled() {
        // Compiling this overflowed the stack (an abort, not an error) before the pre-scan.
        let deep = format!("{}.{}", "(".repeat(5000), ")".repeat(5000));
        let p = problems(&format!(
            "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '{deep}'\n"
        ));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("4:207: `jq`: the filter nests more than"),
            "{p:?}"
        );
        let chain = format!("{}1", "1 + ".repeat(5000));
        let p = problems(&format!(
            "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '{chain}'\n"
        ));
        assert_eq!(p.len(), 1, "{p:?}");
    }

    #[test]
    fn write_templates_may_hold_env_placeholders() {
        let step = "[[steps]]\nid = \"w\"\nkind = \"write\"\npath = ";
        assert_eq!(
            problems(&format!("{step}\"out/${{env:DIR}}/{{n}}.json\"\n")),
            Vec::<String>::new()
        );
        let p = problems(&format!("{step}\"out/{{env:DIR}}.json\"\n"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("unknown field `{env:DIR}`"), "{p:?}");
    }

    #[test]
    fn duplicate_ids_are_found_when_the_first_step_has_problems() {
        let src =
            "[[steps]]\nid = \"a\"\nkind = \"map\"\n[[steps]]\nid = \"a\"\nkind = \"merge\"\n";
        let p = problems(src);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].starts_with("1:1: step `a` (kind map) needs `jq`"),
            "{p:?}"
        );
        assert!(
            p[1].starts_with("5:6: duplicate step id `a`: first used at 2:6, again at 5:6"),
            "{p:?}"
        );
    }

    #[test]
    fn unknown_keys_list_each_expected_key_once() {
        let p = problems("[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.'\nextra = 1\n");
        assert_eq!(
            p,
            [
                "5:1: unknown key `extra` in step `m` (kind map); expected one of: description, id, jq, kind, on_error, skip, track"
            ]
        );
    }

    #[test]
    fn an_invalid_id_does_not_hide_the_step_s_other_problems() {
        let p = problems("[[steps]]\nid = \"A b\"\nkind = \"map\"\njq = 'nosuch'\nextra = 1\n");
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].starts_with("2:6: step id `A b` is not valid"), "{p:?}");
        assert!(p[1].starts_with("4:7: `jq`"), "{p:?}");
        assert!(
            p[2].starts_with("5:1: unknown key `extra` in step 1"),
            "{p:?}"
        );
    }

    #[test]
    fn out_of_range_numbers_are_shown_as_written() {
        let p = problems("[[steps]]\nid = \"s\"\nkind = \"split\"\nsize = 0\n");
        assert_eq!(p, ["4:8: `size` must be a whole number ≥ 1, not 0"]);
    }

    #[test]
    fn collects_all_problems() {
        let src = "bogus = 1\n[[steps]]\nid = \"a\"\nkind = \"nope\"\n[[steps]]\nid = \"Bad Id\"\nkind = \"map\"\n";
        let p = problems(src);
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].starts_with("1:1: unknown key `bogus`"), "{p:?}");
        assert!(p[1].starts_with("4:8: unknown step kind"), "{p:?}");
        assert!(
            p[2].starts_with("5:1: step 2 (kind map) needs `jq`"),
            "{p:?}"
        );
        assert!(p[3].starts_with("6:6: step id"), "{p:?}");
    }
}
