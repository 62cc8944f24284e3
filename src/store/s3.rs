//! The S3 backend (`--store s3://BUCKET/PREFIX`): every file of the store is an object
//! under the same key as its path below `runs/`, through the `object_store` crate.
//!
//! The async runtime `object_store` needs stays here: a current-thread tokio runtime
//! owned by the backend, entered with `block_on` for each call. An object appears only
//! whole (one PUT, or a completed multipart upload for files over [`PART_BYTES`]).
//! The flow lock is an object `<flow>/.lock` taken by a conditional create
//! (`If-None-Match: *`) or, when the previous lease ended, a conditional update
//! (`If-Match`), and held by a lease that a background thread renews.

use super::backend::{Backend, Local};
use super::{FlowLock, StoreError, atomic::TEMP_PREFIX, layout};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{
    ObjectStore as _, ObjectStoreExt as _, PutMode, PutOptions, PutPayload, UpdateVersion,
    WriteMultipart,
};
use std::io::{self, Read as _};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Files larger than this are sent as a multipart upload in parts of this size.
const PART_BYTES: usize = 8 << 20;
/// Default lease of a flow lock; `FLOWRUN_S3_LEASE_SECS` changes it (tests use 2).
const LEASE_SECS: u64 = 30;

/// The S3 backend.
#[derive(Debug)]
pub(crate) struct S3 {
    client: AmazonS3,
    rt: tokio::runtime::Runtime,
    /// The key prefix (no slashes at either end; may be empty).
    prefix: String,
    /// The local working copy, `<root>/runs`.
    runs: PathBuf,
    lease: Duration,
}

fn other(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::io(path, io::Error::other(e.to_string()))
}

impl S3 {
    /// The backend for `url` (`s3://BUCKET/PREFIX`) with its working copy in `runs`,
    /// configured by the `AWS_*` variables.
    ///
    /// # Errors
    /// The URL or the configuration is not usable.
    pub(crate) fn new(url: &str, runs: &Path) -> Result<S3, String> {
        let rest = url.strip_prefix("s3://").unwrap_or(url);
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("store `{url}`: no bucket (s3://BUCKET/PREFIX)"));
        }
        let client = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| format!("store `{url}`: {e}"))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("store `{url}`: cannot start its I/O runtime: {e}"))?;
        let lease = std::env::var("FLOWRUN_S3_LEASE_SECS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|s| *s > 0)
            .unwrap_or(LEASE_SECS);
        Ok(S3 {
            client,
            rt,
            prefix: prefix.trim_matches('/').to_owned(),
            runs: runs.to_path_buf(),
            lease: Duration::from_secs(lease),
        })
    }

    /// The key of a local path below `runs/` (`None` outside it, or for temporary files).
    fn key(&self, path: &Path) -> Option<Key> {
        let rel = path.strip_prefix(&self.runs).ok()?;
        let mut parts: Vec<&str> = Vec::new();
        if !self.prefix.is_empty() {
            parts.push(&self.prefix);
        }
        for c in rel.components() {
            let Component::Normal(s) = c else {
                return None;
            };
            let s = s.to_str()?;
            if s.starts_with(TEMP_PREFIX) {
                return None;
            }
            parts.push(s);
        }
        Key::parse(parts.join("/")).ok()
    }

    /// A record that changes in place (manifest, indexes, dedupe keys, the files of the
    /// `track` index) is fetched at every read; a payload or flow copy, written once,
    /// only when missing locally.
    fn changes(path: &Path) -> bool {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name == layout::MANIFEST
            || name.starts_with('.')
            || path
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|p| p == layout::DEDUPE || p == crate::track::INDEX_DIR)
    }

    fn put_file(&self, path: &Path, key: &Key) -> Result<(), StoreError> {
        let mut file = std::fs::File::open(path).map_err(|e| StoreError::io(path, e))?;
        let len = file.metadata().map_err(|e| StoreError::io(path, e))?.len();
        if len <= PART_BYTES as u64 {
            let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            file.read_to_end(&mut bytes)
                .map_err(|e| StoreError::io(path, e))?;
            self.rt
                .block_on(self.client.put(key, PutPayload::from(bytes)))
                .map_err(|e| other(path, e))?;
            return Ok(());
        }
        self.rt.block_on(async {
            let upload = self
                .client
                .put_multipart(key)
                .await
                .map_err(|e| other(path, e))?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = file.read(&mut buf).map_err(|e| StoreError::io(path, e))?;
                if n == 0 {
                    break;
                }
                writer
                    .wait_for_capacity(4)
                    .await
                    .map_err(|e| other(path, e))?;
                writer.write(&buf[..n]);
            }
            // Only a completed upload makes the object visible; an abandoned one never does.
            writer.finish().await.map_err(|e| other(path, e))?;
            Ok(())
        })
    }

    fn list(&self, dir: &Path) -> Option<object_store::ListResult> {
        let key = self.key(dir)?;
        let prefix = (!key.as_ref().is_empty()).then_some(&key);
        self.rt
            .block_on(self.client.list_with_delimiter(prefix))
            .ok()
    }

    fn keys_below(&self, dir: &Path) -> Result<Vec<Key>, StoreError> {
        let Some(key) = self.key(dir) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut todo = vec![key];
        while let Some(prefix) = todo.pop() {
            let list = self
                .rt
                .block_on(self.client.list_with_delimiter(Some(&prefix)))
                .map_err(|e| other(dir, e))?;
            todo.extend(list.common_prefixes);
            out.extend(list.objects.into_iter().map(|o| o.location));
        }
        Ok(out)
    }

    /// The local path of `key`.
    fn local(&self, key: &Key) -> PathBuf {
        let mut path = self.runs.clone();
        let mut parts = key.parts();
        if !self.prefix.is_empty() {
            for _ in self.prefix.split('/') {
                parts.next();
            }
        }
        for p in parts {
            path.push(p.as_ref());
        }
        path
    }

    fn fetch(&self, path: &Path, key: &Key) -> Result<bool, StoreError> {
        let got = self.rt.block_on(async {
            match self.client.get(key).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        match got.map_err(|e| other(path, e))? {
            Some(bytes) => {
                if let Some(dir) = path.parent() {
                    super::atomic::create_dir(dir)?;
                }
                super::atomic::write_local(path, &bytes)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn lock_key(&self, dir: &Path) -> Option<Key> {
        self.key(&dir.join(layout::LOCK))
    }

    /// The lock object of a flow as stored, with its version.
    fn read_lock(&self, key: &Key) -> Result<Option<(LeaseBody, UpdateVersion)>, String> {
        self.rt.block_on(async {
            match self.client.get(key).await {
                Ok(r) => {
                    let version = UpdateVersion {
                        e_tag: r.meta.e_tag.clone(),
                        version: r.meta.version.clone(),
                    };
                    let bytes = r.bytes().await.map_err(|e| e.to_string())?;
                    Ok(Some((LeaseBody::parse(&bytes), version)))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e.to_string()),
            }
        })
    }

    fn put_lock(&self, key: &Key, body: &LeaseBody, mode: PutMode) -> Result<UpdateVersion, Put> {
        let opts = PutOptions {
            mode,
            ..PutOptions::default()
        };
        let payload = PutPayload::from(body.render().into_bytes());
        match self.rt.block_on(self.client.put_opts(key, payload, opts)) {
            Ok(r) => Ok(UpdateVersion::from(r)),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Err(Put::Lost),
            Err(e) => Err(Put::Failed(e.to_string())),
        }
    }
}

/// A conditional write that did not happen.
enum Put {
    /// Another process wrote the object first.
    Lost,
    /// The request failed.
    Failed(String),
}

/// What the lock object holds: lines `run-id`, `holder`, `expires-ms` (0 = released),
/// and a renewal counter (so each renewal changes the bytes, and the `ETag`, which is the
/// body's MD5).
#[derive(Debug, Clone, Default)]
struct LeaseBody {
    run: String,
    holder: String,
    expires_ms: u64,
    renewal: u64,
}

impl LeaseBody {
    fn parse(bytes: &[u8]) -> LeaseBody {
        let text = String::from_utf8_lossy(bytes);
        let mut lines = text.lines();
        LeaseBody {
            run: lines.next().unwrap_or("").trim().to_owned(),
            holder: lines.next().unwrap_or("").trim().to_owned(),
            expires_ms: lines
                .next()
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or(0),
            renewal: lines
                .next()
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or(0),
        }
    }

    fn render(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n",
            self.run, self.holder, self.expires_ms, self.renewal
        )
    }

    fn live(&self) -> bool {
        self.expires_ms > now_ms()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A held lease on a flow's lock object, renewed by a background thread until dropped.
#[derive(Debug)]
pub(crate) struct Lease {
    shared: Arc<LeaseState>,
    renewer: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug)]
struct LeaseState {
    key: Key,
    path: PathBuf,
    lease: Duration,
    inner: Mutex<LeaseInner>,
    wake: Condvar,
}

#[derive(Debug)]
struct LeaseInner {
    body: LeaseBody,
    version: UpdateVersion,
    stop: bool,
    lost: bool,
}

fn backend() -> Option<&'static S3> {
    super::backend::get().as_s3()
}

impl LeaseState {
    /// Rewrites the lock object with `body` if it is still ours.
    fn rewrite(&self, inner: &mut LeaseInner, body: LeaseBody) -> Result<(), StoreError> {
        let Some(s3) = backend() else {
            return Ok(());
        };
        match s3.put_lock(&self.key, &body, PutMode::Update(inner.version.clone())) {
            Ok(v) => {
                inner.version = v;
                inner.body = body;
                Ok(())
            }
            Err(Put::Lost) => {
                inner.lost = true;
                Err(other(
                    &self.path,
                    "the flow's lock was taken over by another process (its lease ran out)",
                ))
            }
            Err(Put::Failed(e)) => Err(other(&self.path, e)),
        }
    }
}

impl Lease {
    fn start(state: LeaseState) -> Lease {
        let shared = Arc::new(state);
        let s = Arc::clone(&shared);
        let renewer = std::thread::Builder::new()
            .name("flowrun-lease".into())
            .spawn(move || renew(&s))
            .ok();
        Lease { shared, renewer }
    }

    /// Records the run that holds the lock.
    ///
    /// # Errors
    /// The lock object could not be rewritten.
    pub(crate) fn set_holder(&mut self, run_id: &str) -> Result<(), StoreError> {
        let mut inner = self
            .shared
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut body = inner.body.clone();
        run_id.clone_into(&mut body.run);
        body.renewal += 1;
        body.expires_ms = now_ms() + duration_ms(self.shared.lease);
        self.shared.rewrite(&mut inner, body)
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn renew(s: &LeaseState) {
    let mut inner = s
        .inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let (guard, _) = s
            .wake
            .wait_timeout(inner, s.lease / 3)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner = guard;
        if inner.stop || inner.lost {
            return;
        }
        let mut body = inner.body.clone();
        body.renewal += 1;
        body.expires_ms = now_ms() + duration_ms(s.lease);
        if let Err(e) = s.rewrite(&mut inner, body) {
            crate::commands::note(format!("warning: {e}"));
            if inner.lost {
                return;
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        {
            let mut inner = self
                .shared
                .inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            inner.stop = true;
            if !inner.lost {
                // Released: the run id stays for the next holder (as the local lock file).
                let mut body = inner.body.clone();
                body.renewal += 1;
                body.expires_ms = 0;
                let _ = self.shared.rewrite(&mut inner, body);
            }
        }
        self.shared.wake.notify_all();
        if let Some(h) = self.renewer.take() {
            let _ = h.join();
        }
    }
}

fn holder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    format!("{host}:{}:{}", std::process::id(), now_ms())
}

impl Backend for S3 {
    fn stored(&self, path: &Path) -> Result<(), StoreError> {
        match self.key(path) {
            Some(key) => self.put_file(path, &key),
            None => Ok(()),
        }
    }

    fn load(&self, path: &Path) -> Result<(), StoreError> {
        let Some(key) = self.key(path) else {
            return Ok(());
        };
        let changes = S3::changes(path);
        if !changes && path.is_file() {
            return Ok(());
        }
        if !self.fetch(path, &key)? && changes {
            // Gone from the store: so it is from the working copy.
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }

    fn names(&self, dir: &Path) -> Vec<String> {
        if self.key(dir).is_none() {
            return Local.names(dir);
        }
        let Some(list) = self.list(dir) else {
            return Vec::new();
        };
        let mut out: Vec<String> = list
            .common_prefixes
            .iter()
            .chain(list.objects.iter().map(|o| &o.location))
            .filter_map(|k| k.filename().map(str::to_owned))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn is_dir(&self, dir: &Path) -> bool {
        if self.key(dir).is_none() {
            return Local.is_dir(dir);
        }
        self.list(dir)
            .is_some_and(|l| !l.common_prefixes.is_empty() || !l.objects.is_empty())
    }

    fn pull(&self, dir: &Path) -> Result<(), StoreError> {
        for key in self.keys_below(dir)? {
            let path = self.local(&key);
            if S3::changes(&path) || !path.is_file() {
                self.fetch(&path, &key)?;
            }
        }
        Ok(())
    }

    fn remove_all(&self, dir: &Path) -> Result<(), StoreError> {
        let mut keys = self.keys_below(dir)?;
        // The manifest first: without it the rest is no longer a run.
        keys.sort_by_key(|k| k.filename() != Some(layout::MANIFEST));
        for key in keys {
            self.rt
                .block_on(self.client.delete(&key))
                .map_err(|e| other(dir, e))?;
        }
        Ok(())
    }

    fn removed(&self, path: &Path) -> Result<(), StoreError> {
        let Some(key) = self.key(path) else {
            return Ok(());
        };
        match self.rt.block_on(self.client.delete(&key)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(other(path, e)),
        }
    }

    fn acquire(&self, dir: &Path, flow: &str) -> Result<FlowLock, StoreError> {
        let path = dir.join(layout::LOCK);
        // A folder outside the store (a flow test's scratch store): locked locally.
        let Some(key) = self.lock_key(dir) else {
            return Local.acquire(dir, flow);
        };
        let busy = |run: String| StoreError::Busy {
            flow: flow.to_owned(),
            holder: (!run.is_empty()).then_some(run),
        };
        let found = self.read_lock(&key).map_err(|e| other(&path, e))?;
        let body = LeaseBody {
            run: String::new(),
            holder: holder_id(),
            expires_ms: now_ms() + duration_ms(self.lease),
            renewal: found.as_ref().map_or(0, |(b, _)| b.renewal + 1),
        };
        let (mode, previous) = match found {
            None => (PutMode::Create, None),
            Some((old, _)) if old.live() => return Err(busy(old.run)),
            Some((old, version)) => (PutMode::Update(version), Some(old.run)),
        };
        let version = match self.put_lock(&key, &body, mode) {
            Ok(v) => v,
            Err(Put::Lost) => {
                let run = self
                    .read_lock(&key)
                    .ok()
                    .flatten()
                    .map(|(b, _)| b.run)
                    .unwrap_or_default();
                return Err(busy(run));
            }
            Err(Put::Failed(e)) => return Err(other(&path, e)),
        };
        let lease = Lease::start(LeaseState {
            key,
            path,
            lease: self.lease,
            inner: Mutex::new(LeaseInner {
                body,
                version,
                stop: false,
                lost: false,
            }),
            wake: Condvar::new(),
        });
        Ok(FlowLock::leased(lease, previous.filter(|p| !p.is_empty())))
    }

    fn is_held(&self, dir: &Path) -> bool {
        if self.lock_key(dir).is_none() {
            return Local.is_held(dir);
        }
        self.lock_key(dir)
            .and_then(|key| self.read_lock(&key).ok().flatten())
            .is_some_and(|(b, _)| b.live())
    }

    fn shared(&self) -> bool {
        true
    }

    fn index_complete(&self, dir: &Path, count: usize) -> bool {
        if self.key(dir).is_none() {
            return Local.index_complete(dir, count);
        }
        // No link count to check: the index is kept by the lock holder; a listed id
        // whose run is gone still makes the listing fall back to the folder.
        true
    }

    fn as_s3(&self) -> Option<&S3> {
        Some(self)
    }
}
