//! OpenAPI 3.1 documents assembled from a router's inventory.
//!
//! Each `#[secure]`/`#[public]` endpoint carries, next to its contract, a function that describes
//! its parameters, request body and success response from the handler's types ([`OperationDoc`]).
//! [`document`] walks the inventory and adds what the contract enforces: the security requirement
//! with the exact scopes (an HTTP `bearer` scheme and an OAuth2 client-credentials flow listing
//! every scope the endpoints name), `security: []` on public operations, the 401/403/404/422/429
//! problem responses with their `WWW-Authenticate`, `Retry-After` and RateLimit headers, the rate
//! limit as `x-rate-limit`, the policy as `x-rampart-policy`, and a resource check as
//! `x-rampart-authorization` (`{"load", "owner"}`, `{"load", "relation"}` or `{"list"}`). Nothing
//! is listed by hand, so the document cannot drift from what is enforced; [`check`] proves it for any document, a committed
//! snapshot included.
//!
//! # Examples
//!
//! ```
//! use rampart::openapi::{ApiDocs, document};
//! use rampart::prelude::*;
//!
//! /// Who am I?
//! #[secure(get, path = "/me", scope = "profile:read", rate = "100/min")]
//! async fn me(user: Principal) -> String {
//!     user.subject().to_owned()
//! }
//!
//! let router: Router = Router::new().mount(me);
//! let doc = document(router.inventory(), &ApiDocs::new("profiles", "1.0.0"));
//! let json = serde_json::to_value(&doc).unwrap();
//! assert_eq!(json["openapi"], "3.1.0");
//! assert_eq!(json["paths"]["/me"]["get"]["security"][0]["bearer"][0], "profile:read");
//! assert_eq!(json["paths"]["/me"]["get"]["x-rate-limit"]["limit"], 100);
//! assert!(rampart::openapi::check(router.inventory(), &json).is_ok());
//! ```

mod check;
pub(crate) mod describe;
mod requirements;

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::{HttpMethod, Operation, Parameter, ParameterIn};
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{Components, Schema};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, ClientCredentials, Flow, Http, HttpAuthScheme, OAuth2, Scopes, SecurityScheme,
};
use utoipa::openapi::tag::Tag;
use utoipa::openapi::{Content, Deprecated, Info, OpenApi, Paths, Ref, RefOr, Required, SecurityRequirement};
use utoipa::{PartialSchema, ToSchema};

use crate::contract::{EndpointInfo, Method};

pub use check::{Mismatch, check};
pub use describe::{DescribeResponse, OperationDoc};
pub use requirements::{
    API_KEY_SCHEME, BEARER_SCHEME, DPOP_SCHEME, OAUTH2_SCHEME, ROLES_EXTENSION, Requirement, Schemes, requirements,
    scopes,
};

#[doc(hidden)]
pub mod __private {
    pub use super::describe::{
        DescribeNothing, DescribeTyped, DescribeUntyped, OperationDoc, Probe, Response, Returns,
    };
}

/// What a document says about the service itself.
#[derive(Debug, Clone)]
pub struct ApiDocs {
    title: String,
    version: String,
    description: Option<String>,
    token_url: Option<String>,
    scope_descriptions: BTreeMap<String, String>,
    swagger_ui: bool,
    dpop: crate::auth::DpopMode,
    api_keys: bool,
}

impl ApiDocs {
    /// A document titled `title` at `version`; the token URL defaults to `/oauth/token`.
    pub fn new(title: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            version: version.into(),
            description: None,
            token_url: None,
            scope_descriptions: BTreeMap::new(),
            swagger_ui: true,
            dpop: crate::auth::DpopMode::Off,
            api_keys: false,
        }
    }

    /// Documents DPoP-bound tokens (RFC 9449) as `mode` says: a `dpop` scheme offered beside
    /// `bearer`, or instead of it when required. [`crate::Router::secured`] sets it from the
    /// service's [`crate::auth::Authenticator`], so that the served document says what is enforced.
    pub fn dpop(mut self, mode: crate::auth::DpopMode) -> Self {
        self.dpop = mode;
        self
    }

    /// Documents API keys (`X-API-Key`) as an `apiKey` scheme offered beside the tokens.
    /// [`crate::Router::secured`] sets it from the service's configuration.
    pub fn api_keys(mut self, accepted: bool) -> Self {
        self.api_keys = accepted;
        self
    }

    /// The document's description (Markdown).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Where the OAuth2 client-credentials flow gets its tokens (for example `/oauth/token`, or
    /// an identity provider's URL). Only a document with a token URL has the `oauth2` security
    /// scheme and offers `oauth2` requirements; without one, tokens are described as `bearer` only.
    ///
    /// # Examples
    ///
    /// ```
    /// use rampart::openapi::{ApiDocs, document};
    ///
    /// let without = document(&[], &ApiDocs::new("orders", "1.0"));
    /// assert!(!without.components.unwrap().security_schemes.contains_key("oauth2"));
    /// let with = document(&[], &ApiDocs::new("orders", "1.0").token_url("/oauth/token"));
    /// assert!(with.components.unwrap().security_schemes.contains_key("oauth2"));
    /// ```
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// Describes a scope, over what `rampart.toml` says of it (the attributes read its
    /// `[scopes]` table, so a service with one needs no call). The document lists every scope the
    /// endpoints name with its description, in the `bearer` scheme's description and the OAuth2
    /// flow; undescribed scopes are listed by name.
    pub fn scope(mut self, scope: impl Into<String>, description: impl Into<String>) -> Self {
        self.scope_descriptions.insert(scope.into(), description.into());
        self
    }

    /// Whether `GET /docs` serves Swagger UI (on by default); `/openapi.json` is served either way.
    pub fn swagger_ui(mut self, on: bool) -> Self {
        self.swagger_ui = on;
        self
    }

    pub(crate) fn serves_swagger_ui(&self) -> bool {
        self.swagger_ui
    }
}

/// The OpenAPI 3.1 document of `inventory`.
pub fn document(inventory: &[&'static EndpointInfo], docs: &ApiDocs) -> OpenApi {
    let mut paths = Paths::new();
    let mut schemas: Vec<(String, RefOr<Schema>)> = Vec::new();
    let schemes = Schemes::service(docs.token_url.is_some(), docs.dpop, docs.api_keys);
    let mut declared_scopes = BTreeSet::new();
    let mut described: BTreeMap<&str, &str> = BTreeMap::new();
    let mut tags = BTreeSet::new();
    for info in inventory {
        if let Some(policy) = info.policy() {
            requirements::scopes(policy, &mut declared_scopes);
        }
        described.extend(info.scope_descriptions.iter().copied());
        tags.extend(info.tags.iter().copied());
        let (operation, operation_schemas) = operation(info, &schemes);
        schemas.extend(operation_schemas);
        paths.add_path_operation(crate::contract::openapi_path(info.path), vec![http_method(info.method)], operation);
    }

    let mut components = Components::new();
    components.schemas.extend(schemas);
    components.schemas.insert(ProblemDetails::name().into_owned(), ProblemDetails::schema());
    components.schemas.insert(FieldErrorDetails::name().into_owned(), FieldErrorDetails::schema());
    components.responses.extend(problem_responses().into_iter().map(|(name, r)| (name.to_owned(), RefOr::T(r))));
    let scopes: Vec<(String, String)> = declared_scopes
        .into_iter()
        .map(|scope| {
            let description = docs
                .scope_descriptions
                .get(scope)
                .cloned()
                .or_else(|| described.get(scope).map(|d| (*d).to_owned()))
                .unwrap_or_else(|| scope.to_owned());
            (scope.to_owned(), description)
        })
        .collect();
    // The service's schemes, and any an operation names on its own (see `Schemes::of`).
    let used = inventory.iter().filter(|info| !info.is_public()).map(|info| schemes.of(info)).fold(
        schemes,
        |used, operation| Schemes {
            bearer: used.bearer || operation.bearer,
            dpop: used.dpop || operation.dpop,
            api_key: used.api_key || operation.api_key,
            ..used
        },
    );
    if used.bearer {
        components.security_schemes.insert(BEARER_SCHEME.to_owned(), RefOr::T(bearer_scheme(&scopes)));
    }
    if used.dpop {
        components.security_schemes.insert(DPOP_SCHEME.to_owned(), RefOr::T(dpop_scheme()));
    }
    if used.api_key {
        components.security_schemes.insert(
            API_KEY_SCHEME.to_owned(),
            RefOr::T(SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An API key in `X-API-Key`, from `rampart keygen api-key`; a requirement lists the scopes the \
                 key must carry (`RAMPART_API_KEYS`)",
            )))),
        );
    }
    let scopes: Scopes = scopes.into_iter().collect();
    if let Some(token_url) = &docs.token_url {
        components.security_schemes.insert(
            OAUTH2_SCHEME.to_owned(),
            RefOr::T(SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::ClientCredentials(ClientCredentials::new(token_url.clone(), scopes))],
                "OAuth2 client credentials (RFC 6749 §4.4): the token endpoint grants the requested scopes",
            ))),
        );
    }

    let info =
        Info::builder().title(docs.title.clone()).version(docs.version.clone()).description(docs.description.clone());
    OpenApi::builder()
        .info(info)
        .paths(paths)
        .components(Some(components))
        .tags(Some(tags.into_iter().map(Tag::new)))
        .build()
}

/// The extension that marks, in the document model, the `http` scheme whose name utoipa cannot
/// write (`DPoP`); [`to_json`] writes it.
const HTTP_SCHEME_EXTENSION: &str = "x-rampart-http-scheme";

/// `document` as pretty JSON with every object's keys sorted, so that the same declarations
/// always give the same bytes (a committed snapshot diffs only where the contract changed).
pub fn to_json(document: &OpenApi) -> String {
    let mut value = serde_json::to_value(document).unwrap_or_default();
    // utoipa knows a fixed list of HTTP authentication schemes, without `DPoP` (IANA registered).
    if let Some(schemes) = value.pointer_mut("/components/securitySchemes").and_then(serde_json::Value::as_object_mut) {
        for scheme in schemes.values_mut().filter_map(serde_json::Value::as_object_mut) {
            if let Some(name) = scheme.remove(HTTP_SCHEME_EXTENSION) {
                scheme.insert("scheme".to_owned(), name);
                scheme.remove("bearerFormat");
            }
        }
    }
    let mut json = serde_json::to_string_pretty(&value).unwrap_or_default();
    json.push('\n');
    json
}

fn http_method(method: Method) -> HttpMethod {
    match method {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        Method::HEAD => HttpMethod::Head,
        Method::OPTIONS => HttpMethod::Options,
    }
}

fn operation(info: &EndpointInfo, schemes: &Schemes) -> (Operation, Vec<(String, RefOr<Schema>)>) {
    let mut doc = OperationDoc::new(crate::contract::path_params(info.path));
    (info.openapi)(&mut doc);
    // Every template parameter is documented, as a string when its type did not say otherwise.
    for name in &doc.path_names {
        let documented = doc.parameters.iter().any(|p| p.name == *name && p.parameter_in == ParameterIn::Path);
        if !documented {
            doc.parameters.push(
                Parameter::builder()
                    .name(name.clone())
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(String::schema()))
                    .build(),
            );
        }
    }

    let parameters = std::mem::take(&mut doc.parameters);
    // Any typed input is validated before the handler runs.
    let validated_input = doc.body_media_type.is_some() || !parameters.is_empty();
    let mut operation = Operation::builder()
        .operation_id(Some(info.operation_id))
        .summary(info.summary)
        .description(info.description)
        .tags((!info.tags.is_empty()).then_some(info.tags.iter().copied()))
        .deprecated(info.deprecated.then_some(Deprecated::True))
        .parameters((!parameters.is_empty()).then_some(parameters))
        .request_body(doc.request_body.take());

    let status = StatusCode::from_u16(info.status).unwrap_or(StatusCode::OK);
    let mut success = Response::builder().description(status.canonical_reason().unwrap_or("Success"));
    if let Some(content) = doc.response.take() {
        success = success.content(doc.response_media_type.unwrap_or("application/json"), content);
    }
    if info.rate.is_some() {
        success =
            success.header("RateLimit-Policy", rate_limit_policy_header()).header("RateLimit", rate_limit_header());
    }
    operation = operation.response(info.status.to_string(), success);

    let response_ref = |name: &str| RefOr::Ref(Ref::from_response_name(name));
    if validated_input {
        // A malformed body, path segment or query string is refused before validation.
        operation = operation.response("400", response_ref("BadRequest"));
    }
    if doc.body_media_type.is_some() {
        operation = operation
            .response("408", response_ref("RequestTimeout"))
            .response("413", response_ref("PayloadTooLarge"))
            .response("415", response_ref("UnsupportedMediaType"));
    }
    if validated_input {
        operation = operation.response("422", response_ref("UnprocessableContent"));
    }

    let mut extensions = Extensions::builder();
    match info.policy() {
        Some(policy) => {
            let alternatives = requirements(policy, &schemes.of(info));
            if info.dpop_required() {
                extensions = extensions.add("x-rampart-dpop", "required");
            }
            if info.accepts != crate::contract::Accepts::ANY {
                extensions = extensions.add("x-rampart-auth", info.accepts.names());
            }
            let security = alternatives.iter().map(|(scheme, needs)| SecurityRequirement::new(scheme, needs.clone()));
            // 429 also when the caller is locked out after repeated failures (`rampart::lockout`),
            // whether or not the route has a rate limit of its own.
            operation = operation
                .securities(Some(security))
                .response("401", response_ref("Unauthorized"))
                .response("429", response_ref("TooManyRequests"));
            if *policy != crate::authz::Policy::Authenticated {
                operation = operation.response("403", response_ref("Forbidden"));
            }
            extensions = extensions.add("x-rampart-policy", policy.to_string());
            let roles = policy.roles();
            if !roles.is_empty() {
                extensions = extensions.add(ROLES_EXTENSION, roles);
            }
        }
        None => {
            operation = operation.securities(Some(Vec::<SecurityRequirement>::new()));
            if let crate::Access::Public { reason } = info.access {
                extensions = extensions.add("x-rampart-public", reason);
            }
        }
    }
    if let Some(load) = info.load {
        // A missing resource and one the caller may not see answer the same 404.
        operation = operation.response("404", response_ref("NotFound"));
        if info.relation.is_some() {
            // One the caller may see but not act on (a viewer deleting) is 403.
            operation = operation.response("403", response_ref("Forbidden"));
        }
        let rule = match (info.owner, info.relation) {
            (Some(owner), _) => serde_json::json!({"load": load, "owner": owner}),
            (None, Some(relation)) => serde_json::json!({"load": load, "relation": relation}),
            (None, None) => serde_json::json!({"load": load}),
        };
        extensions = extensions.add("x-rampart-authorization", rule);
    } else if let Some(relation) = info.relation {
        extensions = extensions.add("x-rampart-authorization", serde_json::json!({"list": relation}));
    }
    if let Some(rate) = info.rate {
        operation = operation.response("429", response_ref("TooManyRequests"));
        extensions = extensions.add(
            "x-rate-limit",
            serde_json::json!({
                "limit": rate.count,
                "period_seconds": rate.period_secs,
                "burst": rate.burst,
                "per": rate.key.as_str(),
            }),
        );
    }
    // Every handler runs under a deadline (`rampart::timeout`); a route may set its own.
    operation = operation.response("503", response_ref("ServiceUnavailable"));
    if let Some(timeout) = info.timeout {
        extensions = extensions.add("x-rampart-timeout-ms", u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
    }
    for (status, response) in std::mem::take(&mut doc.extra_responses) {
        operation = operation.response(status, response);
    }
    let operation = operation.extensions(Some(extensions.build())).build();
    (operation, doc.schemas)
}

/// The DPoP scheme: an `http` scheme named `DPoP` (written by [`to_json`]).
fn dpop_scheme() -> SecurityScheme {
    let mut http = Http::new(HttpAuthScheme::Bearer);
    http.description = Some(
        "A DPoP-bound JWT (RFC 9449) in `Authorization: DPoP`, with a `DPoP` proof signed by the key it is bound to \
         (`cnf.jkt`) for this request's method and URL; `/oauth/token` binds the tokens it issues to the key of a \
         proof sent with the request. A requirement lists the scopes the token must carry."
            .to_owned(),
    );
    http.extensions = Some(Extensions::builder().add(HTTP_SCHEME_EXTENSION, "DPoP").build());
    SecurityScheme::Http(http)
}

/// The bearer scheme, its description listing `scopes` (name, description).
fn bearer_scheme(scopes: &[(String, String)]) -> SecurityScheme {
    let mut http = Http::new(HttpAuthScheme::Bearer);
    http.bearer_format = Some("JWT".to_owned());
    let mut description = String::from(
        "A JWT in `Authorization: Bearer`. A requirement lists the scopes the token must carry (from `scope` \
         or `scp`). Roles come from the token's roles claim: an operation that needs one names it in \
         `x-rampart-roles`, and its whole policy in `x-rampart-policy`.",
    );
    if !scopes.is_empty() {
        description.push_str("\n\nScopes:");
        for (scope, what) in scopes {
            description.push_str(&format!("\n- `{scope}`: {what}"));
        }
    }
    http.description = Some(description);
    SecurityScheme::Http(http)
}

fn string_header(description: &str) -> Header {
    Header::builder().schema(Some(String::schema())).description(Some(description)).build()
}

fn rate_limit_policy_header() -> Header {
    string_header("The quota (IETF RateLimit header fields draft), as `\"default\";q=10;w=60`")
}

fn rate_limit_header() -> Header {
    string_header("What is left of the quota, as `\"default\";r=9;t=6` (remaining, seconds until it refills)")
}

/// A problem+json response described for the components section.
fn problem(description: &str) -> Response {
    Response::builder()
        .description(description)
        .content("application/problem+json", Content::new(Some(RefOr::Ref(Ref::from_schema_name("Problem")))))
        .build()
}

fn problem_responses() -> Vec<(&'static str, Response)> {
    let unauthorized = with_header(
        problem("Missing, malformed, expired or revoked credentials"),
        "WWW-Authenticate",
        string_header(
            "RFC 6750 challenge: `Bearer realm=\"...\"`, with `error=\"invalid_token\"` when a token was sent",
        ),
    );
    let forbidden = with_header(
        problem(
            "The token lacks a required scope (`WWW-Authenticate` names the scopes), the caller lacks a required \
             role (no challenge: the detail names the roles), or the caller may see the resource but its relation \
             to it does not allow this operation",
        ),
        "WWW-Authenticate",
        string_header(
            "`Bearer error=\"insufficient_scope\", scope=\"...\"` naming the scopes that would do (a missing scope only)",
        ),
    );
    let retry_after =
        Header::builder().schema(Some(u64::schema())).description(Some("Seconds to wait before retrying")).build();
    let mut too_many = with_header(
        problem(
            "The rate limit is exhausted, or the caller is locked out after repeated failures (then without the RateLimit headers)",
        ),
        "Retry-After",
        retry_after,
    );
    let unavailable = with_header(
        problem(
            "The handler did not answer within its deadline (`x-rampart-timeout-ms`, else the service's), or a store the security decision needs is unreachable",
        ),
        "Retry-After",
        Header::builder().schema(Some(u64::schema())).description(Some("Seconds to wait before retrying")).build(),
    );
    too_many = with_header(too_many, "RateLimit-Policy", rate_limit_policy_header());
    too_many = with_header(too_many, "RateLimit", rate_limit_header());
    vec![
        (
            "BadRequest",
            problem(
                "Malformed input: JSON that does not parse (the detail gives line and column, never the payload), or a path segment or query string of the wrong shape",
            ),
        ),
        ("Unauthorized", unauthorized),
        ("Forbidden", forbidden),
        ("NotFound", problem("No such resource, or not the caller's (its existence is not revealed)")),
        ("PayloadTooLarge", problem("The body exceeds the endpoint's limit")),
        ("UnsupportedMediaType", problem("The body's `Content-Type` is not the one the endpoint reads")),
        ("UnprocessableContent", problem("Invalid fields: `errors` has one entry per failing field")),
        ("TooManyRequests", too_many),
        ("RequestTimeout", problem("The request body did not arrive within the service's body deadline")),
        ("ServiceUnavailable", unavailable),
    ]
}

fn with_header(mut response: Response, name: &str, header: Header) -> Response {
    response.headers.insert(name.to_owned(), RefOr::T(header));
    response
}

/// An RFC 9457 problem, as every error response carries it.
#[derive(ToSchema)]
#[schema(as = Problem)]
#[allow(dead_code)]
struct ProblemDetails {
    /// A URI reference identifying the problem type (`about:blank`).
    #[serde(rename = "type")]
    kind: String,
    /// The status code's reason phrase.
    title: String,
    /// The HTTP status code.
    status: u16,
    /// What went wrong, for humans; never echoes credentials or input values.
    detail: String,
    /// On 422: one entry per failing field.
    errors: Option<Vec<FieldErrorDetails>>,
}

/// One failing field of a 422 problem.
#[derive(ToSchema)]
#[schema(as = FieldError)]
#[allow(dead_code)]
struct FieldErrorDetails {
    /// A JSON pointer in URI fragment form (`#/tags/3`).
    pointer: String,
    /// What is wrong with the value.
    detail: String,
}
