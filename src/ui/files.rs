//! Files of a run folder: found without leaving it, read bounded, downloaded as stored.

use super::pages;
use super::server::{App, Body, Resp};
use crate::store::list::RunRef;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Why a file of a run is not served.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileError {
    /// The path would leave the run folder, or passes through a symbolic link.
    #[error("`{0}` is not a file inside the run folder")]
    Outside(String),
    /// Nothing there, or not a regular file.
    #[error("`{0}`: no such file in the run folder")]
    Missing(String),
    /// It cannot be read.
    #[error("`{path}`: {source}")]
    Io {
        /// The path inside the run folder.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// The run `id` names, when it is a whole run id of this store.
#[must_use]
pub(crate) fn find_run(app: &App<'_>, id: &str) -> Option<RunRef> {
    if !crate::time::is_run_id(id) {
        return None;
    }
    app.ctx.store.resolve(id).ok()
}

/// The path of `parts` inside `run_dir`: every part a plain name, no part a symbolic
/// link, the whole a regular file whose real path is inside the run folder.
///
/// # Errors
/// The path leaves the folder or is not a regular file.
pub(crate) fn locate(run_dir: &Path, parts: &[&str]) -> Result<PathBuf, FileError> {
    let shown = parts.join("/");
    let plain =
        |p: &&str| !p.is_empty() && *p != "." && *p != ".." && !p.contains(['/', '\\', '\0']);
    if parts.is_empty() || !parts.iter().all(plain) {
        return Err(FileError::Outside(shown));
    }
    // Every part that is there: never a symbolic link (nor a file fetched through one).
    let walk = |missing_ok: bool| -> Result<PathBuf, FileError> {
        let mut path = run_dir.to_path_buf();
        for part in parts {
            path.push(part);
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(FileError::Outside(shown.clone()));
                }
                Ok(_) => {}
                Err(_) if missing_ok => break,
                Err(_) => return Err(FileError::Missing(shown.clone())),
            }
        }
        Ok(path)
    };
    walk(true)?;
    // The file as stored, into the working copy (another host may have recorded it).
    let stored: PathBuf = parts.iter().collect();
    crate::store::backend::get()
        .load(&run_dir.join(stored))
        .map_err(|e| FileError::Io {
            path: shown.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
    let path = walk(false)?;
    let real = path
        .canonicalize()
        .map_err(|_| FileError::Missing(shown.clone()))?;
    let base = run_dir
        .canonicalize()
        .map_err(|_| FileError::Missing(shown.clone()))?;
    if !real.starts_with(&base) {
        return Err(FileError::Outside(shown));
    }
    if !std::fs::metadata(&real).is_ok_and(|m| m.is_file()) {
        return Err(FileError::Missing(shown));
    }
    Ok(real)
}

/// Opens a located file, checking again on the handle that it is a regular file.
fn open(path: &Path, shown: &str) -> Result<(std::fs::File, u64), FileError> {
    let io = |source| FileError::Io {
        path: shown.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(FileError::Missing(shown.to_owned()));
    }
    Ok((file, meta.len()))
}

/// Reads at most `limit` bytes of the file `rel` (a manifest's `/`-separated name);
/// the flag says there was more.
///
/// # Errors
/// The file is outside the folder, missing or unreadable.
pub(crate) fn read_bounded(
    run_dir: &Path,
    rel: &str,
    limit: u64,
) -> Result<(Vec<u8>, bool), FileError> {
    let parts: Vec<&str> = rel.split('/').collect();
    let path = locate(run_dir, &parts)?;
    let (file, _) = open(&path, rel)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| FileError::Io {
            path: rel.to_owned(),
            source,
        })?;
    let more = bytes.len() as u64 > limit;
    if more {
        bytes.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    Ok((bytes, more))
}

/// `GET /runs/<id>/files/<path>`: the file byte for byte, never as a page.
#[must_use]
pub(crate) fn download(app: &App<'_>, id: &str, parts: &[&str]) -> Resp {
    let Some(run) = find_run(app, id) else {
        return pages::error_page(404, "No such run", &format!("no run `{id}` in this store"));
    };
    let shown = parts.join("/");
    let opened = locate(&run.dir, parts).and_then(|p| open(&p, &shown));
    let (file, len) = match opened {
        Ok(f) => f,
        Err(e @ FileError::Outside(_)) => {
            return pages::error_page(400, "Refused path", &e.to_string());
        }
        Err(e @ FileError::Missing(_)) => {
            return pages::error_page(404, "No such file", &e.to_string());
        }
        Err(e) => return pages::error_page(500, "Unreadable file", &e.to_string()),
    };
    let name = parts.last().copied().unwrap_or("file");
    let ext = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let ctype = match ext.as_str() {
        "json" => "application/json",
        "txt" | "log" | "toml" | "csv" | "tsv" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };
    // The file name as a header value: plain characters only.
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Resp {
        status: 200,
        ctype,
        body: Body::File(file, len),
        headers: vec![(
            "Content-Disposition",
            format!("attachment; filename=\"{safe}\""),
        )],
    }
}
