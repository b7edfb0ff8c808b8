//! The HTTP accept loop: a cap on open connections per client address, on
//! an HTTPS node the TLS handshake (a plain-HTTP request is answered
//! `API_TLS_REQUIRED`), the request head read under a deadline and a size limit (coded refusals, see
//! [`super::head`]), then hyper serves the request with the client address
//! attached. A connection serves its requests one after another
//! (keep-alive), each head through the same checks; after an early refusal
//! the rest of the body is drained for a moment so the client reads the
//! answer, not a reset.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tracing::{debug, warn};

use super::body_end;
use super::head::{read_head, refusal_response, Head, Prefixed, Refusal};
use crate::config::Limits;
use nexus_errors::ErrorCode;

/// How long, and how much, an early-refused body is drained.
const DRAIN_FOR: Duration = Duration::from_secs(2);
const DRAIN_BYTES: usize = 8 << 20;

/// The limits the accept loop applies before the router sees a request.
#[derive(Clone)]
pub struct FrontDoor {
    header_timeout: Duration,
    max_header_bytes: usize,
    per_ip: usize,
    /// HTTPS: the handshake of every connection, under the head deadline.
    tls: Option<TlsAcceptor>,
}

impl std::fmt::Debug for FrontDoor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontDoor")
            .field("header_timeout", &self.header_timeout)
            .field("max_header_bytes", &self.max_header_bytes)
            .field("per_ip", &self.per_ip)
            .field("https", &self.tls.is_some())
            .finish()
    }
}

impl FrontDoor {
    /// The front door of `limits`.
    pub fn new(limits: &Limits) -> FrontDoor {
        FrontDoor {
            header_timeout: Duration::from_millis(limits.header_read_timeout_ms.max(1)),
            max_header_bytes: limits.max_header_bytes,
            per_ip: limits.max_connections_per_ip.max(1),
            tls: None,
        }
    }

    /// This front door serving HTTPS with `tls`.
    pub fn with_tls(mut self, tls: Option<Arc<rustls::ServerConfig>>) -> FrontDoor {
        self.tls = tls.map(TlsAcceptor::from);
        self
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then waits for
/// the requests in flight (connections still sending a head are closed).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    door: FrontDoor,
    shutdown: impl Future<Output = ()>,
) {
    let door = Arc::new(door);
    let open = Arc::new(OpenConnections::default());
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        while tasks.try_join_next().is_some() {}
        let slot = open.enter(addr.ip(), door.per_ip);
        tasks.spawn(connection(
            stream,
            addr,
            slot,
            door.clone(),
            router.clone(),
            stopped.clone(),
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
}

async fn connection(
    stream: TcpStream,
    addr: SocketAddr,
    slot: Option<Slot>,
    door: Arc<FrontDoor>,
    router: Router,
    stopped: watch::Receiver<bool>,
) {
    let Some(_slot) = slot else {
        let message = format!(
            "{} already holds {} open connections to this node",
            addr.ip(),
            door.per_ip
        );
        refuse(stream, (ErrorCode::TooManyConnections, message)).await;
        return;
    };
    let Some(acceptor) = door.tls.clone() else {
        return exchange(stream, addr, &door, router, stopped).await;
    };
    match tokio::time::timeout(door.header_timeout, first_byte(&stream)).await {
        Ok(Some(TLS_HANDSHAKE)) => {}
        Ok(Some(_)) => {
            let message = format!(
                "this node serves its API over HTTPS; the request from {addr} was plain HTTP"
            );
            return refuse(stream, (ErrorCode::ApiTlsRequired, message)).await;
        }
        Ok(None) | Err(_) => return,
    }
    match tokio::time::timeout(door.header_timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => exchange(tls, addr, &door, router, stopped).await,
        Ok(Err(e)) => debug!(error = %e, client = %addr, "TLS handshake failed"),
        Err(_) => debug!(client = %addr, "TLS handshake timed out"),
    }
}

/// The first byte of a TLS connection: a handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// The first byte the client sent, left unread; `None` if it closed.
async fn first_byte(stream: &TcpStream) -> Option<u8> {
    let mut byte = [0u8; 1];
    match stream.peek(&mut byte).await {
        Ok(1) => Some(byte[0]),
        _ => None,
    }
}

/// Serves the connection's requests one after another: each head read
/// under the front door's limits, then hyper serves that one request. The
/// connection stays open for the next one (keep-alive) unless the request
/// ends it (see [`Head::reusable_after`]); between requests it may stay
/// idle for the head timeout, then closes without an answer.
async fn exchange<S>(
    mut stream: S,
    addr: SocketAddr,
    door: &FrontDoor,
    router: Router,
    mut stopped: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut buffered = Vec::new();
    for served in 0u64.. {
        let head = tokio::select! {
            head = tokio::time::timeout(
                door.header_timeout,
                read_head(&mut stream, &mut buffered, door.max_header_bytes),
            ) => head,
            _ = stopped.wait_for(|stop| *stop) => return,
        };
        let head = match head {
            Ok(Ok(Some(head))) => head,
            Ok(Ok(None)) => return,
            Ok(Err(refused)) => return refuse(stream, refused).await,
            // A kept-alive connection that stays quiet just closes.
            Err(_) if served > 0 && buffered.is_empty() => return,
            Err(_) => {
                let message = format!(
                    "the request head did not arrive within {} ms",
                    door.header_timeout.as_millis()
                );
                return refuse(stream, (ErrorCode::RequestHeaderTimeout, message)).await;
            }
        };
        let Some((next, carried)) = serve_one(stream, buffered, head, addr, door, &router).await
        else {
            return;
        };
        (stream, buffered) = (next, carried);
    }
}

/// Lets hyper serve the request whose head starts `buffered`. Returns the
/// connection and the bytes already read of the next request when the
/// connection goes on; `None` once it was closed.
async fn serve_one<S>(
    stream: S,
    buffered: Vec<u8>,
    head: Head,
    addr: SocketAddr,
    door: &FrontDoor,
    router: &Router,
) -> Option<(S, Vec<u8>)>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let router = router.clone();
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(addr));
        let (parts, body) = req.into_parts();
        let (body, end) = body_end::track(body);
        let answer = router
            .clone()
            .oneshot(Request::from_parts(parts, Body::new(body)));
        async move {
            let mut response = answer.await?;
            end.close_unless_read(&mut response);
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let reusable = head.reusable_after.is_some();
    // The request's end reads as the end of the stream, and hyper must not
    // take that for a client that hung up before its answer.
    let served = http1::Builder::new()
        .keep_alive(reusable)
        .half_close(reusable)
        .timer(TokioTimer::new())
        .header_read_timeout(door.header_timeout)
        .serve_connection(
            TokioIo::new(Prefixed::new(buffered, stream, head.reusable_after)),
            service,
        )
        .without_shutdown()
        .await;
    let parts = match served {
        Ok(parts) => parts,
        Err(e) => {
            debug!(error = %e, client = %addr, "connection ended with an error");
            return None;
        }
    };
    let (stream, carried, whole) = parts.io.into_inner().into_parts();
    if reusable && whole && parts.read_buf.is_empty() {
        return Some((stream, carried));
    }
    linger(stream).await;
    None
}

/// Answers a refusal, then closes as [`linger`] does.
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, (code, message): Refusal) {
    if stream
        .write_all(&refusal_response(code, message))
        .await
        .is_ok()
    {
        linger(stream).await;
    }
}

/// Closes the sending side, then reads what the client still sends for a
/// bounded time so that closing does not reset the answer away.
async fn linger<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        let mut sink = [0u8; 16 << 10];
        let mut drained = 0;
        while drained < DRAIN_BYTES {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_FOR, drain).await;
}

/// Open connections per client address (an address leaves the map when its
/// last connection closes, so the map is bounded by the open connections).
#[derive(Default)]
struct OpenConnections {
    by_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection, counted until dropped.
struct Slot {
    open: Arc<OpenConnections>,
    ip: IpAddr,
}

impl OpenConnections {
    fn enter(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut by_ip = self.by_ip.lock().unwrap_or_else(|e| e.into_inner());
        let count = by_ip.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot {
            open: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut by_ip = self.open.by_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = by_ip.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                by_ip.remove(&self.ip);
            }
        }
    }
}
