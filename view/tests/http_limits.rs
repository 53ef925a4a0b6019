//! What a hostile or broken client can make the server do, over raw TCP on loopback: request
//! bodies are refused unread, oversized heads are refused, connections over the cap get 503,
//! idle and stalled connections are closed by the timeouts, and after each the server goes on
//! answering.

use std::fmt::Write as _;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use zoomstack_engine::ZoomStack;
use zoomstack_kernel::StackParams;
use zoomstack_view::{Limits, ServerOptions, View, ViewServer};

const SMALL: StackParams = StackParams {
    height: 48,
    width: 64,
    center_re: -0.743645857047151,
    center_im: 0.13182592380533,
    scale0: 3.0,
    zoom_per_level: 1.00025,
    max_iter: 256,
};

/// Generous bound for anything the server should do "at once" or after a short timeout; the
/// tests assert that it happens, never how fast.
const BOUND: Duration = Duration::from_secs(10);

fn start_with(params: StackParams, limits: Limits) -> ViewServer {
    let view = View::from_select(ZoomStack::new(100, params).unwrap(), "[:, :, :]").unwrap();
    let options = ServerOptions {
        port: 0,
        threads: 2,
        limits,
        ..ServerOptions::default()
    };
    ViewServer::start(view, options).unwrap()
}

fn start(limits: Limits) -> ViewServer {
    start_with(SMALL, limits)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(BOUND)).unwrap();
    s.set_write_timeout(Some(BOUND)).unwrap();
    s
}

/// A connection whose receive buffer stays small (no autotuning), so a client that does not
/// read stops the server's writes soon.
fn connect_small_window(addr: SocketAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(16 << 10).unwrap();
    socket.connect(&addr.into()).unwrap();
    let s: TcpStream = socket.into();
    s.set_read_timeout(Some(BOUND)).unwrap();
    s.set_write_timeout(Some(BOUND)).unwrap();
    s
}

/// Everything the server sends until it closes the connection (a reset counts as a close),
/// and whether it did close within [`BOUND`].
fn read_until_closed(s: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (got, false);
            }
            Err(_) => return (got, true), // reset by the server
        }
    }
}

/// `n` small request headers `X-H-{i}: v`.
fn small_headers(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let _ = write!(s, "X-H-{i}: v\r\n");
    }
    s
}

/// Status code of a raw answer (0 if there is none).
fn status(answer: &[u8]) -> u16 {
    String::from_utf8_lossy(answer)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Send `request` (write errors ignored: the server may close first) and read until closed.
fn exchange(addr: SocketAddr, request: &[u8]) -> (String, bool) {
    let mut s = connect(addr);
    let _ = s.write_all(request);
    let (answer, closed) = read_until_closed(&mut s);
    // Header names compared in lower case (HTTP's are case-insensitive).
    (String::from_utf8_lossy(&answer).to_lowercase(), closed)
}

/// The server is alive: `/api/info` is answered 200.
fn assert_answers(addr: SocketAddr) {
    let (answer, closed) = exchange(
        addr,
        b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    assert!(closed, "no answer within {BOUND:?}");
    assert_eq!(status(answer.as_bytes()), 200, "{answer}");
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < BOUND, "{what}: not within {BOUND:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_huge_content_length_is_refused_unread_and_the_connection_closed() {
    let server = start(Limits::default());
    let addr = server.addr();
    // tiny_http allocated this body and aborted the process.
    for method in ["HEAD", "GET"] {
        let (answer, closed) = exchange(
            addr,
            format!(
                "{method} /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999999\r\n\r\n"
            )
            .as_bytes(),
        );
        assert!(closed, "{method}: the connection was kept open");
        assert_eq!(status(answer.as_bytes()), 413, "{method}: {answer}");
        assert!(answer.contains("connection: close"), "{answer}");
        if method == "GET" {
            assert!(
                answer.contains("a request body of 99999999999 bytes: expected none"),
                "{answer}"
            );
        } else {
            assert!(answer.ends_with("\r\n\r\n"), "HEAD sent a body: {answer}");
        }
        assert_answers(addr);
    }
    // Chunked, and a client that goes on sending its body: refused all the same.
    let (answer, closed) = exchange(
        addr,
        b"POST /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    );
    assert!(closed);
    assert_eq!(status(answer.as_bytes()), 413, "{answer}");
    assert!(answer.contains("a chunked request body"), "{answer}");
    let mut s = connect(addr);
    let _ = s.write_all(
        b"PUT /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 104857600\r\n\r\n",
    );
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..100 {
        if s.write_all(&chunk).is_err() {
            break; // the server closed: it did not read 100 MiB
        }
    }
    let (_, closed) = read_until_closed(&mut s);
    assert!(closed);
    assert_answers(addr);
    server.shutdown();
}

#[test]
fn oversized_request_heads_are_refused() {
    let server = start(Limits::default());
    let addr = server.addr();
    let many = small_headers(20_000);
    let big = format!("X-Big: {}\r\n", "a".repeat(1 << 20));
    let over_count = small_headers(65);
    for (what, headers) in [
        ("20000 headers", many),
        ("a 1 MiB header", big),
        ("65 small headers (limit 64)", over_count),
    ] {
        let (answer, closed) = exchange(
            addr,
            format!("GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n").as_bytes(),
        );
        assert!(closed, "{what}: the connection was kept open");
        let code = status(answer.as_bytes());
        assert!(
            [0, 400, 431].contains(&code),
            "{what}: {}",
            &answer[..answer.len().min(200)]
        );
        assert_answers(addr);
    }
    // Just under the limits is fine.
    let fine = small_headers(60);
    let (answer, _) = exchange(
        addr,
        format!("GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{fine}\r\n")
            .as_bytes(),
    );
    assert_eq!(status(answer.as_bytes()), 200);
    server.shutdown();
}

#[test]
fn connections_over_the_cap_get_503_and_are_closed() {
    let server = start(Limits {
        max_connections: 4,
        ..Limits::default()
    });
    let addr = server.addr();
    let mut held: Vec<TcpStream> = (0..4).map(|_| connect(addr)).collect();
    wait_until("4 connections open", || server.connections().open == 4);
    let (answer, closed) = exchange(addr, b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert!(closed, "a refused connection was kept open");
    assert_eq!(status(answer.as_bytes()), 503, "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    assert!(answer.contains("busy: 4 connections are open"), "{answer}");
    assert_eq!(server.connections().refused, 1);
    // A connection closing makes room.
    held.pop();
    wait_until("a connection closed", || server.connections().open == 3);
    assert_answers(addr);
    drop(held);
    server.shutdown();
}

#[test]
fn idle_connections_are_closed_after_the_idle_timeout() {
    let server = start(Limits {
        idle_timeout: Duration::from_millis(300),
        header_read_timeout: Duration::from_mins(1),
        ..Limits::default()
    });
    let addr = server.addr();
    // A connection that never sends anything.
    let mut silent = connect(addr);
    // A keep-alive connection after one answered request.
    let mut kept = connect(addr);
    kept.write_all(b"GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let (answer, closed) = read_until_closed(&mut kept);
    assert!(closed, "the kept-alive connection stayed open");
    assert_eq!(status(&answer), 200);
    let (nothing, closed) = read_until_closed(&mut silent);
    assert!(
        closed && nothing.is_empty(),
        "the silent connection stayed open"
    );
    wait_until("no connection open", || server.connections().open == 0);
    assert_answers(addr);
    server.shutdown();
}

#[test]
fn a_request_head_sent_too_slowly_is_cut_off_by_the_header_read_timeout() {
    let server = start(Limits {
        idle_timeout: Duration::from_mins(1),
        header_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    });
    let addr = server.addr();
    let mut s = connect(addr);
    s.write_all(b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    // A byte every 50 ms: never idle, never finished.
    let start = Instant::now();
    let mut cut = false;
    while start.elapsed() < BOUND {
        if s.write_all(b"X").is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (answer, closed) = read_until_closed(&mut s);
    assert!(cut || closed, "the trickling client was never cut off");
    assert_ne!(status(&answer), 200);
    assert_answers(addr);
    server.shutdown();
}

#[test]
fn a_client_that_stops_reading_is_cut_off_and_frees_its_worker() {
    // A 4096 x 2048 frame: 16 MiB of counts, far more than the socket buffers hold.
    let wide = StackParams {
        height: 2048,
        width: 4096,
        max_iter: 32,
        ..SMALL
    };
    let server = start_with(
        wide,
        Limits {
            max_frame_pixels: 4096 * 2048,
            max_active_renders: 1,
            http_workers: 2,
            idle_timeout: Duration::from_millis(300),
            ..Limits::default()
        },
    );
    let addr = server.addr();
    let body = 4096 * 2048 * 2;
    let request = b"GET /api/level/0/counts HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    // Two clients (as many as there are workers) ask for the frame and never read.
    let mut stalled = Vec::new();
    for renders in 1..=2 {
        let mut s = connect_small_window(addr);
        s.write_all(request).unwrap();
        stalled.push(s);
        wait_until("the frame rendered", || {
            server.stats().renders + server.stats().hits == renders
        });
    }
    // They are cut off, so another request gets a worker...
    assert_answers(addr);
    // ...and both are closed by the server before their clients read anything.
    wait_until("the stalled connections closed", || {
        server.connections().open == 0
    });
    for mut s in stalled {
        let (got, closed) = read_until_closed(&mut s);
        assert!(closed);
        assert!(
            got.len() < body,
            "the stalled client got the whole body ({} bytes)",
            got.len()
        );
    }
    server.shutdown();
}
