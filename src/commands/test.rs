//! `flowrun test [FLOW...]`: run the tests in `flows/<name>.test.toml` (stubs, no real
//! world, nothing under `runs/`), and `--record RUN` to write one from a recorded run.

use super::{Ctx, out, out_json};
use crate::error::{Error, Exit};
use crate::flowtest::{self, Outcome, file};
use serde_json::json;

/// Runs the tests of `flows` (every flow with a test file by default).
///
/// # Errors
/// A missing or invalid test file, a test that is not hermetic, or an unknown flow.
pub(crate) fn test(ctx: &Ctx, flows: &[String]) -> Result<Exit, Error> {
    let names: Vec<String> = if flows.is_empty() {
        crate::flow::list(&ctx.root)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| file::test_path(&ctx.root, n).is_file())
            .collect()
    } else {
        flows.to_vec()
    };
    // Everything is read and checked before anything runs.
    let mut planned = Vec::new();
    for name in &names {
        let flow = ctx.load_flow(name)?;
        let path = file::test_path(&ctx.root, &flow.name);
        if !path.is_file() {
            return Err(Error::Usage(format!(
                "{}: no such test file (flow `{}` has no tests; `{}` writes one from a run)",
                super::shown(&path),
                flow.name,
                crate::hint::flowrun(["test", "--record", "RUN"])
            )));
        }
        let tests = file::load(&path).map_err(Error::Usage)?;
        for case in &tests.tests {
            flowtest::validate(&flow, case)
                .map_err(|e| Error::Usage(format!("{}: {e}", super::shown(&path))))?;
        }
        planned.push((flow, path, tests));
    }
    let mut outcomes: Vec<Outcome> = Vec::new();
    let count: usize = planned.iter().map(|(_, _, t)| t.tests.len()).sum();
    if ctx.talk() {
        out(format!("\nrunning {count} test{}", super::plural(count)));
    }
    for (flow, path, tests) in &planned {
        for case in &tests.tests {
            let problems = match flowtest::inputs(case, path)
                .and_then(|inputs| flowtest::run_case(&ctx.root, flow, case, inputs))
            {
                Ok(ran) => flowtest::judge(flow, case, &ran),
                Err(e) => vec![format!("the test could not run: {e}")],
            };
            let o = Outcome {
                flow: flow.name.clone(),
                name: case.name.clone(),
                ok: problems.is_empty(),
                problems,
            };
            if ctx.talk() {
                let status = if o.ok {
                    super::style::ok("ok")
                } else {
                    super::style::bad("FAILED")
                };
                out(format!("test {}::{} ... {status}", o.flow, o.name));
            }
            outcomes.push(o);
        }
    }
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.ok).collect();
    let passed = outcomes.len() - failed.len();
    if ctx.json {
        out_json(&json!({
            "tests": outcomes,
            "passed": passed,
            "failed": failed.len(),
        }));
    } else if !ctx.quiet || !failed.is_empty() {
        print_failures(&failed);
        let result = if failed.is_empty() {
            super::style::ok("ok")
        } else {
            super::style::bad("FAILED")
        };
        out(format!(
            "\ntest result: {result}. {passed} passed; {} failed\n",
            failed.len()
        ));
    }
    Ok(if failed.is_empty() {
        Exit::Success
    } else {
        Exit::Failed
    })
}

fn print_failures(failed: &[&Outcome]) {
    if failed.is_empty() {
        return;
    }
    out("\nfailures:\n");
    for o in failed {
        out(format!("---- {}::{} ----", o.flow, o.name));
        for p in &o.problems {
            out(p);
        }
        out("");
    }
    out("failures:");
    for o in failed {
        out(format!("    {}::{}", o.flow, o.name));
    }
}

/// Writes a test from recorded run `run` into its flow's test file.
///
/// # Errors
/// No such run, or a run that cannot become a test.
pub(crate) fn record(ctx: &Ctx, run: &str, name: Option<&str>) -> Result<Exit, Error> {
    let r = ctx.resolve_run(run, None)?;
    let m = ctx.store.read_manifest(&r.dir)?;
    let name = name.map_or_else(|| format!("recorded run {}", m.run_id), str::to_owned);
    let entry = flowtest::record::test_text(&r.dir, &m, &name).map_err(Error::Usage)?;
    let path = flowtest::record::append(&ctx.root, &m.flow, &name, &entry).map_err(Error::Usage)?;
    if ctx.json {
        out_json(&json!({ "file": super::shown(&path), "test": name, "flow": m.flow }));
    } else if !ctx.quiet {
        out(format!(
            "wrote test `{name}` to {} (run it with `{}`)",
            super::shown(&path),
            crate::hint::flowrun(["test", m.flow.as_str()])
        ));
    }
    Ok(Exit::Success)
}
