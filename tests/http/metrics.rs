//! `/metrics` on the main address is a secured endpoint: the exposition only for `metrics:read`.

use axum::http::StatusCode;
use rampart::{Router, Security};
use rampart_tests::*;

#[tokio::test]
async fn the_scrape_endpoint_on_the_main_router_requires_the_metrics_scope() {
    rampart::metrics::install().unwrap();
    let app = Router::new().mount(rampart::metrics::scrape).secured(&Security::new(authenticator(&[Scheme::Hs256])));

    let anonymous = send(&app, axum::http::Request::get("/metrics").body(axum::body::Body::empty()).unwrap()).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.header("www-authenticate"), "Bearer realm=\"test\"");
    assert!(!String::from_utf8_lossy(&anonymous.body).contains("rampart_"), "no metric leaks to a 401");

    let reader = Scheme::Hs256.token(&claims("alice", "notes:read"));
    let wrong_scope = send(&app, get_with_token("/metrics", &reader)).await;
    assert_eq!(wrong_scope.status, StatusCode::FORBIDDEN);
    assert_eq!(wrong_scope.header("www-authenticate"), "Bearer error=\"insufficient_scope\", scope=\"metrics:read\"");

    let operator = Scheme::Hs256.token(&claims("prometheus", "metrics:read"));
    let scraped = send(&app, get_with_token("/metrics", &operator)).await;
    assert_eq!(scraped.status, StatusCode::OK);
    let text = String::from_utf8_lossy(&scraped.body);
    assert!(
        text.contains(
            "rampart_security_decisions_total{route=\"/metrics\",decision=\"deny\",reason=\"missing_token\"}"
        )
    );
    assert!(text.contains("reason=\"insufficient_scope\""), "{text}");
}
