//! Flow file errors: each class is reported with `flows/<name>.toml:LINE:COL` and exit 2,
//! by `check` and by `run`, before anything runs.

use crate::support::Project;

/// Writes `flows/f.toml` and asserts that `check`, `check f` and `run f` all exit 2
/// with each of `want` (`LINE:COL: message…`) on stderr, and that nothing ran.
#[track_caller]
fn rejected(toml: &str, want: &[&str]) -> Project {
    let p = Project::new();
    p.flow("f", toml);
    for args in [&["check"][..], &["check", "f"], &["run", "f"]] {
        let mut out = p.cmd(args).run().code(2).only_errors();
        for w in want {
            out = out.stderr_has(&format!("error: flows/f.toml:{w}"));
        }
    }
    assert!(p.run_ids("f").is_empty(), "a run was started");
    p
}

const MERGE: &str = "[[steps]]\nid = \"a\"\nkind = \"merge\"\n";

#[test]
fn toml_syntax_error() {
    rejected(
        "[[steps]]\nid = \"a\"\nkind = = \"merge\"\n",
        &["3:8: TOML: "],
    );
}

#[test]
fn unknown_top_level_key() {
    rejected(
        &format!("description = \"d\"\nowner = \"me\"\n{MERGE}"),
        &["2:1: unknown key `owner` in the flow file"],
    );
}

#[test]
fn unknown_key_in_settings_and_trigger() {
    rejected(
        &format!("[trigger]\nevery = \"1h\"\nat = \"noon\"\n[settings]\nretries = 3\n{MERGE}"),
        &[
            "3:1: unknown key `at` in [trigger]",
            "5:1: unknown key `retries` in [settings]",
        ],
    );
}

#[test]
fn unknown_step_key() {
    rejected(
        &format!("{MERGE}path = \"x.json\"\n"),
        &["4:1: unknown key `path` in step `a` (kind merge)"],
    );
}

#[test]
fn unknown_kind() {
    rejected(
        "[[steps]]\nid = \"a\"\nkind = \"transform\"\n",
        &["3:8: unknown step kind `transform`"],
    );
}

#[test]
fn duplicate_id() {
    rejected(
        &format!("{MERGE}\n[[steps]]\nid = \"b\"\nkind = \"merge\"\n\n{MERGE}"),
        &["10:6: duplicate step id `a`: first used at 2:6, again at 10:6"],
    );
}

#[test]
fn invalid_step_ids() {
    for id in ["../x", "A b", "-a", ""] {
        rejected(
            &format!("[[steps]]\nid = \"{id}\"\nkind = \"merge\"\n"),
            &[&format!("2:6: step id `{id}` is not valid")],
        );
    }
}

#[test]
fn bad_duration() {
    rejected(
        &format!("[settings]\ntimeout = \"10 minutes\"\n{MERGE}"),
        &["2:11: `timeout`: invalid duration `10 minutes`"],
    );
    rejected(
        &format!(
            "{MERGE}\n[[steps]]\nid = \"c\"\nkind = \"command\"\nrun = [\"true\"]\ntimeout = \"1.5s\"\n"
        ),
        &["9:11: `timeout`: invalid duration `1.5s`"],
    );
}

#[test]
fn bad_every() {
    rejected(
        &format!("[trigger]\nevery = \"often\"\n{MERGE}"),
        &["2:9: `every`: invalid duration `often`"],
    );
}

#[test]
fn bad_cron() {
    rejected(
        &format!("[trigger]\ncron = \"*/15 * * *\"\n{MERGE}"),
        &["2:8: `cron`: `*/15 * * *` must have 5 fields"],
    );
    rejected(
        &format!("[trigger]\ncron = \"61 * * * *\"\n{MERGE}"),
        &["2:8: `cron`: invalid pattern `61 * * * *`"],
    );
}

#[test]
fn every_and_cron_together() {
    rejected(
        &format!("[trigger]\nevery = \"15m\"\ncron = \"*/15 * * * *\"\n{MERGE}"),
        &["3:8: [trigger] takes one of `every`, `cron` or `watch`, not several"],
    );
}

#[test]
fn jq_error_inside_a_literal_string() {
    rejected(
        "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '{a: .a} | nosuch'\n",
        &["4:17: `jq`: jq: undefined filter `nosuch`"],
    );
}

#[test]
fn jq_error_inside_a_multi_line_literal_string() {
    rejected(
        "[[steps]]\nid = \"m\"\nkind = \"filter\"\njq = '''\nmap(\n  .a | nosuch(1)\n)'''\n",
        &["6:8: `jq`: jq: undefined filter `nosuch`"],
    );
}

#[test]
fn jq_syntax_error_in_a_basic_string() {
    rejected(
        "[[steps]]\nid = \"v\"\nkind = \"assert\"\njq = \".a == ]\"\n",
        &["4:13: `jq`: jq syntax error"],
    );
}

#[test]
fn jq_error_in_split_path() {
    rejected(
        "[[steps]]\nid = \"s\"\nkind = \"split\"\nsize = 2\npath = '.items | nope'\n",
        &["5:18: `path`: jq: undefined filter `nope`"],
    );
}

#[test]
fn missing_required_key() {
    rejected(
        "[[steps]]\nid = \"r\"\nkind = \"read\"\nformat = \"csv\"\n",
        &["1:1: step `r` (kind read) needs `path`"],
    );
    rejected(
        "[[steps]]\nid = \"s\"\nkind = \"split\"\n",
        &["1:1: step `s` (kind split) needs `size`"],
    );
    rejected(
        &format!("{MERGE}[[steps]]\nkind = \"merge\"\n"),
        &["4:1: step 2 needs an `id`"],
    );
}

#[test]
fn no_steps() {
    rejected(
        "description = \"nothing\"\n",
        &["1:1: the flow has no steps"],
    );
}

#[test]
fn wrong_types() {
    rejected(
        &format!("{MERGE}skip = \"yes\"\n"),
        &["4:8: `skip` must be true or false, not string"],
    );
    rejected(
        "[[steps]]\nid = \"c\"\nkind = \"command\"\nrun = \"python3 x.py\"\n",
        &["4:7: `run` must be an array of strings"],
    );
    rejected(
        "[[steps]]\nid = \"s\"\nkind = \"split\"\nsize = 0\n",
        &["4:8: `size` must be a whole number ≥ 1, not 0"],
    );
    rejected(
        &format!("[settings]\nmax_payload_bytes = \"1MB\"\n{MERGE}"),
        &["2:21: `max_payload_bytes` must be a whole number ≥ 0, not string"],
    );
    rejected(
        "[[steps]]\nid = \"r\"\nkind = \"read\"\npath = \"x\"\nformat = \"xml\"\n",
        &["5:10: `format` must be one of json, ndjson, csv, not `xml`"],
    );
}

#[test]
fn bad_placeholder() {
    rejected(
        "[[steps]]\nid = \"r\"\nkind = \"read\"\npath = \"data/${env:}.json\"\n",
        &["4:14: `path`: a placeholder must read ${env:NAME}"],
    );
}

#[test]
fn unknown_write_template_field() {
    rejected(
        "[[steps]]\nid = \"w\"\nkind = \"write\"\npath = \"out/{date}.json\"\n",
        &["4:8: `path`: unknown field `{date}`"],
    );
}

#[test]
fn invalid_flow_file_names() {
    for name in ["Orders", "a.b", "_x"] {
        let p = Project::new();
        p.flow(name, MERGE);
        let want = format!("error: flows/{name}.toml: `{name}` is not a valid flow name");
        p.cmd(&["check"]).run().code(2).stderr_has(&want);
        p.cmd(&["run", name]).run().code(2).stderr_has(&want);
        assert!(p.run_ids(name).is_empty());
    }
}

#[test]
fn non_utf8_file() {
    let p = Project::new();
    p.bytes_file(
        "flows/f.toml",
        b"[[steps]]\nid = \"a\"\nkind = \"merge\"\ndescription = \"caf\xe9\"\n",
    );
    for args in [&["check"][..], &["run", "f"]] {
        p.cmd(args)
            .run()
            .code(2)
            .stderr_has("error: flows/f.toml:4:19: the flow file is not valid UTF-8 text");
    }
    assert!(p.run_ids("f").is_empty());
}

#[test]
fn check_reports_every_problem_of_a_file() {
    let p = Project::new();
    p.flow(
        "f",
        "bogus = 1\n\
         [settings]\n\
         timeout = \"soon\"\n\
         [[steps]]\n\
         id = \"A b\"\n\
         kind = \"map\"\n\
         jq = '.a | nosuch'\n\
         extra = 1\n\
         [[steps]]\n\
         id = \"r\"\n\
         kind = \"read\"\n\
         format = \"xml\"\n\
         [[steps]]\n\
         id = \"r\"\n\
         kind = \"nope\"\n",
    )
    .flow("g", "[[steps]]\nid = \"x\"\nkind = \"mapp\"\n")
    .flow("ok", MERGE);
    let out = p
        .cmd(&["check"])
        .run()
        .code(2)
        .stdout_has("ok: flows/ok.toml (1 step)");
    let want = [
        "error: flows/f.toml:1:1: unknown key `bogus`",
        "error: flows/f.toml:3:11: `timeout`: invalid duration `soon`",
        "error: flows/f.toml:5:6: step id `A b` is not valid",
        "error: flows/f.toml:7:12: `jq`: jq: undefined filter `nosuch`",
        "error: flows/f.toml:8:1: unknown key `extra`",
        "error: flows/f.toml:9:1: step `r` (kind read) needs `path`",
        "error: flows/f.toml:12:10: `format` must be one of json, ndjson, csv, not `xml`",
        "error: flows/f.toml:14:6: duplicate step id `r`: first used at 10:6, again at 14:6",
        "error: flows/f.toml:15:8: unknown step kind `nope`",
        "error: flows/g.toml:3:8: unknown step kind `mapp`",
    ];
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), want.len(), "{}", out.stderr);
    for (line, w) in lines.iter().zip(want) {
        assert!(line.starts_with(w), "want {w:?}, got {line:?}");
    }
}

#[test]
fn check_of_valid_flows_succeeds() {
    let p = Project::new();
    p.flow("a", MERGE).flow(
        "b",
        "description = \"all kinds\"\n\
         [trigger]\ncron = \"*/15 * * * *\"\n\
         [settings]\nmax_payload_bytes = 0\ntimeout = \"1h30m\"\n\
         [[steps]]\nid = \"r\"\nkind = \"read\"\npath = \"data/*.csv\"\nformat = \"csv\"\n\
         [[steps]]\nid = \"c\"\nkind = \"command\"\nrun = [\"sh\", \"-c\", \"cat\"]\ntimeout = \"5s\"\nenv = { A = \"${env:HOME}\" }\noutput = \"ndjson\"\n\
         [[steps]]\nid = \"f\"\nkind = \"filter\"\njq = '.ok'\nkeep_empty = true\n\
         [[steps]]\nid = \"v\"\nkind = \"assert\"\njq = '.x'\nequals = [1, \"two\"]\nmessage = \"m\"\n\
         [[steps]]\nid = \"s\"\nkind = \"split\"\npath = '.items'\nsize = 10\nskip = true\ndescription = \"d\"\n\
         [[steps]]\nid = \"j\"\nkind = \"merge\"\n\
         [[steps]]\nid = \"w\"\nkind = \"write\"\npath = \"out/${env:HOME}/{flow}-{run}-{step}-{n}-{hash}.ndjson\"\nformat = \"ndjson\"\n",
    );
    p.cmd(&["check"])
        .run()
        .ok()
        .stdout_has("ok: flows/a.toml (1 step)")
        .stdout_has("ok: flows/b.toml (7 steps)");
    p.cmd(&["check", "b"])
        .run()
        .ok()
        .stdout_lacks("flows/a.toml");
}

#[test]
fn check_of_an_unknown_flow_fails() {
    let p = Project::new();
    p.flow("a", MERGE);
    p.cmd(&["check", "nope"])
        .run()
        .code(2)
        .only_errors()
        .stderr_has("flows/nope.toml: no such flow file");
}

#[test]
fn missing_env_variable_is_named_and_nothing_runs() {
    let p = Project::new();
    p.flow(
        "f",
        "[[steps]]\nid = \"r\"\nkind = \"read\"\npath = \"data/${env:FLOWRUN_TEST_UNSET}.json\"\n",
    );
    p.cmd(&["check"]).run().ok();
    p.cmd(&["run", "f"])
        .run()
        .code(2)
        .only_errors()
        .stderr_has("FLOWRUN_TEST_UNSET");
    assert!(p.run_ids("f").is_empty(), "a run folder was created");
}
