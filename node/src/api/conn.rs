//! The HTTP accept loop: a cap on open connections per client address, on
//! an HTTPS node the TLS handshake (a plain-HTTP request is answered
//! `API_TLS_REQUIRED`), the request head read under a deadline and a size limit (coded refusals, see
//! [`super::head`]), then hyper serves the request with the client address
//! attached. Connections serve one request each (no keep-alive), so every
//! request passes the same checks; after an early refusal the rest of the
//! body is drained for a moment so the client reads the answer, not a reset.

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

use super::head::{read_head, refusal_response, Prefixed, Refusal};
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

/// Reads the request head under the front door's limits, then lets hyper
/// serve the one request.
async fn exchange<S>(
    mut stream: S,
    addr: SocketAddr,
    door: &FrontDoor,
    router: Router,
    mut stopped: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let head = tokio::select! {
        head = tokio::time::timeout(
            door.header_timeout,
            read_head(&mut stream, door.max_header_bytes),
        ) => head,
        _ = stopped.wait_for(|stop| *stop) => return,
    };
    let buffered = match head {
        Ok(Ok(Some(buffered))) => buffered,
        Ok(Ok(None)) => return,
        Ok(Err(refused)) => {
            refuse(stream, refused).await;
            return;
        }
        Err(_) => {
            let message = format!(
                "the request head did not arrive within {} ms",
                door.header_timeout.as_millis()
            );
            refuse(stream, (ErrorCode::RequestHeaderTimeout, message)).await;
            return;
        }
    };
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(addr));
        router.clone().oneshot(req.map(Body::new))
    });
    let served = http1::Builder::new()
        .keep_alive(false)
        .timer(TokioTimer::new())
        .header_read_timeout(door.header_timeout)
        .serve_connection(TokioIo::new(Prefixed::new(buffered, stream)), service)
        .without_shutdown()
        .await;
    match served {
        Ok(parts) => linger(parts.io.into_inner().inner).await,
        Err(e) => debug!(error = %e, client = %addr, "connection ended with an error"),
    }
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
