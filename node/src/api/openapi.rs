//! The API's OpenAPI 3.1 document, generated from the handlers'
//! `#[utoipa::path]` annotations and the types' schemas, served at
//! `GET /v1/openapi.json` (no key). Every operation lists every error status
//! the catalog has, each with the error body's shape and its codes.

use std::collections::BTreeMap;

use axum::Json;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, Response, ResponseBuilder, Schema};
use utoipa::{Modify, OpenApi};

use super::types::ErrorBody;
use super::{
    cluster, dashboard, drain, fabric, files, health, keys, metrics, net, nodes, sandboxes, serve,
    tenants, tokens,
};
use nexus_errors::ErrorCode;

/// The document's operations and named schemas.
#[derive(OpenApi)]
#[openapi(
    info(title = "Nexus node API", description = "Every error answers `{\"error\": {\"code\", \"message\", \"hint\"}}` with a code from docs/errors.md."),
    paths(
        health::health, health::ready, metrics::scrape, document,
        dashboard::index, dashboard::script, dashboard::style, dashboard::icon,
        sandboxes::dock, sandboxes::list, sandboxes::info, sandboxes::remove, sandboxes::call,
        sandboxes::clone, sandboxes::move_to, sandboxes::logs, sandboxes::transit, serve::http,
        tenants::create, tenants::list, tenants::remove,
        keys::create, keys::list, keys::revoke,
        cluster::status, tokens::create, tokens::list, tokens::revoke,
        nodes::list, nodes::remove, drain::drain, drain::undrain, net::status,
        fabric::submit, fabric::submit_for_sandbox, fabric::list, fabric::status, fabric::results, fabric::cancel, files::read,
    ),
    components(schemas(ErrorBody, files::VolumeName, crate::fabric::ResultOrder)),
    modifiers(&BearerKey),
    security(("api_key" = [])),
)]
pub struct ApiDoc;

/// Declares the bearer API key every `/v1` operation needs.
struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("nxk_…")
                    .build(),
            ),
        );
    }
}

/// Every error status of the catalog, for an operation's `responses`.
pub struct ApiErrors;

impl utoipa::IntoResponses for ApiErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut by_status: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
        for code in ErrorCode::ALL {
            by_status
                .entry(code.status())
                .or_default()
                .push(code.as_str());
        }
        by_status
            .into_iter()
            .map(|(status, codes)| {
                let body = ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build();
                let response = ResponseBuilder::new()
                    .description(format!("An error: {}", codes.join(", ")))
                    .content("application/json", body)
                    .build();
                (status.to_string(), RefOr::T(response))
            })
            .collect()
    }
}

impl utoipa::PartialSchema for ErrorBody {
    fn schema() -> RefOr<Schema> {
        let text = || ObjectBuilder::new().schema_type(Type::String);
        let error = ObjectBuilder::new()
            .property(
                "code",
                text().enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str()))),
            )
            .property(
                "message",
                text().description(Some("What failed, naming the thing")),
            )
            .property("hint", text().description(Some("What to do about it")))
            .required("code")
            .required("message")
            .required("hint");
        ObjectBuilder::new()
            .property("error", error)
            .required("error")
            .into()
    }
}

impl utoipa::ToSchema for ErrorBody {}

/// `GET /v1/openapi.json`.
#[utoipa::path(get, path = "/v1/openapi.json", security(()),
    responses((status = 200, description = "This document", body = Object)))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
