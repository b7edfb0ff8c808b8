//! The HTTP accept loop: a cap on open connections per client address, the
//! request head read under a deadline and a size limit (coded refusals, see
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
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;
use tracing::{debug, warn};

use super::head::{read_head, refusal_response, Prefixed, Refusal};
use crate::config::Limits;
use nexus_errors::ErrorCode;

/// How long, and how much, an early-refused body is drained.
const DRAIN_FOR: Duration = Duration::from_secs(2);
const DRAIN_BYTES: usize = 8 << 20;

/// The limits the accept loop applies before the router sees a request.
#[derive(Debug, Clone)]
pub struct FrontDoor {
    header_timeout: Duration,
    max_header_bytes: usize,
    per_ip: usize,
}

impl FrontDoor {
    /// The front door of `limits`.
    pub fn new(limits: &Limits) -> FrontDoor {
        FrontDoor {
            header_timeout: Duration::from_millis(limits.header_read_timeout_ms.max(1)),
            max_header_bytes: limits.max_header_bytes,
            per_ip: limits.max_connections_per_ip.max(1),
        }
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
    mut stream: TcpStream,
    addr: SocketAddr,
    slot: Option<Slot>,
    door: Arc<FrontDoor>,
    router: Router,
    mut stopped: watch::Receiver<bool>,
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
async fn refuse(mut stream: TcpStream, (code, message): Refusal) {
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
async fn linger(mut stream: TcpStream) {
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
