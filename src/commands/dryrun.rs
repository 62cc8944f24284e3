//! `flowrun run FLOW --dry-run`: validate the flow, resolve its variables, and print what
//! would run — steps, skipped ones, inputs — writing nothing (no lock, no run folder).
//! Secret values are never printed: only whether they are set and how long they are.

use super::{Ctx, out, out_json};
use crate::error::{Error, Exit};
use crate::flow::{Flow, VarKind};
use crate::steps::{self, Resolver};
use serde_json::{Value, json};

/// Prints what `flowrun run` would do with `flow` and `inputs` (already read).
///
/// # Errors
/// A variable is missing or a step cannot be prepared, as a run would fail to start.
pub(crate) fn dry_run(ctx: &Ctx, flow: &Flow, inputs: &[(String, Value)]) -> Result<Exit, Error> {
    let env = |name: &str| std::env::var(name).ok();
    let mut vars: Vec<Value> = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    for u in flow.placeholders() {
        let value = env(&u.name);
        let prefix = if u.kind == VarKind::Secret {
            "secret"
        } else {
            "env"
        };
        let shown = match (&value, u.secret) {
            (None, _) => {
                missing.push(format!(
                    "step `{}`: `{}` uses ${{{prefix}:{}}}, which is not set",
                    u.step, u.option, u.name
                ));
                "not set".to_owned()
            }
            (Some(v), true) => format!("set, {} characters, secret (not shown)", v.chars().count()),
            (Some(v), false) => format!("{v:?}"),
        };
        vars.push(json!({
            "step": u.step,
            "option": u.option,
            "name": u.name,
            "kind": prefix,
            "secret": u.secret,
            "set": value.is_some(),
            "value": if u.secret { Value::Null } else { value.map_or(Value::Null, Value::String) },
            "shown": shown,
        }));
    }
    if !missing.is_empty() {
        return Err(Error::Prepare(format!(
            "{}: {}",
            flow.file(),
            missing.join(&format!("\n{}: ", flow.file()))
        )));
    }
    // Prepare every step as a run would (variables, files such as `equals_file`).
    let mut resolver =
        Resolver::new(flow, &env).map_err(|e| Error::Prepare(format!("{}: {e}", flow.file())))?;
    for def in &flow.steps {
        steps::build(def, &ctx.root, &mut resolver)
            .map_err(|e| Error::Prepare(format!("{}: {e}", flow.file())))?;
    }
    let steps: Vec<Value> = flow
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut step = json!({
                "index": i + 1,
                "id": s.id,
                "kind": s.kind(),
                "skip": s.skip,
            });
            let calls = child_flows(s);
            if let (false, Some(obj)) = (calls.is_empty(), step.as_object_mut()) {
                obj.insert("child_flows".into(), json!(calls));
            }
            step
        })
        .collect();
    if ctx.json {
        out_json(&json!({
            "flow": flow.name,
            "dry_run": true,
            "inputs": inputs.iter().map(|(f, _)| f).collect::<Vec<_>>(),
            "steps": steps,
            "variables": vars,
        }));
        return Ok(Exit::Success);
    }
    if !ctx.quiet {
        print_plan(flow, inputs, &vars);
    }
    Ok(Exit::Success)
}

/// The flows a step starts child runs of (`flow`, `route`), each named once.
fn child_flows(s: &crate::flow::StepDef) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (name, _) in s.spec.calls() {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The plan for people: inputs, each step, each variable.
fn print_plan(flow: &Flow, inputs: &[(String, Value)], vars: &[Value]) {
    out(format!(
        "dry run of {} ({}): nothing is run or written",
        flow.name,
        flow.file()
    ));
    if inputs.is_empty() {
        out("input: none (the first step gets the payload null)");
    } else {
        let names: Vec<&str> = inputs.iter().map(|(f, _)| f.as_str()).collect();
        out(format!(
            "input: {} payload{} ({})",
            inputs.len(),
            super::plural(inputs.len()),
            names.join(", ")
        ));
    }
    let width = flow.steps.iter().map(|s| s.id.len()).max().unwrap_or(0);
    for (i, s) in flow.steps.iter().enumerate() {
        let what = if s.skip {
            super::style::warn("skipped (skip = true)")
        } else {
            "would run".to_owned()
        };
        let calls = child_flows(s);
        let children = if calls.is_empty() || s.skip {
            String::new()
        } else {
            format!(
                ", starting a child run of {} per payload",
                calls.join(" or ")
            )
        };
        out(format!(
            "  {:>2}. {:<width$}  {:<8} {what}{children}",
            i + 1,
            s.id,
            s.kind()
        ));
    }
    if !vars.is_empty() {
        out("variables:");
        for v in vars {
            out(format!(
                "  ${{{}:{}}} in {}.{}: {}",
                v["kind"].as_str().unwrap_or_default(),
                v["name"].as_str().unwrap_or_default(),
                v["step"].as_str().unwrap_or_default(),
                v["option"].as_str().unwrap_or_default(),
                v["shown"].as_str().unwrap_or_default()
            ));
        }
    }
}
