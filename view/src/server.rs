//! The HTTP server: a fixed set of worker threads taking requests from tiny_http and answering
//! them with [`App::handle`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use zoomstack_kernel::Backend;

use crate::api::{Reply, ViewApp};
use crate::frames::CacheStats;
use crate::{Limits, View, ViewError};

/// Where and how to serve.
#[derive(Clone, Debug)]
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

/// A running viewer: listening, with its worker threads answering requests until
/// [`ViewServer::shutdown`] (or forever, with [`ViewServer::wait`]).
pub struct ViewServer {
    server: Arc<tiny_http::Server>,
    app: Arc<ViewApp>,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl ViewServer {
    /// Check the view and limits, open the socket and start the workers.
    pub fn start(view: View, options: ServerOptions) -> Result<ViewServer, ViewError> {
        let app = Arc::new(ViewApp::new(view, &options)?);
        let requested = SocketAddr::new(options.host, options.port);
        let bind_error = |message: String| ViewError::Bind {
            addr: requested.to_string(),
            message,
        };
        let listener = listen(requested).map_err(|e| bind_error(e.to_string()))?;
        let server = tiny_http::Server::from_listener(listener, None)
            .map_err(|e| bind_error(e.to_string()))?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| bind_error("not an IP socket".to_string()))?;
        let limits = *app.limits();
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..limits.http_workers)
            .map(|i| {
                let (server, app, stop) = (server.clone(), app.clone(), stop.clone());
                std::thread::Builder::new()
                    .name(format!("zoomstack-view-http-{i}"))
                    .spawn(move || serve(&server, &app, &stop))
                    .map_err(|e| ViewError::Config(format!("cannot start HTTP worker: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ViewServer {
            server,
            app,
            addr,
            stop,
            workers,
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

    /// Serve until the process ends.
    pub fn wait(self) {
        for w in self.workers {
            let _ = w.join();
        }
    }

    /// Stop taking requests, finish those being answered and close the socket.
    pub fn shutdown(self) {
        self.stop.store(true, Ordering::SeqCst);
        for _ in &self.workers {
            self.server.unblock();
        }
        for w in self.workers {
            let _ = w.join();
        }
    }
}

/// A listening socket whose accepted connections have Nagle's algorithm off (Linux copies
/// TCP_NODELAY to accepted sockets). tiny_http writes a response in pieces (headers, then the
/// body through a small buffer); with Nagle on, the last piece waits for the client's delayed
/// ACK, adding ~40 ms to every answer.
fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(128)?;
    Ok(socket.into())
}

fn serve(server: &tiny_http::Server, app: &ViewApp, stop: &AtomicBool) {
    loop {
        let request = match server.recv() {
            Ok(r) => r,
            Err(e) => {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                tracing::warn!("viewer: accepting a request failed: {e}");
                continue;
            }
        };
        let host = request
            .headers()
            .iter()
            .find(|h| h.field.equiv("Host"))
            .map(|h| h.value.as_str().to_string());
        let method = request.method().as_str().to_string();
        let reply = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            app.handle(&method, request.url(), host.as_deref())
        }))
        .unwrap_or_else(|_| Reply::error(500, "internal error (a bug: please report it)"));
        tracing::debug!("{method} {} -> {}", request.url(), reply.status);
        // Every body is complete before it is sent: give its length (tiny_http would otherwise
        // switch to chunked encoding above 32 KiB).
        let mut response = tiny_http::Response::from_data(reply.body)
            .with_status_code(reply.status)
            .with_chunked_threshold(usize::MAX);
        let headers = std::iter::once(("Content-Type", reply.content_type.to_string()))
            .chain(std::iter::once((
                "X-Content-Type-Options",
                "nosniff".to_string(),
            )))
            .chain(reply.headers);
        for (name, value) in headers {
            if let Ok(h) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                response.add_header(h);
            }
        }
        if let Err(e) = request.respond(response) {
            tracing::debug!("viewer: writing a response failed: {e}");
        }
    }
}
