//! The OpenAPI document: generated from the same declarations the router enforces, committed as a
//! snapshot, valid OpenAPI 3.1, served with the docs page under its own CSP, and checked against
//! the inventory by `rampart::openapi::check` (which catches every kind of drift tried here).

use std::path::PathBuf;
use std::process::Command;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rampart::openapi::{ApiDocs, Mismatch, check, document};
use rampart::prelude::*;
use rampart_tests::*;
use serde_json::{Value, json};

fn snapshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/notes/openapi.json")
}

fn generated() -> String {
    rampart::openapi::to_json(&notes::openapi())
}

fn committed() -> Value {
    serde_json::from_slice(&std::fs::read(snapshot_path()).unwrap()).unwrap()
}

#[test]
fn the_committed_snapshot_is_the_generated_document() {
    let path = snapshot_path();
    if std::env::var_os("RAMPART_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, generated()).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated(),
        "{} is out of date: review the security changes, then run \
         `RAMPART_UPDATE_SNAPSHOTS=1 cargo test -p rampart-tests --test http openapi` and commit it",
        path.display()
    );
}

#[test]
fn the_snapshot_describes_exactly_what_the_notes_router_enforces() {
    let result = check(&notes::inventory(), &committed());
    assert_eq!(result, Ok(()));
}

#[test]
fn the_snapshot_is_valid_openapi_3_1() {
    let snapshot = committed();
    assert_eq!(snapshot["openapi"], "3.1.0");
    let output = Command::new("python3")
        .args(["-m", "openapi_spec_validator", "--schema", "3.1.0"])
        .arg(snapshot_path())
        .output()
        .expect("python3 runs (.ci/run installs openapi-spec-validator with pip)");
    assert!(
        output.status.success(),
        "openapi-spec-validator rejected the document (pip install openapi-spec-validator if it is missing):\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn every_operation_documents_its_security_responses() {
    let doc = committed();
    let post = &doc["paths"]["/notes"]["post"];
    // DPoP-bound tokens are an alternative (RAMPART_DPOP=allowed, the default): an `http` scheme
    // named DPoP.
    assert_eq!(
        post["security"],
        json!([{"bearer": ["notes:write"]}, {"dpop": ["notes:write"]}, {"oauth2": ["notes:write"]}])
    );
    assert_eq!(doc["components"]["securitySchemes"]["dpop"]["type"], "http");
    assert_eq!(doc["components"]["securitySchemes"]["dpop"]["scheme"], "DPoP");
    assert!(doc["components"]["securitySchemes"]["dpop"].get("x-rampart-http-scheme").is_none());
    let statuses: Vec<&str> = post["responses"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(statuses, ["201", "400", "401", "403", "408", "413", "415", "422", "429", "503"]);
    assert_eq!(post["x-rate-limit"], json!({"limit": 10, "period_seconds": 60, "burst": 10, "per": "sub"}));
    assert_eq!(post["requestBody"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/CreateNote");
    assert_eq!(post["responses"]["201"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Note");
    assert!(post["responses"]["201"]["headers"]["RateLimit"].is_object());

    // Roles cannot come from the client-credentials flow: the admin alternative is bearer-only,
    // and a role is named as a role, never as a scope.
    let delete = &doc["paths"]["/notes/{id}"]["delete"];
    assert_eq!(
        delete["security"],
        json!([{"bearer": []}, {"dpop": []}, {"bearer": ["notes:write"]}, {"dpop": ["notes:write"]}, {"oauth2": ["notes:write"]}])
    );
    assert_eq!(delete["x-rampart-roles"], json!(["admin"]));
    assert_eq!(delete["x-rampart-policy"], "any(role = \"admin\", scope = \"notes:write\")");
    assert!(post.get("x-rampart-roles").is_none());
    // Scope descriptions come from rampart.toml (the service's ApiDocs names none).
    let bearer = doc["components"]["securitySchemes"]["bearer"]["description"].as_str().unwrap();
    assert!(bearer.ends_with("\n\nScopes:\n- `notes:read`: Read your notes and the notes shared with you\n- `notes:write`: Create, change, share and delete notes"), "{bearer}");
    let flow = &doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["scopes"];
    assert_eq!(flow["notes:write"], "Create, change, share and delete notes");
    assert_eq!(delete["parameters"][0]["schema"], json!({"type": "integer", "format": "int64"}));
    assert!(delete["responses"]["204"].is_object() && delete["responses"]["404"].is_object());
    // A path segment of the wrong shape (`/notes/abc`) is a 400 before validation.
    assert_eq!(delete["responses"]["400"]["$ref"], "#/components/responses/BadRequest");
    assert_eq!(doc["paths"]["/notes"]["get"]["responses"]["400"]["$ref"], "#/components/responses/BadRequest");

    // The token endpoint documents itself (`TokenResponse: DescribeResponse`): its form, its
    // token, and RFC 6749 errors that are plain JSON, not problem+json.
    let token = &doc["paths"]["/oauth/token"]["post"];
    let form = &token["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["$ref"];
    assert_eq!(*form, "#/components/schemas/TokenRequestForm");
    assert_eq!(
        token["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/AccessToken"
    );
    for status in ["400", "401"] {
        let error = &token["responses"][status]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(*error, "#/components/schemas/OAuthError", "{status}");
    }
    assert_eq!(doc["paths"]["/docs/{file}"]["get"]["responses"]["404"]["$ref"], "#/components/responses/NotFound");

    let health = &doc["paths"]["/health"]["get"];
    assert_eq!(health["security"], json!([]));
    assert!(health["responses"].get("401").is_none());

    let responses = &doc["components"]["responses"];
    assert!(responses["Unauthorized"]["headers"]["WWW-Authenticate"].is_object());
    assert!(responses["Forbidden"]["headers"]["WWW-Authenticate"].is_object());
    for header in ["Retry-After", "RateLimit", "RateLimit-Policy"] {
        assert!(responses["TooManyRequests"]["headers"][header].is_object(), "{header}");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    let flow = &schemes["oauth2"]["flows"]["clientCredentials"];
    assert_eq!(flow["tokenUrl"], "/oauth/token");
    assert_eq!(
        flow["scopes"],
        json!({
            "notes:read": "Read your notes and the notes shared with you",
            "notes:write": "Create, change, share and delete notes"
        })
    );
    assert_eq!(doc.get("security"), None, "no root security for public operations to inherit");
}

fn mismatches(doc: &Value) -> Vec<String> {
    check(&notes::inventory(), doc).err().unwrap_or_default().iter().map(Mismatch::to_string).collect()
}

#[test]
fn check_catches_a_weakened_requirement() {
    let mut doc = committed();
    doc["paths"]["/notes"]["post"]["security"] = json!([{"bearer": []}]);
    assert_eq!(
        mismatches(&doc),
        [
            "POST /notes: documented security bearer[] but enforced bearer[notes:write] | dpop[notes:write] | oauth2[notes:write]"
        ]
    );
}

#[test]
fn check_catches_optional_authentication() {
    let mut doc = committed();
    doc["paths"]["/notes"]["get"]["security"] = json!([{}, {"bearer": ["notes:read"]}, {"oauth2": ["notes:read"]}]);
    assert_eq!(mismatches(&doc), ["GET /notes: a `{}` security requirement makes authentication optional"]);
}

#[test]
fn check_catches_a_public_operation_inheriting_root_security() {
    // utoipa's pitfall: a root `security` applies to every operation that does not override it.
    let mut doc = committed();
    doc["security"] = json!([{"bearer": []}]);
    doc["paths"]["/health"]["get"].as_object_mut().unwrap().remove("security");
    assert_eq!(mismatches(&doc), ["GET /health: documented security bearer[] but enforced [] (public)"]);
}

#[test]
fn check_catches_operations_that_are_documented_but_not_mounted_and_the_reverse() {
    let mut doc = committed();
    doc["paths"]["/admin/export"] = json!({"get": {"responses": {"200": {"description": "OK"}}}});
    doc["paths"]["/notes/{id}"].as_object_mut().unwrap().remove("get");
    assert_eq!(
        mismatches(&doc),
        [
            "GET /notes/{id}: mounted but not documented",
            "GET /admin/export: documented but not mounted through the secure router"
        ]
    );
}

#[test]
fn check_catches_missing_rate_limits_problem_responses_and_scopes() {
    let mut doc = committed();
    doc["paths"]["/notes"]["get"].as_object_mut().unwrap().remove("x-rate-limit");
    doc["paths"]["/notes"]["post"]["responses"].as_object_mut().unwrap().remove("403");
    doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["scopes"]
        .as_object_mut()
        .unwrap()
        .remove("notes:write");
    assert_eq!(
        mismatches(&doc),
        [
            "GET /notes: x-rate-limit does not say 100/60s per sub",
            "POST /notes: needs scopes or roles but 403 is not documented",
            "document: the OAuth2 flow does not list the scopes notes:write",
        ]
    );
}

#[test]
fn check_catches_a_role_the_document_does_not_name_and_oauth_alternatives_without_a_token_endpoint() {
    let mut doc = committed();
    doc["paths"]["/notes/{id}"]["delete"].as_object_mut().unwrap().remove("x-rampart-roles");
    assert_eq!(
        mismatches(&doc),
        ["DELETE /notes/{id}: x-rampart-roles says [] but the policy names the roles [admin]"]
    );

    // Without the token endpoint's scheme, an `oauth2` alternative promises a flow that is not there.
    let mut doc = committed();
    doc["components"]["securitySchemes"].as_object_mut().unwrap().remove("oauth2");
    let found = mismatches(&doc);
    assert!(
        found.contains(
            &"POST /notes: documented security bearer[notes:write] | dpop[notes:write] | oauth2[notes:write] but enforced bearer[notes:write] | dpop[notes:write]"
                .to_owned()
        ),
        "{found:?}"
    );
}

#[tokio::test]
async fn the_served_document_follows_the_configured_schemes() {
    // API keys configured and DPoP required: `apiKey` alternatives, `dpop` instead of `bearer`.
    let key = format!("ops:{}:notes:read notes:write", "ab".repeat(32));
    let app = notes_app(&[("RAMPART_API_KEYS", &key), ("RAMPART_DPOP", "required")]).await;
    let served = send(&app, Request::get("/openapi.json").body(Body::empty()).unwrap()).await.json();
    let schemes = served["components"]["securitySchemes"].as_object().unwrap();
    assert!(!schemes.contains_key("bearer") && schemes.contains_key("dpop"));
    assert_eq!(
        schemes["apiKey"],
        json!({
            "type": "apiKey", "in": "header", "name": "X-API-Key",
            "description": "An API key in `X-API-Key`, from `rampart keygen api-key`; a requirement lists the scopes the key must carry (`RAMPART_API_KEYS`)"
        })
    );
    assert_eq!(
        served["paths"]["/notes"]["post"]["security"],
        json!([{"dpop": ["notes:write"]}, {"oauth2": ["notes:write"]}, {"apiKey": ["notes:write"]}])
    );
    // The document's own check agrees with what this configuration enforces.
    assert_eq!(check(&notes::inventory(), &served), Ok(()));
    // DPoP off: neither the scheme nor its alternatives.
    let off = notes_app(&[("RAMPART_DPOP", "off")]).await;
    let served = send(&off, Request::get("/openapi.json").body(Body::empty()).unwrap()).await.json();
    assert!(served["components"]["securitySchemes"].get("dpop").is_none());
    assert_eq!(
        served["paths"]["/notes"]["post"]["security"],
        json!([{"bearer": ["notes:write"]}, {"oauth2": ["notes:write"]}])
    );
}

#[tokio::test]
async fn the_service_serves_the_document_it_enforces() {
    let app = notes_app(&[]).await;
    let reply = send(&app, Request::get("/openapi.json").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/json");
    assert_security_headers(&reply);
    assert_eq!(reply.header("content-security-policy"), rampart::headers::API_CSP);
    assert_eq!(reply.json(), committed());
}

#[tokio::test]
async fn the_docs_page_has_its_own_narrow_csp_and_serves_only_its_files() {
    let app = notes_app(&[]).await;
    let page = send(&app, Request::get("/docs").body(Body::empty()).unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(page.header("content-security-policy"), rampart::docs::DOCS_CSP);
    assert_eq!(page.header("x-frame-options"), "DENY");
    let html = String::from_utf8_lossy(&page.body);
    assert!(!html.contains("http://") && !html.contains("https://"), "the page loads nothing from elsewhere");
    assert!(!html.contains("<script>"), "no inline script");

    let bundle = send(&app, Request::get("/docs/swagger-ui-bundle.js").body(Body::empty()).unwrap()).await;
    assert_eq!(bundle.status, StatusCode::OK);
    assert_eq!(bundle.header("content-type"), "text/javascript; charset=utf-8");
    assert_eq!(bundle.header("content-security-policy"), rampart::docs::DOCS_CSP);
    assert!(bundle.body.len() > 100_000, "the vendored bundle is served whole");

    for path in
        ["/docs/swagger-initializer.js", "/docs/index.html", "/docs/..%2F..%2FCargo.toml", "/docs/oauth2-redirect.html"]
    {
        let reply = send(&app, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.header("content-type"), "application/problem+json", "{path}");
    }
}

// ---- what the expansion documents from the handler's types ----

#[derive(serde::Deserialize, garde::Validate, utoipa::ToSchema)]
struct Documented {
    #[garde(length(min = 1))]
    name: String,
}

#[derive(serde::Deserialize, garde::Validate)]
struct Undocumented {
    #[garde(length(min = 1))]
    name: String,
}

#[derive(serde::Deserialize, garde::Validate, utoipa::IntoParams)]
struct Page {
    /// Page size.
    #[garde(range(max = 100))]
    limit: u32,
}

/// Takes a documented body.
#[secure(post, path = "/a/{id}", scope = "a:write", status = 202)]
async fn typed_body(
    _user: Principal,
    rampart::extract::Path(_id): rampart::extract::Path<u32>,
    rampart::extract::Json(input): rampart::extract::Json<Documented>,
) -> rampart::extract::Json<String> {
    rampart::extract::Json(input.name)
}

/// Takes a body without a schema.
#[secure(put, path = "/b", scope = "b:write")]
async fn untyped_body(_user: Principal, rampart::extract::Json(input): rampart::extract::Json<Undocumented>) -> String {
    input.name
}

/// Takes query parameters.
#[public(get, path = "/c", reason = "test")]
async fn query(
    rampart::extract::Valid(rampart::extract::Query(page)): rampart::extract::Valid<rampart::extract::Query<Page>>,
) -> String {
    page.limit.to_string()
}

#[test]
fn the_expansion_documents_inputs_from_their_types() {
    let router: Router = Router::new().mount(typed_body).mount(untyped_body).mount(query);
    let doc = serde_json::to_value(document(router.inventory(), &ApiDocs::new("t", "1"))).unwrap();

    let a = &doc["paths"]["/a/{id}"]["post"];
    assert_eq!(a["parameters"][0]["name"], "id");
    assert_eq!(a["parameters"][0]["in"], "path");
    assert_eq!(a["parameters"][0]["schema"]["type"], "integer");
    assert_eq!(a["requestBody"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Documented");
    assert_eq!(doc["components"]["schemas"]["Documented"]["required"], json!(["name"]));
    assert_eq!(a["responses"]["202"]["content"]["application/json"]["schema"]["type"], "string");

    // No schema to show, but the body is still documented (and validated).
    let b = &doc["paths"]["/b"]["put"];
    assert_eq!(b["requestBody"]["content"]["application/json"]["schema"], json!({}));
    assert!(b["responses"]["422"].is_object());

    let c = &doc["paths"]["/c"]["get"];
    assert_eq!(c["parameters"][0]["name"], "limit");
    assert_eq!(c["parameters"][0]["in"], "query");
    assert_eq!(c["security"], json!([]));
    assert_eq!(check(router.inventory(), &doc), Ok(()));
}

#[test]
fn resource_routes_document_their_rule_and_their_404_and_403() {
    let doc = committed();
    let get = &doc["paths"]["/notes/{id}"]["get"];
    assert_eq!(get["x-rampart-authorization"], json!({"load": "load_note", "relation": "note#viewer"}));
    assert_eq!(get["responses"]["404"]["$ref"], "#/components/responses/NotFound");
    let patch = &doc["paths"]["/notes/{id}"]["patch"];
    assert_eq!(patch["x-rampart-authorization"], json!({"load": "load_note", "relation": "note#editor"}));
    assert_eq!(patch["responses"]["403"]["$ref"], "#/components/responses/Forbidden");
    assert_eq!(patch["responses"]["404"]["$ref"], "#/components/responses/NotFound");
    let share = &doc["paths"]["/notes/{id}/shares"]["post"];
    assert_eq!(share["x-rampart-authorization"]["relation"], "note#owner");
    // A list names the relation it filters by, and has no 404 of its own.
    let list = &doc["paths"]["/notes"]["get"];
    assert_eq!(list["x-rampart-authorization"], json!({"list": "note#viewer"}));
    assert!(list["responses"].get("404").is_none());
    // A route without a resource check says nothing of one.
    assert!(doc["paths"]["/notes"]["post"].get("x-rampart-authorization").is_none());
}

/// A filter that derives `ToSchema` but not `IntoParams`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[allow(dead_code, reason = "read by the document only")]
struct Filter {
    /// Only notes with this tag.
    tag: Option<String>,
    /// How many, 1 to 50.
    #[schema(minimum = 1, maximum = 50)]
    limit: u32,
}

/// Search notes.
#[secure(get, path = "/search", scope = "notes:read", rate = "10/min")]
async fn search(axum::extract::Query(filter): axum::extract::Query<Filter>) -> String {
    format!("{:?} {}", filter.tag, filter.limit)
}

#[test]
fn query_parameters_are_documented_from_a_schema_without_into_params() {
    let inventory = Router::<()>::new().mount(search).inventory().to_vec();
    let doc = serde_json::to_value(document(&inventory, &ApiDocs::new("t", "1"))).unwrap();
    let parameters = &doc["paths"]["/search"]["get"]["parameters"];
    let by_name = |name: &str| parameters.as_array().unwrap().iter().find(|p| p["name"] == name).cloned().unwrap();
    let tag = by_name("tag");
    assert_eq!(
        (&tag["in"], &tag["required"], &tag["description"]),
        (&json!("query"), &json!(false), &json!("Only notes with this tag."))
    );
    let limit = by_name("limit");
    assert_eq!((&limit["in"], &limit["required"]), (&json!("query"), &json!(true)));
    assert_eq!((&limit["schema"]["minimum"], &limit["schema"]["maximum"]), (&json!(1), &json!(50)));
}

#[test]
fn the_notes_document_carries_the_validation_rules_the_server_enforces() {
    let doc = committed();
    let create = &doc["components"]["schemas"]["CreateNote"]["properties"];
    assert_eq!((&create["title"]["minLength"], &create["title"]["maxLength"]), (&json!(1), &json!(120)));
    assert!(create["title"]["pattern"].is_string(), "control characters are refused: said as a pattern");
    assert_eq!(create["body"]["maxLength"], 10_000);
    assert_eq!(create["tags"]["maxItems"], 10);
    assert_eq!(
        create["tags"]["items"],
        json!({"type": "string", "minLength": 1, "maxLength": 32, "pattern": "^[a-z0-9-]+$"})
    );
    let update = &doc["components"]["schemas"]["UpdateNote"]["properties"];
    assert_eq!((&update["title"]["minLength"], &update["title"]["maxLength"]), (&json!(1), &json!(120)));
    assert_eq!(update["body"]["maxLength"], 10_000);
    // `inner(...)` rules of a list of strings are on its items, written from the garde rules by
    // `#[rampart::schema_rules]` (the model has no hand-written schema), for `Vec` and `Option<Vec>`.
    for tags in [&create["tags"], &update["tags"]] {
        assert_eq!(tags["maxItems"], 10);
        assert_eq!(
            tags["items"],
            json!({"type": "string", "minLength": 1, "maxLength": 32, "pattern": "^[a-z0-9-]+$"})
        );
    }
    let share = &doc["components"]["schemas"]["Share"]["properties"];
    assert_eq!((&share["subject"]["minLength"], &share["subject"]["maxLength"]), (&json!(1), &json!(255)));
    assert_eq!(share["relation"]["$ref"], "#/components/schemas/ShareRelation");
    // A rule without a JSON Schema equivalent is said in the description.
    assert!(
        create["title"]["description"].as_str().unwrap().contains("Checked by `rampart::validate::no_control_chars`")
    );
    let list = doc["paths"]["/notes"]["get"]["parameters"].as_array().unwrap().clone();
    let parameter = |name: &str| list.iter().find(|p| p["name"] == name).cloned().unwrap();
    assert_eq!(
        (&parameter("limit")["schema"]["minimum"], &parameter("limit")["schema"]["maximum"]),
        (&json!(1), &json!(100))
    );
    assert_eq!(parameter("cursor")["schema"]["pattern"], "^[0-9]{1,20}$");
}
