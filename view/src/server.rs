//! The HTTP server: hyper (HTTP/1.1) on a tokio runtime with a few I/O threads; requests are
//! answered by [`ViewApp::handle`] on tokio's blocking pool, never on the I/O threads. Every
//! resource a client can hold is bounded: connections (a cap), time (header read and idle
//! timeouts), bytes (head size, header count, no request bodies, replies handed out in pieces)
//! and threads (fixed: I/O threads, `http_workers` blocking threads, render threads).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use zoomstack_kernel::Backend;

use crate::api::ViewApp;
use crate::connection::Shared;
use crate::frames::CacheStats;
use crate::{Limits, View, ViewError};

/// Threads that run the connections (accepting, parsing, writing); the work of answering is on
/// the blocking pool, so two are plenty.
const IO_THREADS: usize = 2;
/// How long [`ViewServer::shutdown`] waits for requests in progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Pending connections the kernel queues before they are accepted.
const BACKLOG: i32 = 1024;
/// Pause after a failed accept (e.g. out of file descriptors), so the loop does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(20);
/// Where and how to serve.
#[derive(Clone, Copy, Debug)]
pub struct ServerOptions {
    /// Address to listen on (default loopback `127.0.0.1`). On any other address the `Host`
    /// check is off, so other machines can reach the viewer by name.
    pub host: IpAddr,
    /// Port (0 = any free port; the chosen one is in [`ViewServer::addr`]).
    pub port: u16,
    /// Render threads (0 = one per core).
    pub threads: usize,
    /// Kernel backend (all give identical counts).
    pub backend: Backend,
    /// Request and memory limits.
    pub limits: Limits,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8000,
            threads: 0,
            backend: Backend::fastest(),
            limits: Limits::default(),
        }
    }
}

/// Connection counters of a running server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Connections open now.
    pub open: usize,
    /// Connections accepted and served since the start.
    pub accepted: u64,
    /// Connections refused (`503`, closed) because [`Limits::max_connections`] were open.
    pub refused: u64,
}

/// A running viewer: listening, answering requests until [`ViewServer::shutdown`] (or
/// forever, with [`ViewServer::wait`]).
pub struct ViewServer {
    app: Arc<ViewApp>,
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    accept: tokio::task::JoinHandle<()>,
    runtime: tokio::runtime::Runtime,
}

impl ViewServer {
    /// Check the view and limits, open the socket and start serving. Raises the process's soft
    /// limit on open files (within the hard limit) so that `max_connections` fit. The server
    /// runs its own tokio runtime: call this, [`ViewServer::wait`] and
    /// [`ViewServer::shutdown`] from synchronous code, not from inside another runtime.
    ///
    /// # Errors
    ///
    /// The errors of [`ViewApp::new`], [`ViewError::Bind`] when the socket
    /// cannot be opened, [`ViewError::Config`] when the HTTP runtime cannot start.
    pub fn start(view: View, options: ServerOptions) -> Result<ViewServer, ViewError> {
        let app = Arc::new(ViewApp::new(view, &options)?);
        let limits = *app.limits();
        let requested = SocketAddr::new(options.host, options.port);
        let bind_error = |message: String| ViewError::Bind {
            addr: requested.to_string(),
            message,
        };
        let listener = listen(requested).map_err(|e| bind_error(e.to_string()))?;
        let addr = listener
            .local_addr()
            .map_err(|e| bind_error(e.to_string()))?;
        raise_open_files_limit(&limits);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(IO_THREADS)
            .max_blocking_threads(limits.http_workers)
            .thread_name("zoomstack-view-http")
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| ViewError::Config(format!("cannot start the HTTP runtime: {e}")))?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(|e| bind_error(e.to_string()))?
        };
        let shared = Arc::new(Shared::new(app.clone(), &limits));
        let (stop, stopped) = watch::channel(false);
        let accept = runtime.spawn(accept_loop(listener, shared.clone(), stopped));
        Ok(ViewServer {
            app,
            shared,
            addr,
            stop,
            accept,
            runtime,
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's URL, e.g. `http://127.0.0.1:8000/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Render and cache counters.
    pub fn stats(&self) -> CacheStats {
        self.app.stats()
    }

    /// Connection counters.
    pub fn connections(&self) -> ConnectionStats {
        self.shared.stats()
    }

    /// Serve until the process ends.
    pub fn wait(self) {
        let _ = self.runtime.block_on(self.accept);
    }

    /// Stop taking connections and close the socket; finish the requests in progress (for at
    /// most 2 s), then close every connection.
    pub fn shutdown(self) {
        let _ = self.stop.send(true);
        let ViewServer {
            shared,
            accept,
            runtime,
            ..
        } = self;
        runtime.block_on(async {
            let _ = accept.await;
            shared.drained(SHUTDOWN_GRACE).await;
        });
        runtime.shutdown_timeout(SHUTDOWN_GRACE);
    }
}

/// Accept connections until told to stop (the listener is then dropped: the port closes).
async fn accept_loop(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => shared.accept(stream, stop.clone()),
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted.
                    tracing::warn!("viewer: accepting a connection failed: {e}");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                }
            },
            _ = stop.changed() => return,
        }
    }
}

/// A non-blocking listening socket with Nagle's algorithm off on accepted connections (Linux
/// copies `TCP_NODELAY` to them; each is also set on accept): a response written in pieces would
/// otherwise wait for the client's delayed ACK, ~40 ms.
fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Each connection is a file descriptor: make room for `max_connections` of them (and the
/// process's others) if the hard limit allows; otherwise accepting fails when they run out,
/// which the accept loop survives.
fn raise_open_files_limit(limits: &Limits) {
    let wanted = limits.max_connections as u64 + 256;
    match rlimit::increase_nofile_limit(wanted) {
        Ok(got) if got < wanted => tracing::warn!(
            "viewer: at most {got} open files (hard limit): fewer than {} connections fit",
            limits.max_connections
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!("viewer: cannot raise the open files limit: {e}"),
    }
}
