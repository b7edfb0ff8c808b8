//! The broker's fetch: resolve, check, pin, send, follow redirects by hand.

use std::net::{IpAddr, SocketAddr};

use nexus_abi::{HttpRequest, HttpResponse};
use reqwest::header::{HeaderName, HeaderValue, LOCATION};
use reqwest::{Method, StatusCode, Url};

use super::{guard, NetError, NetPolicy};

/// Request headers a guest may not set (the broker owns the connection).
const HOP_HEADERS: &[&str] = &[
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "te",
    "upgrade",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
];

/// Request headers dropped when a redirect leaves the origin.
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "cookie"];

/// Makes guests' HTTP requests under a [`NetPolicy`].
#[derive(Debug, Default)]
pub struct NetBroker {
    policy: NetPolicy,
}

impl NetBroker {
    /// A broker enforcing `policy`.
    pub fn new(policy: NetPolicy) -> NetBroker {
        NetBroker { policy }
    }

    /// The policy this broker enforces.
    pub fn policy(&self) -> &NetPolicy {
        &self.policy
    }

    /// Makes `request` (`target` is an absolute `http://` URL), following
    /// redirects and re-checking every hop, within the policy's deadline.
    pub async fn fetch(&self, request: HttpRequest) -> Result<HttpResponse, NetError> {
        let url = request.target.clone();
        tokio::time::timeout(self.policy.timeout(), self.follow(request))
            .await
            .map_err(|_| NetError::Timeout {
                url,
                ms: self.policy.timeout_ms,
            })?
    }

    async fn follow(&self, mut request: HttpRequest) -> Result<HttpResponse, NetError> {
        let first = request.target.clone();
        let mut url = Url::parse(&request.target)
            .map_err(|e| NetError::Invalid(format!("URL {:?}: {e}", request.target)))?;
        for _ in 0..=self.policy.max_redirects {
            let addr = self.pin(&url).await?;
            let response = self.send(&url, addr, &request).await?;
            let status = response.status();
            let next = status
                .is_redirection()
                .then(|| response.headers().get(LOCATION))
                .flatten()
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok());
            let Some(next) = next else {
                return self.read(&url, response).await;
            };
            tracing::debug!(from = %url, to = %next, %status, "net broker follows a redirect");
            if next.origin() != url.origin() {
                request.headers.retain(|(name, _)| {
                    !CREDENTIAL_HEADERS.contains(&name.to_ascii_lowercase().as_str())
                });
            }
            if matches!(
                status,
                StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER
            ) && request.method != "HEAD"
            {
                request.method = "GET".into();
                request.body.clear();
            }
            url = next;
        }
        Err(NetError::Redirects {
            url: first,
            max: self.policy.max_redirects,
        })
    }

    /// The one address this hop connects to: the host (a literal or every
    /// address its name resolves to) must pass the guard.
    async fn pin(&self, url: &Url) -> Result<SocketAddr, NetError> {
        if url.scheme() != "http" {
            return Err(NetError::Scheme(url.to_string()));
        }
        let host = url
            .host_str()
            .ok_or_else(|| NetError::Invalid(format!("URL {url} has no host")))?;
        let port = url.port_or_known_default().unwrap_or(80);
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<IpAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => tokio::net::lookup_host((bare, port))
                .await
                .map_err(|_| NetError::Resolve(host.to_string()))?
                .map(|a| a.ip())
                .collect(),
        };
        let first = *addrs
            .first()
            .ok_or_else(|| NetError::Resolve(host.to_string()))?;
        for addr in &addrs {
            guard::check(*addr, &self.policy.allow_cidrs).map_err(|refusal| NetError::Refused {
                url: url.to_string(),
                host: host.to_string(),
                addr: *addr,
                refusal,
            })?;
        }
        Ok(SocketAddr::new(first, port))
    }

    /// Sends one hop to `addr` only.
    async fn send(
        &self,
        url: &Url,
        addr: SocketAddr,
        request: &HttpRequest,
    ) -> Result<reqwest::Response, NetError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(domain) = url.domain() {
            builder = builder.resolve(domain, addr);
        }
        let client = builder
            .build()
            .map_err(|e| NetError::Connect(format!("HTTP client: {e}")))?;
        let method = Method::from_bytes(request.method.as_bytes())
            .map_err(|_| NetError::Invalid(format!("method {:?}", request.method)))?;
        let mut req = client.request(method, url.clone());
        for (name, value) in &request.headers {
            if HOP_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                continue;
            }
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| NetError::Invalid(format!("header name {name:?}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| NetError::Invalid(format!("value of header {name}")))?;
            req = req.header(name, value);
        }
        if !request.body.is_empty() {
            req = req.body(request.body.clone());
        }
        req.send()
            .await
            .map_err(|e| NetError::Connect(format!("{url} ({addr}): {e}")))
    }

    /// The response with its body, refused past the cap.
    async fn read(
        &self,
        url: &Url,
        mut response: reqwest::Response,
    ) -> Result<HttpResponse, NetError> {
        let max = self.policy.max_response_bytes;
        let too_large = || NetError::TooLarge {
            url: url.to_string(),
            max,
        };
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(too_large());
        }
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (n.as_str().to_string(), value)
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| NetError::Connect(format!("{url}: reading the body: {e}")))?
        {
            if body.len() + chunk.len() > max {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;
    use axum::response::Redirect;
    use axum::routing::get;

    use super::*;

    /// Two local servers; `/away` on the first redirects to the second.
    async fn servers() -> (SocketAddr, SocketAddr) {
        let bind = || tokio::net::TcpListener::bind("127.0.0.1:0");
        let (a, b) = (bind().await.expect("bind"), bind().await.expect("bind"));
        let (addr_a, addr_b) = (a.local_addr().expect("a"), b.local_addr().expect("b"));
        let echo = |headers: HeaderMap| async move {
            let auth = headers.get("authorization").map(|v| v.as_bytes().to_vec());
            auth.unwrap_or_else(|| b"none".to_vec())
        };
        let away = format!("http://{addr_b}/echo");
        let app = axum::Router::new()
            .route("/echo", get(echo))
            .route("/same", get(|| async { Redirect::temporary("/echo") }))
            .route(
                "/away",
                get(move || async move { Redirect::temporary(&away) }),
            );
        let other = app.clone();
        tokio::spawn(async move { axum::serve(a, app).await });
        tokio::spawn(async move { axum::serve(b, other).await });
        (addr_a, addr_b)
    }

    #[tokio::test]
    async fn credentials_stay_with_their_origin() {
        let (a, _) = servers().await;
        let broker = NetBroker::new(NetPolicy {
            allow_cidrs: vec!["127.0.0.1/32".parse().expect("cidr")],
            ..NetPolicy::default()
        });
        let get = |path: &str| HttpRequest {
            method: "GET".into(),
            target: format!("http://{a}{path}"),
            headers: vec![("Authorization".into(), "Bearer guest-secret".into())],
            body: Vec::new(),
        };
        let same = broker.fetch(get("/same")).await.expect("same origin");
        assert_eq!(same.body, b"Bearer guest-secret");
        let away = broker.fetch(get("/away")).await.expect("other origin");
        assert_eq!(away.body, b"none");
    }
}
