//! 1000 idle connections and 500 half-sent requests held open against one server: `/api/info`
//! is still answered and the process's thread count stays bounded (`tiny_http` made a thread per
//! connection: 3000 idle connections, 3017 threads). Alone in its test binary, so the thread
//! count is this server's (plus the test harness's two).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use zoomstack_engine::ZoomStack;
use zoomstack_kernel::StackParams;
use zoomstack_view::{Limits, ServerOptions, View, ViewServer};

const IDLE: usize = 1000;
const HALF_SENT: usize = 500;
/// `/api/info` requests timed while the connections are held.
const PROBES: usize = 200;
/// Each probe must be answered within this (a hang or a refusal fails at once).
const ANSWER_BOUND: Duration = Duration::from_secs(2);
const MAX_THREADS: usize = 64;

fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn info(addr: SocketAddr) -> Duration {
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(ANSWER_BOUND)).unwrap();
    s.write_all(b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)
        .unwrap_or_else(|e| panic!("/api/info not answered within {ANSWER_BOUND:?}: {e}"));
    let elapsed = start.elapsed();
    assert!(
        answer.starts_with(b"HTTP/1.1 200 "),
        "{}",
        String::from_utf8_lossy(&answer[..answer.len().min(300)])
    );
    elapsed
}

#[test]
fn idle_and_half_sent_connections_leave_the_server_answering_on_few_threads() {
    // Both ends of every connection live in this process.
    let need = 2 * (IDLE + HALF_SENT) as u64 + 256;
    let got = rlimit::increase_nofile_limit(need).unwrap();
    assert!(
        got >= need,
        "open files limit {got}: this test needs {need}"
    );

    let stack = ZoomStack::new(
        100,
        StackParams {
            height: 64,
            width: 64,
            ..StackParams::default()
        },
    )
    .unwrap();
    let view = View::from_select(stack, "[:, :, :]").unwrap();
    let server = ViewServer::start(
        view,
        ServerOptions {
            port: 0,
            threads: 2,
            limits: Limits {
                max_connections: 2048,
                // Longer than the test: the connections stay open until it drops them.
                header_read_timeout: Duration::from_mins(2),
                idle_timeout: Duration::from_mins(2),
                ..Limits::default()
            },
            ..ServerOptions::default()
        },
    )
    .unwrap();
    let addr = server.addr();
    let threads_before = threads();

    let mut held = Vec::with_capacity(IDLE + HALF_SENT);
    for _ in 0..IDLE {
        held.push(TcpStream::connect(addr).unwrap());
    }
    for i in 0..HALF_SENT {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half-{i}: "
        )
        .unwrap();
        held.push(s);
    }
    let start = Instant::now();
    while server.connections().open < IDLE + HALF_SENT {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "only {:?} after 30 s",
            server.connections()
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    let mut times: Vec<Duration> = (0..PROBES).map(|_| info(addr)).collect();
    times.sort();
    let p50 = times[PROBES / 2];
    let p99 = times[PROBES * 99 / 100 - 1];
    let threads_held = threads();
    eprintln!(
        "with {IDLE} idle and {HALF_SENT} half-sent connections open: /api/info p50 {p50:?}, \
         p99 {p99:?}, max {:?} over {PROBES} requests; threads {threads_before} before, \
         {threads_held} while held; {:?}",
        times[PROBES - 1],
        server.connections()
    );
    assert!(
        threads_held < MAX_THREADS,
        "{threads_held} threads with {} connections open",
        IDLE + HALF_SENT
    );
    // None of the held connections was dropped by the server meanwhile.
    let stats = server.connections();
    assert!(stats.open >= IDLE + HALF_SENT, "{stats:?}");
    assert_eq!(stats.refused, 0);

    drop(held);
    let start = Instant::now();
    while server.connections().open > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "connections not closed"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    server.shutdown();
}
