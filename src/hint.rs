//! Commands printed for the user to paste: the one place that renders a `flowrun …` line.
//!
//! Every message, hint, log line or JSON field that shows a flowrun command builds it with
//! [`flowrun`], and every path inside such a command with [`path`]:
//!
//! ```text
//! hint::flowrun(["resume", run_id])                     // flowrun resume 2026…-7f3a
//! hint::flowrun(["replay", &hint::path(&dir), "--auto-skip"])
//! ```
//!
//! The line carries `--root DIR` (the project root, absolute) when the root was given
//! with `--root` or `FLOWRUN_ROOT`, or is not the current folder; path arguments are then
//! absolute too. So a printed command works pasted into a shell in any folder. Arguments
//! that a POSIX shell would split or expand are quoted (`shlex`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The root that hints name, once the command line set it: `None` inside = no `--root`.
static ROOT: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Records the project root (canonical) for the hints of this process; `explicit` when it
/// came from `--root` or `FLOWRUN_ROOT`. Later calls change nothing.
pub fn set_root(root: &Path, explicit: bool) {
    let cwd = std::env::current_dir().and_then(|c| c.canonicalize()).ok();
    let named = explicit || cwd.as_deref() != Some(root);
    let _ = ROOT.set(named.then(|| root.to_path_buf()));
}

fn root() -> Option<&'static Path> {
    ROOT.get().and_then(Option::as_deref)
}

/// `flowrun [--root DIR] ARGS…`, ready to paste.
#[must_use]
pub fn flowrun<I>(args: I) -> String
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    render(root(), args)
}

/// A path as an argument of a printed command: absolute when the command names the root
/// (it may be pasted in another folder), else as messages show paths (relative to the
/// current folder when inside it).
#[must_use]
pub fn path(p: &Path) -> String {
    if root().is_some() {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    } else {
        crate::flow::display_path(p)
    }
}

/// [`flowrun`] with the root given: the part that does not depend on the process.
#[must_use]
pub fn render<I>(root: Option<&Path>, args: I) -> String
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut line = String::from("flowrun");
    if let Some(root) = root {
        line.push_str(" --root ");
        line.push_str(&quote(&root.to_string_lossy()));
    }
    for arg in args {
        line.push(' ');
        line.push_str(&quote(arg.as_ref()));
    }
    line
}

fn quote(arg: &str) -> String {
    // Only a NUL byte cannot be quoted; no path or id a hint shows holds one.
    shlex::try_quote(arg).map_or_else(|_| arg.to_owned(), std::borrow::Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_arguments_stay_as_they_are() {
        assert_eq!(
            render(None, ["resume", "20261128T093000.123Z-7f3a"]),
            "flowrun resume 20261128T093000.123Z-7f3a"
        );
    }

    #[test]
    fn the_root_comes_first_and_odd_characters_are_quoted() {
        assert_eq!(
            render(
                Some(Path::new("/srv/my integrations")),
                [
                    "replay",
                    "/srv/my integrations/runs/o/x/steps/01-load",
                    "--auto-skip"
                ]
            ),
            "flowrun --root '/srv/my integrations' replay '/srv/my integrations/runs/o/x/steps/01-load' --auto-skip"
        );
        assert_eq!(render(None, ["show", "it's"]), "flowrun show \"it's\"");
        assert_eq!(render(None, ["show", ""]), "flowrun show ''");
    }
}
