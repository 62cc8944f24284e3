//! The one way the store writes a file: temporary file in the same folder, write, sync, rename.

use super::StoreError;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use tempfile::NamedTempFile;

/// Prefix of temporary files; anything starting with it is never a finished file.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

/// A new temporary file in `dir` (removed again unless it is persisted).
///
/// # Errors
/// The file could not be created.
pub(crate) fn temp_in(dir: &Path) -> Result<NamedTempFile, StoreError> {
    use std::os::unix::fs::PermissionsExt as _;
    // Like files a shell creates: 0666 less the umask (a temporary file defaults to 0600).
    tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| StoreError::io(dir, without_path(e)))
}

/// tempfile wraps errors to add the temporary file's path (`… at path "…"`); the store
/// names its own path, so keep only the operating system's message.
fn without_path(e: std::io::Error) -> std::io::Error {
    if e.raw_os_error().is_some() {
        return e;
    }
    let text = e.to_string();
    match text.split_once(" at path ") {
        Some((message, _)) => std::io::Error::new(e.kind(), message.to_owned()),
        None => e,
    }
}

/// Writes `bytes` to `path` so that `path` never holds a partial file.
///
/// # Errors
/// Any step of the write failed; `path` is then unchanged.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_local(path, bytes)?;
    super::backend::get().stored(path)
}

/// [`write`] to the local working copy only.
///
/// # Errors
/// As [`write`].
pub(crate) fn write_local(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = temp_in(dir)?;
    // The file's own handle: its errors name only the store's path, not the temporary one.
    temp.as_file_mut()
        .write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| StoreError::io(path, e))?;
    temp.persist(path)
        .map_err(|e| StoreError::io(path, without_path(e.error)))?;
    Ok(())
}

/// Rewrites the existing file `path` (a file the user keeps, such as a flow file) the
/// same way as [`write`], as an editor would: through a symbolic link to its target
/// (the temporary file is made beside the target, so the rename stays in one folder
/// and the link stays a link), keeping the target's permission bits.
///
/// # Errors
/// The file cannot be resolved or written; it is then unchanged.
pub(crate) fn replace(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let target = std::fs::canonicalize(path).map_err(|e| StoreError::io(path, e))?;
    let perms = std::fs::metadata(&target)
        .map_err(|e| StoreError::io(path, e))?
        .permissions();
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut temp = temp_in(dir)?;
    temp.as_file()
        .set_permissions(perms)
        .and_then(|()| temp.as_file_mut().write_all(bytes))
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| StoreError::io(path, e))?;
    temp.persist(&target)
        .map_err(|e| StoreError::io(path, without_path(e.error)))?;
    Ok(())
}

/// Syncs a folder so that renames inside it survive a power cut.
///
/// # Errors
/// The folder could not be opened or synced.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

/// Creates `dir` and its parents.
///
/// # Errors
/// The folder could not be created.
pub(crate) fn create_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))
}

/// Writes `value` as pretty JSON with a final newline to `path`, atomically (see
/// [`write`]): how the store writes its own records (manifests, indexes, keys).
///
/// # Errors
/// As [`write`].
pub(crate) fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    let mut bytes =
        serde_json::to_vec_pretty(value).expect("flowrun's own records always serialise");
    bytes.push(b'\n');
    write(path, &bytes)
}
