//! `flowrun check`: every problem of a flow file with `file:line:col`.

use crate::support::Project;

#[test]
fn reports_problems_with_line_and_column() {
    let p = Project::new();
    p.flow(
        "bad",
        "[[steps]]\nid = \"m\"\nkind = \"map\"\njq = '.a | nosuch'\nextra = 1\n",
    );
    p.cmd(&["check"])
        .run()
        .code(2)
        .stderr_has("error: flows/bad.toml:4:12: `jq`: jq: undefined filter `nosuch`")
        .stderr_has("error: flows/bad.toml:5:1: unknown key `extra`");
}
