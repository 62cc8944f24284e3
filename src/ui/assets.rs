//! The viewer's one style sheet and one script, compiled into the binary.

use super::pages;
use super::server::Resp;

const CSS: &str = include_str!("assets/ui.css");
const JS: &str = include_str!("assets/ui.js");

/// `GET /assets/<name>`.
#[must_use]
pub(crate) fn get(name: &str) -> Resp {
    match name {
        "ui.css" => Resp::bytes(200, "text/css; charset=utf-8", CSS.as_bytes().to_vec()),
        "ui.js" => Resp::bytes(
            200,
            "text/javascript; charset=utf-8",
            JS.as_bytes().to_vec(),
        ),
        _ => pages::error_page(404, "Not found", "no such asset"),
    }
}
