//! The credentials a route accepts (`auth = [...]`): a credential the route does not name is
//! refused with a 401 that challenges in the schemes it does (and the service does), audited;
//! the document lists exactly those schemes as the operation's alternatives.

use axum::http::StatusCode;
use rampart::auth::dpop::thumbprint;
use rampart_tests::*;
use serde_json::json;

use super::dpop::{key_of, proof_for};

const API_KEY: &str = "a-reporting-key-0123456789abcdef";

/// Reports: API keys only (machines).
#[rampart::secure(get, path = "/reports", scope = "notes:read", auth = ["api_key"], rate = "100/min")]
async fn reports(caller: rampart::auth::Principal) -> String {
    caller.subject().to_owned()
}

/// The profile: user tokens, bearer or DPoP-bound; no API keys.
#[rampart::secure(get, path = "/profile", scope = "notes:read", auth = ["bearer", "dpop"], rate = "100/min")]
async fn profile(caller: rampart::auth::Principal) -> String {
    caller.subject().to_owned()
}

/// Exports: plain bearer tokens or API keys; not DPoP.
#[rampart::secure(get, path = "/exports", scope = "notes:read", auth = ["bearer", "api_key"], rate = "100/min")]
async fn exports(caller: rampart::auth::Principal) -> String {
    caller.subject().to_owned()
}

fn authenticator(api_keys: bool) -> rampart::auth::Authenticator {
    let issuer =
        rampart::auth::Issuer::builder(ISSUER, [AUDIENCE]).key(Scheme::Hs256.verification_key()).build().unwrap();
    let mut builder = rampart::auth::Authenticator::builder()
        .jwt(rampart::auth::JwtVerifier::new(vec![issuer]))
        .dpop(rampart::auth::DpopMode::Allowed, "https://api.example");
    if api_keys {
        let key = rampart::auth::ApiKey::from_plaintext("reporting", API_KEY, ["notes:read"]);
        builder = builder.api_keys(rampart::auth::ApiKeys::default().with(key));
    }
    builder.build().unwrap()
}

fn get(path: &str, headers: &[(&str, String)]) -> axum::http::Request<axum::body::Body> {
    let mut request = axum::http::Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.body(axum::body::Body::empty()).unwrap()
}

fn assert_not_accepted(reply: &Reply, challenge: &str, detail: &str) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:?}", reply.body);
    assert_eq!(reply.header("www-authenticate"), challenge);
    assert_eq!(reply.header("content-type"), "application/problem+json");
    assert_eq!(reply.json(), json!({"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": detail}));
    assert_security_headers(reply);
}

#[tokio::test]
async fn a_route_refuses_the_credentials_it_does_not_name_and_challenges_in_those_it_does() {
    // Audit lines of this test's thread (the test runtime is current-thread).
    let log = CapturedLog::default();
    let _audit = tracing::subscriber::set_default(rampart::audit::json_subscriber_with_writer(log.clone()));
    let router = rampart::Router::new().mount(reports).mount(profile).mount(exports);
    let app = router.secured(&rampart::Security::new(authenticator(true)));
    let bearer = ("authorization", format!("Bearer {}", Scheme::Hs256.token(&claims("bob", "notes:read"))));
    let key = ("x-api-key", API_KEY.to_owned());
    let ec = key_of("ec.key.pem");
    let mut bound = claims("alice", "notes:read");
    bound["cnf"] = json!({"jkt": thumbprint(&ec.jwk).unwrap()});
    let bound = Scheme::Hs256.token(&bound);
    let dpop = |path: &str| {
        [
            ("authorization", format!("DPoP {bound}")),
            ("dpop", proof_for(&ec, &format!("https://api.example{path}"), &bound)),
        ]
    };

    // Each route serves what it names.
    assert_eq!(send(&app, get("/reports", std::slice::from_ref(&key))).await.body, "reporting");
    assert_eq!(send(&app, get("/profile", std::slice::from_ref(&bearer))).await.body, "bob");
    assert_eq!(send(&app, get("/profile", &dpop("/profile"))).await.body, "alice");
    assert_eq!(send(&app, get("/exports", std::slice::from_ref(&bearer))).await.body, "bob");
    assert_eq!(send(&app, get("/exports", std::slice::from_ref(&key))).await.body, "reporting");

    // And refuses the rest, saying what it takes. The bearer token is cached by now: the fast
    // path refuses it as well.
    let keys_only = r#"ApiKey realm="api", header="X-API-Key""#;
    assert_not_accepted(
        &send(&app, get("/reports", std::slice::from_ref(&bearer))).await,
        keys_only,
        "this route accepts API keys only",
    );
    assert_not_accepted(
        &send(&app, get("/reports", &dpop("/reports"))).await,
        keys_only,
        "this route accepts API keys only",
    );
    assert_not_accepted(
        &send(&app, get("/profile", std::slice::from_ref(&key))).await,
        r#"Bearer realm="api", DPoP realm="api", algs="ES256 ES384 EdDSA RS256 PS256""#,
        "this route accepts access tokens, not API keys",
    );
    assert_not_accepted(
        &send(&app, get("/exports", &dpop("/exports"))).await,
        r#"Bearer realm="api", ApiKey realm="api", header="X-API-Key""#,
        "this route accepts bearer tokens and API keys, not DPoP",
    );
    let events: Vec<serde_json::Value> =
        log.text().lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
    let refusals: Vec<_> = events
        .iter()
        .filter(|event| event["reason"] == "credential_not_accepted")
        .map(|event| (event["route"].as_str().unwrap().to_owned(), event["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        refusals,
        [("/reports", 401), ("/reports", 401), ("/profile", 401), ("/exports", 401)]
            .map(|(route, status)| (route.to_owned(), status))
    );
}

#[test]
fn the_document_lists_only_the_schemes_a_route_accepts() {
    let router: rampart::Router = rampart::Router::new().mount(reports).mount(profile).mount(exports);
    let docs = rampart::openapi::ApiDocs::new("t", "1").dpop(rampart::auth::DpopMode::Allowed).api_keys(true);
    let document = serde_json::to_value(rampart::openapi::document(router.inventory(), &docs)).unwrap();
    let operation = |path: &str| document["paths"][path]["get"].clone();
    assert_eq!(operation("/reports")["security"], json!([{"apiKey": ["notes:read"]}]));
    assert_eq!(operation("/reports")["x-rampart-auth"], json!(["api_key"]));
    assert_eq!(operation("/profile")["security"], json!([{"bearer": ["notes:read"]}, {"dpop": ["notes:read"]}]));
    assert_eq!(operation("/exports")["security"], json!([{"bearer": ["notes:read"]}, {"apiKey": ["notes:read"]}]));
    assert_eq!(operation("/exports")["x-rampart-auth"], json!(["bearer", "api_key"]));
    rampart::openapi::check(router.inventory(), &document).unwrap();
}

#[test]
fn a_route_whose_credentials_the_service_does_not_accept_refuses_to_start() {
    let security = rampart::Security::new(authenticator(false));
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rampart::Router::new().mount(profile).mount(reports).secured(&security)
    }));
    let message = *refused.unwrap_err().downcast::<String>().unwrap();
    assert_eq!(
        message,
        "`GET /reports` accepts only [\"api_key\"] (`auth = [...]`) but this service accepts [\"bearer\", \"dpop\"]: \
         configure one of the route's (API keys: RAMPART_API_KEYS; DPoP: RAMPART_DPOP=allowed; tokens: a JWT key or \
         RAMPART_INTROSPECTION_URL), or widen the route's `auth`"
    );
}
