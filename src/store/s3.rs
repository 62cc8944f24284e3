//! The S3 backend (`--store s3://BUCKET/PREFIX`): every file of the store is an object
//! under the same key as its path below `runs/`, through the `object_store` crate.
//!
//! The async runtime `object_store` needs stays here: a current-thread tokio runtime
//! owned by the backend, entered with `block_on` for each call. An object appears only
//! whole (one PUT, or a completed multipart upload for files over [`PART_BYTES`]).
//! The flow lock is an object `<flow>/.lock` taken by a conditional create
//! (`If-None-Match: *`) or, when the previous lease ended, a conditional update
//! (`If-Match`), and held by a lease that a background thread renews. A holder whose
//! lease ran out without a renewal, or whose renewal found the lock taken over, stores
//! nothing more of that flow ([`Backend::stored`] refuses with [`StoreError::LostLock`]).
//! A lock whose holder id names a dead process of this host is free at once.
//!
//! A run exists in the store while its manifest object does: a run's flow copy is
//! stored before its manifest, and a prune deletes the manifest before the rest. A
//! prefix `<flow>/<run-id>/` without one is a run being created (under the flow's lock)
//! or what a prune or run creation that was cut off left: listings leave it out (as a
//! local listing never sees such a folder), and the next prune, holding the lock,
//! removes it ([`Backend::leftover_runs`]).

use super::backend::{Backend, Local};
use super::{FlowLock, StoreError, atomic::TEMP_PREFIX, layout};
use crate::time::is_run_id;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{
    GetOptions, ObjectStore as _, ObjectStoreExt as _, PutMode, PutOptions, PutPayload,
    UpdateVersion, WriteMultipart,
};
use std::io::{self, Read as _};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Files larger than this are sent as a multipart upload in parts of this size.
const PART_BYTES: usize = 8 << 20;
/// How many manifests are looked for at once when a flow's runs are listed.
const PARALLEL_HEADS: usize = 16;
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
    /// The flow locks this process took, while held, and those it lost (for good: a
    /// lost flow stores nothing more).
    leases: Mutex<Vec<Arc<LeaseState>>>,
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
            leases: Mutex::new(Vec::new()),
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

    /// The lease of the flow `path` belongs to, when this process took its lock.
    fn lease_of(&self, path: &Path) -> Option<Arc<LeaseState>> {
        let flow = path.strip_prefix(&self.runs).ok()?.components().next()?;
        let dir = self.runs.join(flow);
        self.leases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|l| l.dir == dir)
            .cloned()
    }

    /// Whether this process may still write `path`: not when it belongs to a flow whose
    /// lock this process lost. `net`: the lock object may be read and renewed (not
    /// inside the runtime).
    fn may_write(&self, path: &Path, net: bool) -> Result<(), StoreError> {
        match self.lease_of(path) {
            Some(lease) => lease.check(path, net),
            None => Ok(()),
        }
    }

    fn put_file(&self, path: &Path, key: &Key) -> Result<(), StoreError> {
        self.may_write(path, true)?;
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
                if let Err(e) = self.may_write(path, false) {
                    let _ = writer.abort().await;
                    return Err(e);
                }
                writer.write(&buf[..n]);
            }
            if let Err(e) = self.may_write(path, false) {
                let _ = writer.abort().await;
                return Err(e);
            }
            // Only a completed upload makes the object visible; an abandoned one never does.
            writer.finish().await.map_err(|e| other(path, e))?;
            Ok(())
        })
    }

    /// The run id when `dir` is a run's folder, `runs/<flow>/<run-id>`.
    fn run_folder<'a>(&self, dir: &'a Path) -> Option<&'a str> {
        let rel = dir.strip_prefix(&self.runs).ok()?;
        let mut parts = rel.components();
        let (Some(Component::Normal(_)), Some(Component::Normal(id)), None) =
            (parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        id.to_str().filter(|id| is_run_id(id))
    }

    /// Whether folder `dir` is a flow's folder, `runs/<flow>`.
    fn is_flow_folder(&self, dir: &Path) -> bool {
        dir.strip_prefix(&self.runs).is_ok_and(|rel| {
            matches!(
                rel.components().collect::<Vec<_>>()[..],
                [Component::Normal(_)]
            )
        })
    }

    /// For each run id of flow folder `dir`: whether its manifest is stored (`None`: the
    /// request failed, so it is not known), looked for [`PARALLEL_HEADS`] at a time.
    fn manifests_stored(&self, dir: &Path, ids: &[String]) -> Vec<Option<bool>> {
        let mut out = vec![None; ids.len()];
        let mut todo = ids
            .iter()
            .enumerate()
            .map(|(k, id)| (k, self.key(&layout::manifest(&dir.join(id)))));
        self.rt.block_on(async {
            let mut heads = tokio::task::JoinSet::new();
            loop {
                while heads.len() < PARALLEL_HEADS {
                    let Some((k, key)) = todo.next() else {
                        break;
                    };
                    let Some(key) = key else {
                        continue;
                    };
                    let client = self.client.clone();
                    heads.spawn(async move {
                        let head = GetOptions::new().with_head(true);
                        (k, client.get_opts(&key, head).await)
                    });
                }
                let Some(done) = heads.join_next().await else {
                    break;
                };
                if let Ok((k, got)) = done {
                    out[k] = match got {
                        Ok(_) => Some(true),
                        Err(object_store::Error::NotFound { .. }) => Some(false),
                        Err(_) => None,
                    };
                }
            }
        });
        out
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
            // Already so in the working copy: nothing to write (so a full or read-only
            // disk does not stop reading what is already there).
            Some(bytes) if same_file(path, &bytes) => Ok(true),
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

/// Whether `path` is a regular file holding exactly `bytes`.
fn same_file(path: &Path, bytes: &[u8]) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64)
        && std::fs::read(path).is_ok_and(|have| have == bytes)
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

    /// Held by a live process: its lease runs, and it is not a dead process of this host.
    fn held(&self) -> bool {
        self.live() && !Holder::dead_here(&self.holder)
    }

    /// The same holder, renewed for `lease` from now.
    fn renewed(&self, lease: Duration) -> LeaseBody {
        LeaseBody {
            renewal: self.renewal + 1,
            expires_ms: now_ms() + duration_ms(lease),
            ..self.clone()
        }
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
    /// The lock's path in the working copy.
    path: PathBuf,
    /// The flow's folder in the working copy.
    dir: PathBuf,
    flow: String,
    lease: Duration,
    inner: Mutex<LeaseInner>,
    wake: Condvar,
}

#[derive(Debug)]
struct LeaseInner {
    body: LeaseBody,
    version: UpdateVersion,
    /// Until when the lease is surely this process's: the moment the last write of the
    /// lock object that succeeded was sent, plus the lease (a monotonic clock: a paused
    /// process finds it passed when it goes on).
    valid_until: Instant,
    stop: bool,
    /// How the lock was lost, once it was: nothing more of the flow is stored.
    lost: Option<String>,
    /// The first file that was then not stored.
    stopped_at: Option<PathBuf>,
}

fn backend() -> Option<&'static S3> {
    super::backend::get().as_s3()
}

impl LeaseState {
    fn inner(&self) -> std::sync::MutexGuard<'_, LeaseInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Rewrites the lock object with `body` if it is still ours.
    fn rewrite(&self, inner: &mut LeaseInner, body: LeaseBody) -> Result<(), StoreError> {
        let Some(s3) = backend() else {
            return Ok(());
        };
        let sent = Instant::now();
        match s3.put_lock(&self.key, &body, PutMode::Update(inner.version.clone())) {
            Ok(v) => {
                inner.version = v;
                inner.body = body;
                inner.valid_until = sent + self.lease;
                Ok(())
            }
            Err(Put::Lost) => {
                let me = inner.body.holder.clone();
                inner.lost = Some(self.taken_over(s3, &me, false));
                Err(self.refuse(inner, &self.path))
            }
            Err(Put::Failed(e)) => Err(other(&self.path, e)),
        }
    }

    /// Why the lock held by holder id `me` is lost: its lease ran out (`ran_out`), or a
    /// conditional write of it failed. Names the new holder when the lock object can be
    /// read.
    fn taken_over(&self, s3: &S3, me: &str, ran_out: bool) -> String {
        let late = if ran_out {
            format!(
                "its lease ({} s) ran out before it was renewed (the process was paused, or could not reach the store, for longer than that)",
                self.lease.as_secs()
            )
        } else {
            "a renewal of its lease found the lock object changed".to_owned()
        };
        match s3.read_lock(&self.key).ok() {
            Some(Some((b, _))) if b.holder != me => {
                let run = if b.run.is_empty() {
                    String::new()
                } else {
                    format!(", run {}", b.run)
                };
                format!(
                    "{late} and another process ({}{run}) took it over after its lease ran out",
                    Holder::describe(&b.holder)
                )
            }
            Some(None) => format!("{late} and its lock object was removed from the store"),
            Some(Some(_)) if ran_out => {
                format!("{late}; another process may take it over at any moment")
            }
            Some(Some(_)) => format!(
                "{late} (perhaps by a retried request of its own); it may no longer be the only holder"
            ),
            None => format!("{late}; another process may have taken it over"),
        }
    }

    /// The error for a write of `path` refused because the lock is lost.
    fn refuse(&self, inner: &mut LeaseInner, path: &Path) -> StoreError {
        let at = inner
            .stopped_at
            .get_or_insert_with(|| path.to_path_buf())
            .clone();
        StoreError::LostLock {
            flow: self.flow.clone(),
            why: inner.lost.clone().unwrap_or_default(),
            at,
        }
    }

    /// Marks the lease lost when it ran out.
    fn expire(&self, inner: &mut LeaseInner, net: bool) {
        if inner.lost.is_some() || Instant::now() < inner.valid_until {
            return;
        }
        inner.lost = Some(match backend() {
            Some(s3) if net => self.taken_over(s3, &inner.body.holder, true),
            _ => format!(
                "its lease ({} s) ran out before it was renewed (the process was paused, or could not reach the store, for longer than that); another process may have taken it over",
                self.lease.as_secs()
            ),
        });
    }

    /// Whether `path` of this flow may still be stored: not once the lock is lost or its
    /// lease ran out. With less than a third of the lease left (a renewal is late) it is
    /// renewed first, when `net` allows requests.
    fn check(&self, path: &Path, net: bool) -> Result<(), StoreError> {
        let mut inner = if net {
            self.inner()
        } else {
            // Inside the runtime: a renewal holding the state waits for this thread's
            // requests to be driven, so never block on it (it is renewing the lease).
            match self.inner.try_lock() {
                Ok(inner) => inner,
                Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return Ok(()),
            }
        };
        if inner.lost.is_none() && !inner.stop {
            self.expire(&mut inner, net);
            let left = inner.valid_until.saturating_duration_since(Instant::now());
            if net && inner.lost.is_none() && left < self.lease / 3 {
                let body = inner.body.renewed(self.lease);
                // A request that failed leaves the lease running until it ends.
                let _ = self.rewrite(&mut inner, body);
                self.expire(&mut inner, net);
            }
        }
        if inner.lost.is_some() {
            return Err(self.refuse(&mut inner, path));
        }
        Ok(())
    }
}

impl Lease {
    fn start(shared: Arc<LeaseState>) -> Lease {
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
    /// The lock object could not be rewritten, or the lock was lost.
    pub(crate) fn set_holder(&mut self, run_id: &str) -> Result<(), StoreError> {
        let path = self.shared.path.clone();
        self.shared.check(&path, true)?;
        let mut inner = self.shared.inner();
        let mut body = inner.body.renewed(self.shared.lease);
        run_id.clone_into(&mut body.run);
        self.shared.rewrite(&mut inner, body)
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn renew(s: &LeaseState) {
    let mut inner = s.inner();
    loop {
        let (guard, _) = s
            .wake
            .wait_timeout(inner, s.lease / 3)
            .unwrap_or_else(PoisonError::into_inner);
        inner = guard;
        if inner.stop || inner.lost.is_some() {
            return;
        }
        // Paused past the lease: it is not renewed, it is lost (another process may
        // hold the lock by now); the next write of the run reports it.
        s.expire(&mut inner, true);
        if inner.lost.is_some() {
            return;
        }
        let body = inner.body.renewed(s.lease);
        if let Err(e) = s.rewrite(&mut inner, body) {
            if inner.lost.is_some() {
                return;
            }
            crate::commands::note(format!("warning: {e}"));
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let lost = {
            let mut inner = self.shared.inner();
            inner.stop = true;
            // Released: the run id stays for the next holder (as the local lock file). A
            // lease that ran out is left alone: another process may hold the lock now.
            if inner.lost.is_none() && Instant::now() < inner.valid_until {
                let mut body = inner.body.renewed(self.shared.lease);
                body.expires_ms = 0;
                let _ = self.shared.rewrite(&mut inner, body);
            }
            inner.lost.is_some()
        };
        self.shared.wake.notify_all();
        if let Some(h) = self.renewer.take() {
            let _ = h.join();
        }
        // A lost lock stays in the list: the flow stays closed to this process's writes.
        if let Some(s3) = backend().filter(|_| !lost) {
            s3.leases
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|l| !Arc::ptr_eq(l, &self.shared));
        }
    }
}

/// Who holds a lock, as its holder id says: `HOST:PID:START:BOOT:PIDNS` — the host
/// name, the process id, the process's start time (clock ticks after boot, from
/// `/proc/PID/stat`, against a reused pid), the kernel's boot id and the pid namespace
/// (so that containers sharing a host name are not taken for one another).
#[derive(Debug, PartialEq, Eq)]
struct Holder {
    host: String,
    pid: u32,
    start: u64,
    boot: String,
    pidns: String,
}

impl Holder {
    /// This process.
    fn me() -> Option<Holder> {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_owned())
                .unwrap_or_default()
        };
        let pid = std::process::id();
        let pidns = std::fs::read_link("/proc/self/ns/pid")
            .map(|l| {
                l.to_string_lossy()
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect()
            })
            .unwrap_or_default();
        let me = Holder {
            host: read("/proc/sys/kernel/hostname"),
            pid,
            start: start_time(pid)?,
            boot: read("/proc/sys/kernel/random/boot_id"),
            pidns,
        };
        (![&me.host, &me.boot, &me.pidns]
            .iter()
            .any(|s| s.is_empty() || s.contains(':')))
        .then_some(me)
    }

    fn parse(id: &str) -> Option<Holder> {
        let mut parts = id.split(':');
        let holder = Holder {
            host: parts.next()?.to_owned(),
            pid: parts.next()?.parse().ok()?,
            start: parts.next()?.parse().ok()?,
            boot: parts.next()?.to_owned(),
            pidns: parts.next()?.to_owned(),
        };
        parts.next().is_none().then_some(holder)
    }

    fn render(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.host, self.pid, self.start, self.boot, self.pidns
        )
    }

    /// `host H, pid P` for a message.
    fn describe(id: &str) -> String {
        match Holder::parse(id) {
            Some(h) => format!("host {}, pid {}", h.host, h.pid),
            None if id.is_empty() => "holder unknown".to_owned(),
            None => format!("holder {id}"),
        }
    }

    /// Whether holder id `id` names a process of this host (same boot, same pid
    /// namespace) that is no longer alive: its lock is free at once.
    fn dead_here(id: &str) -> bool {
        let (Some(them), Some(me)) = (Holder::parse(id), Holder::me()) else {
            return false;
        };
        if them.host != me.host || them.boot != me.boot || them.pidns != me.pidns {
            return false;
        }
        start_time(them.pid) != Some(them.start)
    }
}

/// When process `pid` started (clock ticks after boot); `None` when there is no such
/// process, or it has ended (a zombie).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `PID (COMM) STATE …`: the command name may hold spaces and parentheses.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if matches!(fields.first(), Some(&("Z" | "X" | "x"))) {
        return None;
    }
    fields.get(19)?.parse().ok()
}

fn holder_id() -> String {
    Holder::me().map_or_else(
        || {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_default();
            format!("{host}:{}", std::process::id())
        },
        |h| h.render(),
    )
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

    fn listed_names(&self, dir: &Path) -> Vec<String> {
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

    fn names(&self, dir: &Path) -> Vec<String> {
        let mut out = self.listed_names(dir);
        if self.key(dir).is_some() && self.is_flow_folder(dir) {
            // A run is there while its manifest is (a request that failed keeps it listed).
            let ids: Vec<String> = out.iter().filter(|n| is_run_id(n)).cloned().collect();
            let gone: Vec<String> = ids
                .iter()
                .zip(self.manifests_stored(dir, &ids))
                .filter(|(_, stored)| *stored == Some(false))
                .map(|(id, _)| id.clone())
                .collect();
            out.retain(|n| !gone.contains(n));
        }
        out
    }

    fn is_dir(&self, dir: &Path) -> bool {
        if self.key(dir).is_none() {
            return Local.is_dir(dir);
        }
        if let Some(id) = self.run_folder(dir) {
            let flow = dir.parent().unwrap_or(dir);
            return self.manifests_stored(flow, &[id.to_owned()]) == [Some(true)];
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
            self.may_write(&self.local(&key), true)?;
            self.rt
                .block_on(self.client.delete(&key))
                .map_err(|e| other(dir, e))?;
        }
        Ok(())
    }

    fn leftover_runs(&self, dir: &Path) -> Vec<String> {
        if self.key(dir).is_none() || !self.is_flow_folder(dir) {
            return Vec::new();
        }
        let Some(list) = self.list(dir) else {
            return Vec::new();
        };
        let ids: Vec<String> = list
            .common_prefixes
            .iter()
            .filter_map(|k| k.filename().filter(|n| is_run_id(n)).map(str::to_owned))
            .collect();
        // Only a manifest surely not stored: a request that failed leaves the run alone.
        ids.iter()
            .zip(self.manifests_stored(dir, &ids))
            .filter(|(_, stored)| *stored == Some(false))
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn removed(&self, path: &Path) -> Result<(), StoreError> {
        let Some(key) = self.key(path) else {
            return Ok(());
        };
        self.may_write(path, true)?;
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
            // The previous holder's run id stays until this holder names its own run
            // (`set_holder`), as in the local lock file: a holder that dies before that
            // (or never runs one, as `prune`) passes on a run still to be settled.
            run: found
                .as_ref()
                .map(|(b, _)| b.run.clone())
                .unwrap_or_default(),
            holder: holder_id(),
            expires_ms: now_ms() + duration_ms(self.lease),
            renewal: found.as_ref().map_or(0, |(b, _)| b.renewal + 1),
        };
        let (mode, previous) = match found {
            None => (PutMode::Create, None),
            Some((old, _)) if old.held() => return Err(busy(old.run)),
            Some((old, version)) => (PutMode::Update(version), Some(old.run)),
        };
        let sent = Instant::now();
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
        let state = Arc::new(LeaseState {
            key,
            path,
            dir: dir.to_path_buf(),
            flow: flow.to_owned(),
            lease: self.lease,
            inner: Mutex::new(LeaseInner {
                body,
                version,
                valid_until: sent + self.lease,
                stop: false,
                lost: None,
                stopped_at: None,
            }),
            wake: Condvar::new(),
        });
        {
            let mut leases = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
            leases.retain(|l| l.dir != dir);
            leases.push(Arc::clone(&state));
        }
        let lease = Lease::start(state);
        Ok(FlowLock::leased(lease, previous.filter(|p| !p.is_empty())))
    }

    fn is_held(&self, dir: &Path) -> bool {
        if self.lock_key(dir).is_none() {
            return Local.is_held(dir);
        }
        self.lock_key(dir)
            .and_then(|key| self.read_lock(&key).ok().flatten())
            .is_some_and(|(b, _)| b.held())
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

#[cfg(test)]
mod tests {
    use super::{Holder, start_time};

    #[test]
    fn a_holder_id_names_this_process_and_outlives_only_it() {
        let me = Holder::me().expect("a holder id on Linux");
        let id = me.render();
        assert_eq!(Holder::parse(&id), Some(Holder::me().unwrap()));
        assert_eq!(start_time(std::process::id()), Some(me.start));
        // This process is alive: its lock is held.
        assert!(!Holder::dead_here(&id));
        // A reused pid (another start time), or no such process: dead.
        let reused = Holder {
            start: me.start + 1,
            ..Holder::parse(&id).unwrap()
        };
        assert!(Holder::dead_here(&reused.render()));
        let gone = Holder {
            pid: 4_194_999,
            ..Holder::parse(&id).unwrap()
        };
        assert!(Holder::dead_here(&gone.render()));
        // Another host, boot or pid namespace, or an id of another form: not judged here.
        for other in [
            Holder {
                host: "elsewhere".into(),
                ..Holder::parse(&gone.render()).unwrap()
            },
            Holder {
                boot: "b".into(),
                ..Holder::parse(&gone.render()).unwrap()
            },
            Holder {
                pidns: "1".into(),
                ..Holder::parse(&gone.render()).unwrap()
            },
        ] {
            assert!(!Holder::dead_here(&other.render()));
        }
        assert!(!Holder::dead_here("vm:123:1733000000000"));
        assert!(!Holder::dead_here(""));
        assert_eq!(
            Holder::describe(&id),
            format!("host {}, pid {}", me.host, me.pid)
        );
    }
}
