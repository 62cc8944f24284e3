//! `flowrun ui`: the run logs as web pages, read from `runs/` exactly as the CLI reads them.
//!
//! A blocking HTTP server (`tiny_http`) with a few worker threads; pages are rendered on the
//! server (they work with scripts off) from the store's listing and manifests; one CSS
//! and one JS file are compiled into the binary. Read-only unless `--actions`.

pub(crate) mod actions;
pub(crate) mod api;
pub(crate) mod assets;
pub(crate) mod diff;
pub(crate) mod files;
pub(crate) mod html;
pub(crate) mod pages;
pub(crate) mod server;
pub(crate) mod steps;

use crate::commands::{Ctx, note, out};
use crate::error::{Error, Exit};
use std::net::{SocketAddr, ToSocketAddrs};

/// What `flowrun ui` was asked for.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// `--listen`.
    pub(crate) listen: String,
    /// `--open`.
    pub(crate) open: bool,
    /// `--actions`.
    pub(crate) actions: bool,
}

/// Worker threads answering requests (a polling page and a long action at once).
const WORKERS: usize = 4;

/// Serves the viewer until the process is stopped.
///
/// # Errors
/// The address cannot be parsed or listened on, or no random token can be made.
pub(crate) fn serve(ctx: &Ctx, opts: &Options) -> Result<Exit, Error> {
    let addr: SocketAddr = opts
        .listen
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            Error::Usage(format!(
                "--listen `{}` is not an address (give HOST:PORT, e.g. 127.0.0.1:8760)",
                opts.listen
            ))
        })?;
    let token = if opts.actions {
        Some(actions::new_token().map_err(|e| Error::Failed(format!("cannot make a token: {e}")))?)
    } else {
        None
    };
    let server = tiny_http::Server::http(addr)
        .map_err(|e| Error::Failed(format!("cannot listen on {addr}: {e}")))?;
    let bound = server.server_addr().to_ip().unwrap_or(addr);
    let base = format!("http://{bound}/");
    out(format!("listening on {base}"));
    if !bound.ip().is_loopback() {
        note(format!(
            "warning: listening on {bound}, which other machines may reach; the viewer has no login{}",
            if opts.actions {
                " (actions still need the token)"
            } else {
                ""
            }
        ));
    }
    let open_url = match &token {
        Some(t) => {
            let url = format!("{base}?token={t}");
            out(format!("actions are on; open {url}"));
            url
        }
        None => base,
    };
    if opts.open {
        open_browser(&open_url);
    }
    let app = server::App {
        ctx,
        token,
        bound,
        exe: std::env::current_exe().ok(),
    };
    std::thread::scope(|s| {
        for _ in 1..WORKERS {
            s.spawn(|| server::work(&app, &server));
        }
        server::work(&app, &server);
    });
    Ok(Exit::Success)
}

fn open_browser(url: &str) {
    let started = std::process::Command::new("xdg-open")
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match started {
        // Reaped in the background: xdg-open may wait for the browser.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => note(format!(
            "warning: cannot open a browser (xdg-open: {e}); open {url}"
        )),
    }
}
