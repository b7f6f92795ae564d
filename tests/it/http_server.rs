//! A small scripted HTTP/1.1 server on 127.0.0.1, plain or TLS with a test CA, for the SNDS
//! and OAuth tests: each request is answered by a handler that sees the request and how many
//! came to the same path before.

use crate::dovecot::certificates;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Request {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub fn query(&self) -> HashMap<String, String> {
        let query = self.target.split_once('?').map(|(_, q)| q).unwrap_or("");
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    pub fn form(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// What the server does with a request.
pub enum Reply {
    Respond {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// Reads the request, answers nothing, closes after the pause.
    Hang(Duration),
    /// Promises a body of `declared` bytes, sends `sent`, closes.
    CloseMidBody { declared: usize, sent: String },
    /// A CSV body sent without a length, ended by closing the connection: a client cannot
    /// tell an answer cut off in transfer from a whole one.
    CloseWithoutLength { body: String },
    /// A CSV body sent in chunks (`Transfer-Encoding: chunked`), with the last, empty chunk
    /// that ends it when `finished`; without it, the connection closes mid-answer.
    Chunked { chunks: Vec<String>, finished: bool },
}

pub fn respond(status: u16, content_type: &str, body: &str) -> Reply {
    Reply::Respond {
        status,
        headers: vec![("Content-Type", content_type.to_owned())],
        body: body.to_owned(),
    }
}

pub fn csv(body: &str) -> Reply {
    respond(200, "text/csv", body)
}

pub fn json(status: u16, body: &str) -> Reply {
    respond(status, "application/json; charset=utf-8", body)
}

pub fn redirect(location: &str) -> Reply {
    Reply::Respond {
        status: 302,
        headers: vec![("Location", location.to_owned())],
        body: String::new(),
    }
}

/// Answers with `handler(request, n)` where `n` counts earlier requests to the same path.
type Handler = dyn Fn(&Request, usize) -> Reply + Send + Sync;

pub struct TestServer {
    addr: SocketAddr,
    tls: bool,
    log: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    accept_thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// A plain HTTP server.
    pub fn start(handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> TestServer {
        TestServer::start_with(None, handler)
    }

    /// An HTTPS server whose certificate (for 127.0.0.1) the test CA signed: clients must
    /// trust the CA [`write_test_ca`] writes.
    pub fn start_tls(
        handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        let certificates = certificates();
        let identity = native_tls::Identity::from_pkcs8(&certificates.cert, &certificates.key)
            .expect("the test certificate is unusable");
        let acceptor = native_tls::TlsAcceptor::new(identity).expect("cannot build a TLS acceptor");
        TestServer::start_with(Some(acceptor), handler)
    }

    fn start_with(
        tls: Option<native_tls::TlsAcceptor>,
        handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let counts = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
        let is_tls = tls.is_some();
        let tls = tls.map(Arc::new);
        let accept_thread = {
            let (log, stop) = (log.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (log, handler, counts) = (log.clone(), handler.clone(), counts.clone());
                    let tls = tls.clone();
                    std::thread::spawn(move || {
                        stream
                            .set_read_timeout(Some(Duration::from_secs(5)))
                            .unwrap();
                        match tls {
                            Some(acceptor) => {
                                // A client that gives up on the certificate ends here.
                                if let Ok(stream) = acceptor.accept(stream) {
                                    serve(stream, &log, &*handler, &counts);
                                }
                            }
                            None => serve(stream, &log, &*handler, &counts),
                        }
                    });
                }
            })
        };
        TestServer {
            addr,
            tls: is_tls,
            log,
            stop,
            accept_thread: Some(accept_thread),
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.accept_thread.take() {
            let _ = thread.join();
        }
    }
}

/// A connection the server can close, plain or TLS.
trait Connection: Read + Write {
    fn close(&mut self);
}

impl Connection for TcpStream {
    fn close(&mut self) {
        let _ = self.shutdown(std::net::Shutdown::Both);
    }
}

impl Connection for native_tls::TlsStream<TcpStream> {
    fn close(&mut self) {
        let _ = self.shutdown();
        let _ = self.get_ref().shutdown(std::net::Shutdown::Both);
    }
}

fn serve(
    mut stream: impl Connection,
    log: &Mutex<Vec<Request>>,
    handler: &Handler,
    counts: &Mutex<HashMap<String, usize>>,
) {
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    let nth = {
        let mut counts = counts.lock().unwrap();
        let count = counts.entry(request.path().to_owned()).or_insert(0);
        *count += 1;
        *count - 1
    };
    log.lock().unwrap().push(request.clone());
    match handler(&request, nth) {
        Reply::Respond {
            status,
            headers,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} Scripted\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
        Reply::Hang(pause) => std::thread::sleep(pause),
        Reply::CloseMidBody { declared, sent } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: {declared}\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(sent.as_bytes());
            let _ = stream.flush();
        }
        Reply::CloseWithoutLength { body } => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nConnection: close\r\n\r\n";
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
        Reply::Chunked { chunks, finished } => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
            let _ = stream.write_all(head.as_bytes());
            for chunk in chunks.iter().filter(|chunk| !chunk.is_empty()) {
                let _ = stream.write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes());
            }
            if finished {
                let _ = stream.write_all(b"0\r\n\r\n");
            }
        }
    }
    let _ = stream.flush();
    stream.close();
}

fn read_request(stream: &mut impl Read) -> Option<Request> {
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let read = stream.read(&mut buffer).ok()?;
        if read == 0 {
            return None;
        }
        data.extend_from_slice(&buffer[..read]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split_whitespace();
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        let read = stream.read(&mut buffer).ok()?;
        if read == 0 {
            break;
        }
        data.extend_from_slice(&buffer[..read]);
    }
    let body_end = data.len().min(head_end + length);
    Some(Request {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&data[head_end..body_end]).into_owned(),
    })
}

/// Writes the test CA's certificate (PEM) into `dir`, for `ca_file`: the CA that signed the
/// HTTPS server's certificate (the Dovecot harness's, made once per process).
pub fn write_test_ca(dir: &Path) -> PathBuf {
    let path = dir.join("test-ca.pem");
    std::fs::write(&path, &certificates().ca).unwrap();
    path
}
