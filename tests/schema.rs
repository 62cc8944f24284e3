//! `flowrun schema` against every flow file: the repository's flows, the starters of
//! `flowrun new`, many valid flows written here, and the corpus of invalid flows, so that
//! the schema and the parser cannot drift apart.

use crate::support::Project;
use serde_json::Value;
use std::path::Path;

fn schema() -> jsonschema::Validator {
    let p = Project::new();
    let out = p.cmd(&["schema"]).run().ok();
    let schema: Value = serde_json::from_str(&out.stdout).expect("schema is JSON");
    jsonschema::draft202012::new(&schema).expect("a valid JSON schema")
}

fn as_json(toml_text: &str) -> Option<Value> {
    let v: toml::Value = toml::from_str(toml_text).ok()?;
    serde_json::to_value(v).ok()
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Flows the parser accepts: each must pass the schema.
const VALID: &[&str] = &[
    "[[steps]]\nid = \"a\"\nkind = \"merge\"\n",
    "description = \"d\"\n[trigger]\nevery = \"1h30m\"\n[settings]\nmax_payload_bytes = 0\ntimeout = \"500ms\"\n[[steps]]\nid = \"a\"\nkind = \"map\"\njq = \".\"\nskip = true\ndescription = \"x\"\n",
    "[trigger]\ncron = \"*/5 * * * *\"\n[[steps]]\nid = \"r\"\nkind = \"read\"\npath = \"d/*.csv\"\nformat = \"csv\"\nallow_empty = true\n",
    "[trigger]\nwatch = \"inbox/*.json\"\n[[steps]]\nid = \"w\"\nkind = \"write\"\npath = \"out/{n}.json\"\nformat = \"ndjson\"\n",
    "[[steps]]\nid = \"h\"\nkind = \"http\"\nmethod = \"post\"\nurl = \"http://x/${env:P}\"\nheaders = { A = \"b\" }\nquery = { q = \"1\" }\nbody = \"none\"\nnext = \".n\"\ntimeout = \"5s\"\nretries = 2\nidempotency_key = true\nresponse = \"text\"\nmax_pages = 3\nmax_response_bytes = 10\n",
    "[[steps]]\nid = \"c\"\nkind = \"command\"\nrun = [\"cat\"]\ntimeout = \"1m\"\nenv = { K = \"v\" }\noutput = \"ndjson\"\n",
    "[[steps]]\nid = \"f\"\nkind = \"filter\"\njq = \".a\"\nkeep_empty = true\n[[steps]]\nid = \"s\"\nkind = \"split\"\npath = \".items\"\nsize = 10\n[[steps]]\nid = \"d\"\nkind = \"dedupe\"\nkey = \".id\"\nmode = \"track\"\n",
    "[[steps]]\nid = \"v\"\nkind = \"assert\"\njq = \".ok\"\neach = false\nmessage = \"m\"\n[[steps]]\nid = \"e\"\nkind = \"assert\"\nequals = { a = [1, 2] }\n[[steps]]\nid = \"g\"\nkind = \"assert\"\nequals_file = \"x.json\"\n",
];

#[test]
fn every_flow_agrees_with_the_parser() {
    let v = schema();
    let p = Project::new();
    // The repository's flows, and the starters of `flowrun new`.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<(String, String)> = Vec::new();
    for dir in ["flows", "examples/http/flows"] {
        for e in std::fs::read_dir(repo.join(dir)).expect("flows folder") {
            let path = e.expect("entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let is_toml = path.extension().is_some_and(|x| x == "toml");
            if is_toml && !name.contains(".test.") {
                let text = std::fs::read_to_string(&path).expect("read");
                if dir == "flows" {
                    // Beside the probe, for the child flows a `route` or `on_error` names.
                    p.file(&format!("flows/{name}"), &text);
                }
                files.push((name, text));
            }
        }
    }
    for from in ["read", "http", "watch"] {
        p.cmd(&["new", from, "--from", from]).run().ok();
        files.push((from.into(), p.read(&format!("flows/{from}.toml"))));
    }
    for (k, text) in VALID.iter().enumerate() {
        files.push((format!("valid-{k}"), (*text).to_owned()));
    }
    for (name, text) in &files {
        p.file("flows/probe.toml", text);
        p.cmd(&["check", "probe"]).run().ok();
        let doc = as_json(text).expect("TOML");
        let errs = errors(&v, &doc);
        assert!(
            errs.is_empty(),
            "{name}: the parser accepts it, the schema does not: {errs:?}"
        );
    }

    // The corpus: every file is refused by the parser. Those whose problem is one the
    // schema can express must be refused by the schema too.
    let tellable = [
        "must be a string",
        "must be true or false",
        "must be a whole number",
        "unknown key",
        "must be one of",
        "unknown step kind",
        "needs an `id`",
        "the flow has no steps",
    ];
    let corpus = repo.join("tests/corpus");
    let table = std::fs::read_to_string(corpus.join("flows.tsv")).expect("flows.tsv");
    let mut told = 0;
    for line in table.lines().filter(|l| !l.starts_with('#')) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (name, needle) = (cols[0], cols[2]);
        let Ok(text) = std::fs::read_to_string(corpus.join(format!("flows/{name}.toml"))) else {
            continue;
        };
        let Some(doc) = as_json(&text) else {
            continue; // not TOML: nothing for a schema to look at
        };
        if tellable.iter().any(|t| needle.contains(t)) {
            assert!(
                !errors(&v, &doc).is_empty(),
                "corpus {name} ({needle}): the parser refuses it, the schema accepts it"
            );
            told += 1;
        }
    }
    assert!(told > 40, "only {told} corpus flows checked");
}

#[test]
fn the_schema_refuses_what_the_parser_refuses_by_shape() {
    let v = schema();
    let p = Project::new();
    let bad = [
        "[[steps]]\nid = \"a\"\nkind = \"map\"\n", // jq missing
        "[[steps]]\nid = \"a\"\nkind = \"split\"\nsize = 0\n", // size < 1
        "[[steps]]\nid = \"a\"\nkind = \"map\"\njq = \".\"\nbogus = 1\n", // unknown key
        "[trigger]\nevery = \"soon\"\n[[steps]]\nid = \"a\"\nkind = \"merge\"\n", // duration
        "[[steps]]\nid = \"A\"\nkind = \"merge\"\n", // id
        "[[steps]]\nid = \"h\"\nkind = \"http\"\nurl = \"x\"\nmethod = \"FETCH\"\n",
        "[trigger]\nevery = \"1m\"\ncron = \"* * * * *\"\n[[steps]]\nid = \"a\"\nkind = \"merge\"\n",
    ];
    for text in bad {
        p.file("flows/probe.toml", text);
        p.cmd(&["check", "probe"]).run().code(2);
        let doc = as_json(text).expect("TOML");
        assert!(!errors(&v, &doc).is_empty(), "the schema accepts:\n{text}");
    }
}

#[test]
fn the_demo_flow_and_the_committed_schema_file_match() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let demo = std::fs::read_to_string(repo.join("flows/orders-demo.toml")).expect("demo");
    assert!(demo.starts_with("#:schema ./flowrun.schema.json\n"));
    let committed = std::fs::read_to_string(repo.join("flows/flowrun.schema.json")).expect(
        "flows/flowrun.schema.json (write it with `flowrun schema > flows/flowrun.schema.json`)",
    );
    let p = Project::new();
    let out = p.cmd(&["schema"]).run().ok();
    assert_eq!(
        committed, out.stdout,
        "flows/flowrun.schema.json is stale: `flowrun schema > flows/flowrun.schema.json`"
    );
}
