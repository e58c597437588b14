//! A route added to the router `secured()` returned would answer without the security stack:
//! a compile error that says where such routes go.
use rampart::{Router, Security, public};

#[public(get, path = "/health", reason = "probes")]
async fn health() -> &'static str {
    "ok"
}

fn main() {
    let config = rampart::config::Config::from_lookup(|_| None).unwrap();
    let security = Security::from_config(&config).unwrap();
    let _app = Router::new()
        .mount(health)
        .secured(&security)
        .route("/robots.txt", axum::routing::get(|| async { "User-agent: *" }));
}
