//! The dashboard at `/`: a page, a script and a style sheet built into the
//! binary (no key to load them; the page asks for one and keeps it in the
//! browser tab). Served with a content security policy that allows only this
//! node's own scripts, styles and API.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderName;
use axum::response::IntoResponse;

const INDEX: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/dashboard.js");
const STYLE: &str = include_str!("dashboard/dashboard.css");
const ICON: &str = include_str!("dashboard/favicon.svg");

/// Headers every dashboard asset carries.
fn headers(content_type: &'static str) -> [(HeaderName, &'static str); 6] {
    [
        (CONTENT_TYPE, content_type),
        (CACHE_CONTROL, "no-cache"),
        (
            HeaderName::from_static("content-security-policy"),
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
        (HeaderName::from_static("x-content-type-options"), "nosniff"),
        (HeaderName::from_static("referrer-policy"), "no-referrer"),
        (HeaderName::from_static("x-frame-options"), "DENY"),
    ]
}

/// `GET /`.
#[utoipa::path(get, path = "/", security(()), responses((status = 200, description = "The dashboard's index", content_type = "text/html", body = String)))]
pub async fn index() -> impl IntoResponse {
    (headers("text/html; charset=utf-8"), INDEX)
}

/// `GET /dashboard.js`.
#[utoipa::path(get, path = "/dashboard.js", security(()), responses((status = 200, description = "The dashboard's script", content_type = "text/javascript", body = String)))]
pub async fn script() -> impl IntoResponse {
    (headers("text/javascript; charset=utf-8"), SCRIPT)
}

/// `GET /dashboard.css`.
#[utoipa::path(get, path = "/dashboard.css", security(()), responses((status = 200, description = "The dashboard's style", content_type = "text/css", body = String)))]
pub async fn style() -> impl IntoResponse {
    (headers("text/css; charset=utf-8"), STYLE)
}

/// `GET /favicon.svg`.
#[utoipa::path(get, path = "/favicon.svg", security(()), responses((status = 200, description = "The dashboard's icon", content_type = "image/svg+xml", body = String)))]
pub async fn icon() -> impl IntoResponse {
    (headers("image/svg+xml"), ICON)
}
