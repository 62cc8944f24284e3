//! A scripted HTTP/1.1 server on 127.0.0.1 for the `http` step tests (one request per
//! connection), recording every request it receives.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A request as received.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// What to answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait before answering.
    pub delay: Duration,
    /// Send the body this many bytes at a time with a pause between (0 = at once).
    pub trickle: usize,
    /// Promise `Content-Length` of the full body but close after half of it.
    pub cut: bool,
    /// Instead of `body`, stream a JSON array of exactly this many bytes (0: send `body`).
    pub generated: u64,
    /// Close the connection after reading the request, answering nothing.
    pub hangup: bool,
}

impl Reply {
    /// A JSON reply.
    pub fn json(status: u16, body: &serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
            delay: Duration::ZERO,
            trickle: 0,
            cut: false,
            generated: 0,
            hangup: false,
        }
    }

    /// A plain-text reply.
    pub fn text(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
            trickle: 0,
            cut: false,
            generated: 0,
            hangup: false,
        }
    }

    /// A 200 whose body is a JSON array of `bytes` bytes, streamed without holding it.
    pub fn generated(bytes: u64) -> Reply {
        Reply {
            generated: bytes,
            ..Reply::text(200, "")
        }
    }

    /// A reply that never comes: the server reads the request and waits an hour.
    pub fn silent() -> Reply {
        Reply {
            delay: Duration::from_secs(3600),
            ..Reply::text(200, "")
        }
    }

    /// No reply: the server reads the request and closes the connection.
    pub fn hangup() -> Reply {
        Reply {
            hangup: true,
            ..Reply::text(200, "")
        }
    }

    /// A redirect to `location` with `status` (301, 302, 303, 307, 308).
    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::text(status, "").header("Location", location)
    }

    /// Adds a header.
    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }
}

type Handler = dyn Fn(&Req, usize) -> Reply + Send + Sync;

/// A running server; it stops with the test process.
pub struct Server {
    port: u16,
    requests: Arc<Mutex<Vec<Req>>>,
}

impl Server {
    /// Starts a server answering request n (0-based) with `handler(req, n)`.
    pub fn start(handler: impl Fn(&Req, usize) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let handler: Arc<Handler> = Arc::new(handler);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                let handler = Arc::clone(&handler);
                std::thread::spawn(move || {
                    let _ = serve(stream, &seen, &*handler);
                });
            }
        });
        Server { port, requests }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Req> {
        self.requests.lock().expect("lock").clone()
    }
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<Req>>, handler: &Handler) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let req = Req {
        method,
        path,
        headers,
        body,
    };
    let n = {
        let mut seen = seen.lock().expect("lock");
        seen.push(req.clone());
        seen.len() - 1
    };
    let reply = handler(&req, n);
    std::thread::sleep(reply.delay);
    if reply.hangup {
        return Ok(());
    }
    let mut out = stream;
    let length = if reply.generated > 0 {
        reply.generated
    } else {
        reply.body.len() as u64
    };
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {length}\r\nConnection: close\r\n",
        reply.status,
    );
    for (k, v) in &reply.headers {
        let _ = write!(head, "{k}: {v}\r\n");
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    if reply.generated > 0 {
        return write_generated(&mut out, reply.generated);
    }
    if reply.cut {
        out.write_all(&reply.body[..reply.body.len() / 2])?;
        return Ok(());
    }
    if reply.trickle > 0 {
        for chunk in reply.body.chunks(reply.trickle) {
            out.write_all(chunk)?;
            out.flush()?;
            std::thread::sleep(Duration::from_millis(100));
        }
    } else {
        out.write_all(&reply.body)?;
    }
    out.flush()
}

/// Writes `[0,0,…,0]` padded to exactly `bytes` bytes (at least 3), 64 KiB at a time.
fn write_generated(out: &mut impl Write, bytes: u64) -> std::io::Result<()> {
    let chunk = ",0".repeat(32 * 1024);
    out.write_all(b"[0")?;
    let mut left = bytes.saturating_sub(3);
    while left >= 2 {
        let n = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len()) & !1;
        out.write_all(&chunk.as_bytes()[..n])?;
        left -= n as u64;
    }
    if left == 1 {
        out.write_all(b" ")?;
    }
    out.write_all(b"]")?;
    out.flush()
}
