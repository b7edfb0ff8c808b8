//! `GET /v1/openapi.json`: an OpenAPI 3.1 document of every route, served
//! without a key, with the error body's every code. (scripts/api-fuzz.sh
//! fuzzes a live node against it with schemathesis.)

use crate::common::TestNode;

#[tokio::test]
async fn the_document_lists_every_route_and_every_error_code() {
    let node = TestNode::start().await;
    let doc: serde_json::Value = reqwest::get(format!("{}/v1/openapi.json", node.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let routes = [
        "/",
        "/dashboard.js",
        "/dashboard.css",
        "/favicon.svg",
        "/health",
        "/ready",
        "/metrics",
        "/v1/openapi.json",
        "/v1/sandboxes",
        "/v1/sandboxes/{id}",
        "/v1/sandboxes/{id}/call",
        "/v1/sandboxes/{id}/clone",
        "/v1/sandboxes/{id}/move",
        "/v1/sandboxes/{id}/logs",
        "/v1/sandboxes/{id}/{verb}",
        "/v1/sandboxes/{id}/http/{path}",
        "/v1/sandboxes/{id}/fabric",
        "/v1/sandboxes/{id}/files/{volume}/{path}",
        "/v1/fabric/jobs",
        "/v1/fabric/jobs/{id}",
        "/v1/fabric/jobs/{id}/results",
        "/v1/fabric/jobs/{id}/cancel",
        "/v1/tenants",
        "/v1/tenants/{id}",
        "/v1/keys",
        "/v1/keys/{id}",
        "/v1/cluster/status",
        "/v1/cluster/tokens",
        "/v1/cluster/tokens/{id}",
        "/v1/cluster/nodes",
        "/v1/cluster/nodes/{id}",
        "/v1/cluster/nodes/{id}/drain",
        "/v1/cluster/nodes/{id}/undrain",
        "/v1/net/status",
    ];
    let mut expected = routes.to_vec();
    expected.sort_unstable();
    let mut listed = paths.clone();
    listed.sort_unstable();
    assert_eq!(listed, expected);

    let codes = &doc["components"]["schemas"]["ErrorBody"]["properties"]["error"]["properties"]
        ["code"]["enum"];
    let codes: Vec<&str> = codes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let catalog: Vec<&str> = nexus_errors::ErrorCode::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(codes, catalog);
    // An operation lists the error statuses with the error body.
    let call = &doc["paths"]["/v1/sandboxes/{id}/call"]["post"]["responses"];
    for status in ["200", "400", "401", "404", "413", "422", "503", "504"] {
        assert!(call.get(status).is_some(), "call lacks {status}");
    }
    assert_eq!(
        call["404"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    node.stop().await;
}
