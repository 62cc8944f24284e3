//! The elements of a top-level JSON array read from a stream one at a time.

use super::decode::has_wide_float;
use super::parse::is_json_space;
use serde_json::Value;
use std::io;

/// The elements of a top-level JSON array read from a stream one at a time, each
/// parsed as [`decode`](super::decode) would parse it, so that a large array never has to be in
/// memory at once. Anything this reader does not take on (not an array, a syntax
/// error, an integer too wide, nesting beyond the parser's limit) ends it with
/// [`NotStreamed`]: the caller then reads the text whole with [`decode`](super::decode), which
/// reports the problem with its line and column.
pub(crate) struct ArrayElements<R: io::Read> {
    r: R,
    buf: Vec<u8>,
    /// Start of the element being scanned.
    start: usize,
    /// Where scanning stopped.
    scan: usize,
    depth: usize,
    in_str: bool,
    esc: bool,
    state: ArrayState,
    /// The last element returned ended the array: what follows is checked next call.
    ended: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrayState {
    Before,
    First,
    Inside,
    Done,
}

/// Why [`ArrayElements`] stopped before the end of a well-formed array.
#[derive(Debug)]
pub(crate) enum NotStreamed {
    /// Reading failed.
    Io(
        #[allow(
            dead_code,
            reason = "shown by Debug; the caller falls back and reads the file again"
        )]
        io::Error,
    ),
    /// The text is not an array this reader takes on (see [`ArrayElements`]).
    Text,
}

const READ_CHUNK: usize = 1 << 20;

impl<R: io::Read> ArrayElements<R> {
    /// Elements of the array that `r` holds.
    pub(crate) fn new(r: R) -> Self {
        ArrayElements {
            r,
            buf: Vec::with_capacity(READ_CHUNK),
            start: 0,
            scan: 0,
            depth: 0,
            in_str: false,
            esc: false,
            state: ArrayState::Before,
            ended: false,
        }
    }

    /// Reads more text; false at the end of it.
    fn fill(&mut self) -> Result<bool, NotStreamed> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.scan -= self.start;
            self.start = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + READ_CHUNK, 0);
        let n = loop {
            match self.r.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(NotStreamed::Io(e));
                }
            }
        };
        self.buf.truncate(old + n);
        Ok(n > 0)
    }

    /// The next byte that is not JSON white space, consumed; `None` at the end.
    fn next_token(&mut self) -> Result<Option<u8>, NotStreamed> {
        loop {
            while self.start < self.buf.len() {
                let b = self.buf[self.start];
                self.start += 1;
                if !is_json_space(b) {
                    self.scan = self.start;
                    return Ok(Some(b));
                }
            }
            self.scan = self.start;
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// The next element, or `None` after the last one.
    ///
    /// # Errors
    /// See [`NotStreamed`].
    #[cfg(test)]
    pub(crate) fn next_value(&mut self) -> Result<Option<Value>, NotStreamed> {
        match self.next_raw()? {
            Some(raw) => parse_element(raw).map(Some),
            None => Ok(None),
        }
    }

    /// The text of the next element (as in the input, surrounding white space
    /// included), or `None` after the last one; it is checked only as far as finding
    /// where it ends — [`parse_element`] parses it.
    ///
    /// # Errors
    /// See [`NotStreamed`].
    pub(crate) fn next_raw(&mut self) -> Result<Option<&[u8]>, NotStreamed> {
        if self.ended {
            self.ended = false;
            return self.end();
        }
        match self.state {
            ArrayState::Done => return Ok(None),
            ArrayState::Before => {
                if !self.fill()? {
                    return Err(NotStreamed::Text);
                }
                if self.buf.starts_with(b"\xEF\xBB\xBF") {
                    self.start = 3;
                }
                if self.next_token()? != Some(b'[') {
                    return Err(NotStreamed::Text);
                }
                // An empty array: `]` straight after `[`.
                match self.next_token()? {
                    Some(b']') => return self.end(),
                    Some(_) => {
                        self.start -= 1;
                        self.scan = self.start;
                    }
                    None => return Err(NotStreamed::Text),
                }
                self.state = ArrayState::First;
            }
            ArrayState::First | ArrayState::Inside => {}
        }
        self.state = ArrayState::Inside;
        // Scan to the `,` or `]` that ends this element.
        let end = loop {
            let mut found = None;
            while self.scan < self.buf.len() {
                let b = self.buf[self.scan];
                if self.in_str {
                    if self.esc {
                        self.esc = false;
                    } else if b == b'\\' {
                        self.esc = true;
                    } else if b == b'"' {
                        self.in_str = false;
                    }
                } else {
                    match b {
                        b'"' => self.in_str = true,
                        b'[' | b'{' => self.depth += 1,
                        b']' | b'}' if self.depth > 0 => self.depth -= 1,
                        b']' => {
                            found = Some(b);
                            break;
                        }
                        b',' if self.depth == 0 => {
                            found = Some(b);
                            break;
                        }
                        _ => {}
                    }
                }
                self.scan += 1;
            }
            if let Some(b) = found {
                break b;
            }
            if !self.fill()? {
                return Err(NotStreamed::Text);
            }
        };
        let (from, to) = (self.start, self.scan);
        self.scan += 1;
        self.start = self.scan;
        // The `]` that ends the array: what follows it is checked on the next call
        // (the text returned here stays in the buffer until then).
        self.ended = end == b']';
        Ok(Some(&self.buf[from..to]))
    }

    /// After the closing `]`: only white space may follow.
    fn end(&mut self) -> Result<Option<&[u8]>, NotStreamed> {
        self.state = ArrayState::Done;
        match self.next_token()? {
            None => Ok(None),
            Some(_) => Err(NotStreamed::Text),
        }
    }
}

/// One element's text from [`ArrayElements::next_raw`] parsed as [`decode`](super::decode) would
/// parse it inside the array; anything `decode` would refuse or report is
/// [`NotStreamed::Text`].
///
/// # Errors
/// See above.
pub(crate) fn parse_element(raw: &[u8]) -> Result<Value, NotStreamed> {
    if let Some(value) = super::parse_plain(raw) {
        return Ok(value);
    }
    let value: Value = serde_json::from_slice(raw).map_err(|_| NotStreamed::Text)?;
    if has_wide_float(&value) {
        return Err(NotStreamed::Text);
    }
    Ok(value)
}

#[cfg(test)]
mod stream_tests {
    //! The streaming array reader against the whole-text parser.
    use super::*;
    #[test]
    fn array_elements_match_the_whole_parse() {
        let text = b"[\n{\"a\":[1,2,{\"b\":\"x]\\\"\"}]}, 2 ,\"s\"]\n";
        let mut e = ArrayElements::new(&text[..]);
        let mut got = Vec::new();
        loop {
            match e.next_value() {
                Ok(Some(v)) => got.push(v),
                Ok(None) => break,
                Err(x) => panic!("{x:?} after {got:?}"),
            }
        }
        assert_eq!(
            Value::Array(got),
            serde_json::from_slice::<Value>(text).unwrap()
        );
    }
}
