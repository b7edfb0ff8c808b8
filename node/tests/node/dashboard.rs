//! The dashboard's assets: served without a key, from the binary, under a
//! content security policy that allows only the node's own resources. (The
//! page itself is driven in Chromium by scripts/browser-test.sh.)

use crate::common::TestNode;

#[tokio::test]
async fn the_page_its_script_style_and_icon_are_served_with_a_strict_policy() {
    let node = TestNode::start().await;
    let http = reqwest::Client::new();
    for (path, kind, needle) in [
        (
            "/",
            "text/html; charset=utf-8",
            "<script src=\"/dashboard.js\" defer></script>",
        ),
        (
            "/dashboard.js",
            "text/javascript; charset=utf-8",
            "sessionStorage",
        ),
        ("/dashboard.css", "text/css; charset=utf-8", "table"),
        ("/favicon.svg", "image/svg+xml", "<svg"),
    ] {
        let res = http
            .get(format!("{}{path}", node.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let header = |name: &str| {
            res.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert_eq!(header("content-type"), kind, "{path}");
        assert_eq!(
            header("content-security-policy"),
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            "{path}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert!(res.text().await.unwrap().contains(needle), "{path}");
    }
    // The page never stores the key in a cookie, and writes API text as text.
    let script = http
        .get(format!("{}/dashboard.js", node.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!script.contains("document.cookie"));
    assert!(!script.contains("innerHTML"));
    node.stop().await;
}
