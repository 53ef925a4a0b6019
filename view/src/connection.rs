//! One HTTP/1.1 connection: hyper parses requests (within the head size, header count and
//! header-read time limits), [`ViewApp::handle`] answers them on the blocking pool, and a
//! watchdog closes the connection when no byte has moved for the idle timeout while none of its
//! requests is being computed. Connections over the cap are refused here too.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::api::ViewApp;
use crate::request::{Reply, RequestBody, ViewRequest};
use crate::{ConnectionStats, Limits};

/// Bytes of a reply body handed to hyper at a time. Each piece is a copy, so the whole body is
/// freed (and its worker slot released) as soon as its last piece is queued: what a slow client
/// still holds is at most hyper's write buffer plus one piece.
const BODY_PIECE: usize = 64 << 10;

/// Refused connections lingering at once (each to deliver its `503` and read what the client had
/// sent, so that closing does not reset the connection before the answer is read); past that a
/// refused connection is closed at once.
const MAX_LINGERING_REFUSALS: usize = 64;
/// How long a refused connection may linger.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);
/// Request bytes read (and dropped) from a refused connection at most.
const REFUSAL_READ_LIMIT: usize = 64 << 10;

/// What every connection shares: the app, the HTTP settings and the semaphores that bound the
/// work in progress.
pub(crate) struct Shared {
    app: Arc<ViewApp>,
    http: http1::Builder,
    idle_timeout: Duration,
    max_connections: usize,
    /// One permit per open connection.
    connections: Arc<Semaphore>,
    /// One permit per request being answered, from computing its reply until its body has been
    /// handed to hyper (`Limits::http_workers`; the blocking pool has as many threads).
    workers: Arc<Semaphore>,
    /// Refused connections lingering.
    refusals: Arc<Semaphore>,
    accepted: AtomicU64,
    refused: AtomicU64,
    /// The `503` written to a connection over the cap.
    busy_response: Vec<u8>,
}

impl Shared {
    pub(crate) fn new(app: Arc<ViewApp>, limits: &Limits) -> Shared {
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_buf_size(limits.max_header_bytes)
            .max_headers(limits.max_headers)
            // `Content-Type`, `X-Zoomstack-Height`, ... as the API documents them.
            .title_case_headers(true)
            .keep_alive(true);
        Shared {
            app,
            http,
            idle_timeout: limits.idle_timeout,
            max_connections: limits.max_connections,
            connections: Arc::new(Semaphore::new(limits.max_connections)),
            workers: Arc::new(Semaphore::new(limits.http_workers)),
            refusals: Arc::new(Semaphore::new(MAX_LINGERING_REFUSALS)),
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            busy_response: busy_response(limits.max_connections),
        }
    }

    pub(crate) fn stats(&self) -> ConnectionStats {
        ConnectionStats {
            open: self.max_connections - self.connections.available_permits(),
            accepted: self.accepted.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }

    /// Wait (at most `grace`) until every connection has ended.
    pub(crate) async fn drained(&self, grace: Duration) {
        let all = u32::try_from(self.max_connections).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(grace, self.connections.acquire_many(all)).await;
    }

    /// Serve a newly accepted connection, or refuse it if the cap is reached.
    pub(crate) fn accept(self: &Arc<Self>, stream: TcpStream, stop: watch::Receiver<bool>) {
        let _ = stream.set_nodelay(true);
        if let Ok(permit) = self.connections.clone().try_acquire_owned() {
            self.accepted.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(serve(self.clone(), stream, permit, stop));
        } else {
            self.refused.fetch_add(1, Ordering::Relaxed);
            self.refuse(stream);
        }
    }

    /// Answer `503` without reading the request, then close.
    fn refuse(&self, mut stream: TcpStream) {
        tracing::debug!(
            "viewer: {} connections open, refusing one",
            self.max_connections
        );
        let Ok(permit) = self.refusals.clone().try_acquire_owned() else {
            return; // dropped: closed at once
        };
        let response = self.busy_response.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(REFUSAL_LINGER, async {
                stream.write_all(&response).await?;
                stream.shutdown().await?;
                let mut buf = [0u8; 4096];
                let mut read = 0;
                while read < REFUSAL_READ_LIMIT {
                    match stream.read(&mut buf).await? {
                        0 => break,
                        n => read += n,
                    }
                }
                io::Result::Ok(())
            })
            .await;
        });
    }
}

/// The whole `503` answer to a connection over the cap (the API's JSON error shape).
fn busy_response(max_connections: usize) -> Vec<u8> {
    let reply = Reply::error(
        503,
        format!("busy: {max_connections} connections are open (the server's limit); retry shortly"),
    );
    let mut out = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: {}\r\nX-Content-Type-Options: \
         nosniff\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        reply.content_type,
        reply.body.len()
    )
    .into_bytes();
    out.extend_from_slice(&reply.body);
    out
}

/// When a connection last moved a byte, and how many of its requests are being computed.
struct Activity {
    start: Instant,
    /// Milliseconds since `start` of the last byte read or written.
    last_ms: AtomicU64,
    answering: AtomicUsize,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            answering: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    /// Counts a request as being computed until the guard is dropped.
    fn computing(self: &Arc<Self>) -> AnsweringGuard {
        self.answering.fetch_add(1, Ordering::Relaxed);
        AnsweringGuard(self.clone())
    }
}

struct AnsweringGuard(Arc<Activity>);

impl Drop for AnsweringGuard {
    fn drop(&mut self) {
        // Computing ended: the idle clock restarts now, not at the last byte before it.
        self.0.touch();
        self.0.answering.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A TCP stream that records when bytes move.
struct Tracked {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.touch();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.stream).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Serve one connection until the client closes it, hyper ends it (a parse error, the header
/// read timeout, `Connection: close`), the watchdog finds it idle, or the server stops (then
/// the request in progress is finished first).
async fn serve(
    shared: Arc<Shared>,
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        stream,
        activity: activity.clone(),
    });
    let service = {
        let (shared, activity) = (shared.clone(), activity.clone());
        service_fn(move |request| answer(shared.clone(), activity.clone(), request))
    };
    let conn = shared.http.serve_connection(io, service);
    tokio::pin!(conn);
    let idle = shared.idle_timeout;
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        let check_at = if activity.answering.load(Ordering::Relaxed) > 0 {
            Instant::now() + idle
        } else {
            activity.last() + idle
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("viewer: connection ended: {e}");
                }
                return;
            }
            () = tokio::time::sleep_until(check_at.into()) => {
                if activity.answering.load(Ordering::Relaxed) == 0
                    && activity.last().elapsed() >= idle
                {
                    tracing::debug!("viewer: closing a connection idle for {idle:?}");
                    return; // dropping the connection closes the socket
                }
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// The request's parts the app looks at, owned so they can move to the blocking pool.
struct Head {
    method: String,
    target: String,
    host: Option<String>,
    body: RequestBody,
}

impl Head {
    fn of(request: &hyper::Request<Incoming>) -> Head {
        let headers = request.headers();
        let body = if headers.contains_key(header::TRANSFER_ENCODING) {
            RequestBody::Chunked
        } else {
            // hyper has checked that Content-Length is a number (and that repeated ones agree).
            match headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
            {
                None | Some(0) => RequestBody::None,
                Some(n) => RequestBody::Length(n),
            }
        };
        let uri = request.uri();
        // Origin form (`/path?query`) as sent; an absolute-form target is passed whole, so it
        // matches no route.
        let target = if uri.scheme().is_some() || uri.authority().is_some() {
            uri.to_string()
        } else {
            uri.path_and_query()
                .map_or_else(|| uri.path().to_string(), |pq| pq.as_str().to_string())
        };
        Head {
            method: request.method().as_str().to_string(),
            target,
            host: headers
                .get(header::HOST)
                .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned()),
            body,
        }
    }
}

/// Answer one request: wait for a worker slot, compute the reply on the blocking pool, and hand
/// the body to hyper in pieces (the slot is released with its last piece).
async fn answer(
    shared: Arc<Shared>,
    activity: Arc<Activity>,
    request: hyper::Request<Incoming>,
) -> Result<Response<ReplyBody>, Infallible> {
    let computing = activity.computing();
    let head = Head::of(&request);
    // The body is never read: hyper drains at most what it has buffered, then closes.
    drop(request);
    let is_head = head.method == "HEAD";
    let slot = shared
        .workers
        .clone()
        .acquire_owned()
        .await
        .expect("the worker semaphore is never closed");
    let app = shared.app.clone();
    // The slot moves into the blocking task: if the client goes away meanwhile, it is released
    // only when the work is done, so abandoned requests cannot pile up on the pool.
    let answered = tokio::task::spawn_blocking(move || {
        let reply = app.handle(&ViewRequest {
            method: &head.method,
            target: &head.target,
            host: head.host.as_deref(),
            body: head.body,
        });
        tracing::debug!("{} {} -> {}", head.method, head.target, reply.status);
        (reply, slot)
    })
    .await;
    drop(computing);
    let (reply, slot) = match answered {
        Ok((reply, slot)) => (reply, Some(slot)),
        Err(e) => {
            tracing::error!("viewer: answering a request failed: {e}");
            (
                Reply::error(500, "internal error (a bug: please report it)"),
                None,
            )
        }
    };
    Ok(response(reply, is_head, slot))
}

fn response(
    reply: Reply,
    is_head: bool,
    slot: Option<OwnedSemaphorePermit>,
) -> Response<ReplyBody> {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::with_capacity(reply.headers.len() + 4);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(reply.content_type),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Also for HEAD, whose body is not sent: the length it would have.
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(reply.body.len()));
    if reply.close {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::try_from(value),
        ) {
            headers.append(name, value);
        } else {
            tracing::warn!("viewer: dropped an invalid {name} header");
        }
    }
    let body = if is_head {
        ReplyBody::empty()
    } else {
        ReplyBody::new(reply.body, slot)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// A finished reply body, given to hyper in copied pieces of [`BODY_PIECE`] bytes; it holds
/// the request's worker slot until the last piece is out.
pub(crate) struct ReplyBody {
    data: Vec<u8>,
    sent: usize,
    slot: Option<OwnedSemaphorePermit>,
}

impl ReplyBody {
    fn new(data: Vec<u8>, slot: Option<OwnedSemaphorePermit>) -> ReplyBody {
        ReplyBody {
            data,
            sent: 0,
            slot,
        }
    }

    fn empty() -> ReplyBody {
        ReplyBody::new(Vec::new(), None)
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.sent >= this.data.len() {
            this.slot = None;
            return Poll::Ready(None);
        }
        let end = (this.sent + BODY_PIECE).min(this.data.len());
        let piece = Bytes::copy_from_slice(&this.data[this.sent..end]);
        this.sent = end;
        if end == this.data.len() {
            this.data = Vec::new();
            this.sent = 0;
            this.slot = None;
        }
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.sent >= self.data.len()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact((self.data.len() - self.sent) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_body_comes_in_pieces_and_frees_its_slot_with_the_last() {
        let slots = Arc::new(Semaphore::new(1));
        let slot = slots.clone().try_acquire_owned().unwrap();
        let data: Vec<u8> = (0..BODY_PIECE * 2 + 5).map(|i| i as u8).collect();
        let mut body = ReplyBody::new(data.clone(), Some(slot));
        assert_eq!(body.size_hint().exact(), Some(data.len() as u64));
        let mut got = Vec::new();
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut pieces = 0;
        while let Poll::Ready(Some(frame)) = Pin::new(&mut body).poll_frame(&mut cx) {
            let piece = frame.unwrap().into_data().unwrap();
            assert!(piece.len() <= BODY_PIECE);
            got.extend_from_slice(&piece);
            pieces += 1;
            let done = got.len() == data.len();
            assert_eq!(body.is_end_stream(), done);
            assert_eq!(
                slots.available_permits(),
                usize::from(done),
                "after {pieces}"
            );
        }
        assert_eq!((got, pieces), (data, 3));
        assert!(ReplyBody::empty().is_end_stream());
    }

    #[test]
    fn the_busy_answer_is_one_complete_http_response() {
        let text = String::from_utf8(busy_response(7)).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        assert!(head.contains("Retry-After: 1"));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(v["error"].as_str().unwrap().contains("7 connections"));
    }
}
