//! One pass over a streamed `read`'s array: chunks of elements printed on worker
//! threads, the `read` step's file written in order, the `split`'s batch files cut
//! from the same bytes.

use crate::engine::parallel;
use crate::engine::step::Failure;
use crate::json::NotStreamed;
use crate::secrets::Secrets;
use crate::store::StoreError;
use crate::store::payload::{self, Pending};
use serde_json::Value;
use std::io::{self, Write};
use std::path::Path;

/// The `split`'s batches, printed while the `read` before it ran: temporary files in
/// the `read` step's folder (named into the `split`'s folder when the `split` records
/// them), each with its elements when they are to stay in memory.
pub(crate) struct Batches {
    pub(super) batches: Vec<Batch>,
}

pub(super) struct Batch {
    pub(super) pending: Pending,
    /// The batch's elements, when they stay in memory for the next step (see
    /// [`Pass::finish_batch`]); `None`: the next step reads the batch's file back.
    pub(super) values: Option<Vec<Value>>,
}

/// Raw text of array elements handed to a worker at once (about this many bytes).
pub(super) const CHUNK_BYTES: usize = 128 << 10;

/// Elements as a worker printed them.
pub(super) struct Printed {
    /// Each element printed one level deep, after `,\n  ` (the separator inside an
    /// array; the first element of an array drops the comma).
    pub(super) out: Vec<u8>,
    /// Where each element's bytes end in `out`.
    pub(super) ends: Vec<usize>,
    /// Whether a secret was masked out of each element.
    pub(super) masked: Vec<bool>,
    /// Each element parsed, or `None` when it was printed from its text without being
    /// parsed (see [`print_chunk`]).
    pub(super) values: Vec<Option<Value>>,
    /// The raw text it was given, for reuse.
    pub(super) raw: Vec<u8>,
}

/// A chunk of raw elements (`raw`, each ending at an offset in `ends`) parsed and
/// printed on a worker thread, as `decode` and the payload printer would. Unless
/// `values` asks for the parsed elements (or there are secrets to mask), an element
/// is printed straight from its text when [`push_pretty_raw`](crate::json::push_pretty_raw)
/// takes it on: the same bytes, without building a value nobody keeps.
pub(super) fn print_chunk(
    raw: Vec<u8>,
    ends: &[usize],
    mut out: Vec<u8>,
    secrets: Option<&Secrets>,
    values: bool,
) -> Result<Printed, NotStreamed> {
    out.clear();
    let mut printed = Printed {
        out,
        ends: Vec::with_capacity(ends.len()),
        masked: Vec::with_capacity(ends.len()),
        values: Vec::with_capacity(ends.len()),
        raw: Vec::new(),
    };
    let shortcut = !values && secrets.is_none();
    let mut from = 0;
    for &to in ends {
        let text = &raw[from..to];
        from = to;
        printed.out.extend_from_slice(b",\n  ");
        if shortcut && crate::json::push_pretty_raw(&mut printed.out, text, 1) {
            printed.ends.push(printed.out.len());
            printed.masked.push(false);
            printed.values.push(None);
            continue;
        }
        let value = crate::json::parse_element(text)?;
        let masked = secrets.and_then(|s| s.mask_value(&value));
        crate::json::push_pretty_at(&mut printed.out, masked.as_ref().unwrap_or(&value), 1);
        printed.ends.push(printed.out.len());
        printed.masked.push(masked.is_some());
        printed.values.push(Some(value));
    }
    printed.raw = raw;
    Ok(printed)
}

/// Why a streamed `read` stopped before the end of its array.
pub(super) enum Stopped {
    /// The text is not an array this path takes on: the step runs whole instead.
    Refused,
    /// The run must end (a stop, the timeout).
    Failed(Failure),
    /// A batch file could not be written.
    Store(StoreError),
}

/// One pass over the input array: the `read` step's file is written as the printed
/// elements come back from the workers (in order), and the `split`'s batch files
/// are cut from the same bytes.
pub(super) struct Pass<'a> {
    pub(super) dir: &'a Path,
    pub(super) max: u64,
    pub(super) size: usize,
    pub(super) hold: u64,
    /// Elements printed into the `read` step's file so far.
    pub(super) k: usize,
    /// The batch being filled: its bytes, elements (those parsed), how many there are,
    /// whether any was printed without being parsed, and whether any was masked.
    pub(super) bytes: Vec<u8>,
    pub(super) values: Vec<Value>,
    pub(super) count: usize,
    pub(super) unparsed: bool,
    pub(super) masked: bool,
    /// Set once a batch was let go for the budget: from then on the workers are not
    /// asked for parsed elements (a later batch that is kept all the same is parsed
    /// from its bytes).
    pub(super) spilled: bool,
    /// Bytes of the batches kept in memory so far.
    pub(super) held: u64,
    pub(super) done: Vec<Batch>,
}

impl Pass<'_> {
    /// Writes one chunk of printed elements to the `read` step's file `w` and into
    /// the batches; whether any was masked.
    pub(super) fn feed(&mut self, w: &mut dyn Write, p: &mut Printed) -> Result<bool, Stopped> {
        let io = |e: io::Error| Stopped::Store(StoreError::io(self.dir, e));
        let whole = if self.k == 0 { &p.out[1..] } else { &p.out[..] };
        w.write_all(whole).map_err(io)?;
        let mut from = 0;
        for (j, value) in p.values.drain(..).enumerate() {
            let to = p.ends[j];
            let first = self.count == 0;
            if first {
                self.bytes.push(b'[');
            }
            // The first element of a batch drops the comma.
            self.bytes
                .extend_from_slice(&p.out[from + usize::from(first)..to]);
            from = to;
            self.masked |= p.masked[j];
            match value {
                Some(value) => self.values.push(value),
                None => self.unparsed = true,
            }
            self.count += 1;
            self.k += 1;
            if self.count == self.size {
                self.finish_batch()?;
            }
        }
        Ok(p.masked.iter().any(|m| *m))
    }

    /// Writes the batch being filled to its temporary file. Its elements stay in
    /// memory as the step loop keeps outputs (`Committer`): while the batches kept
    /// fit the budget, and always when the file does not hold the batch exactly
    /// (trimmed or masked: it cannot be read back).
    pub(super) fn finish_batch(&mut self) -> Result<(), Stopped> {
        if self.count == 0 {
            return Ok(());
        }
        self.bytes.extend_from_slice(b"\n]\n");
        let (bytes, masked) = (&self.bytes, self.masked);
        let pending = payload::stream_to_temp(self.dir, self.max, |w| {
            w.write_all(bytes)?;
            Ok(masked)
        })
        .map_err(Stopped::Store)?
        .close();
        self.masked = false;
        self.count = 0;
        let unparsed = std::mem::take(&mut self.unparsed);
        let values = std::mem::take(&mut self.values);
        let enc = &pending.encoded;
        let exact = !enc.trimmed && !enc.masked;
        let keep = !exact || self.held == 0 || self.held + enc.full_bytes <= self.hold;
        let values = if keep {
            self.held += enc.full_bytes;
            if unparsed {
                // Printed from their text: parsed from the batch's bytes (which a
                // masked batch never is: masking needs the parsed elements).
                parallel::spawn(move || drop(values));
                match crate::json::decode(&self.bytes, 1) {
                    Ok(Value::Array(items)) => Some(items),
                    _ => return Err(Stopped::Refused),
                }
            } else {
                Some(values)
            }
        } else {
            self.spilled = true;
            // Freed on a worker: the elements were parsed there.
            parallel::spawn(move || drop(values));
            None
        };
        self.bytes.clear();
        self.done.push(Batch { pending, values });
        Ok(())
    }
}
