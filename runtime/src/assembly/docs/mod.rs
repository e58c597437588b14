//! The service's own documentation: `GET /openapi.json` and, with the `swagger-ui` feature,
//! Swagger UI at `GET /docs` from assets vendored into the binary (no CDN, no network at build or
//! run time).
//!
//! Both are ordinary `#[public]` endpoints, so they are in the inventory and in the document
//! itself. The page gets its own Content-Security-Policy, [`DOCS_CSP`]: scripts, styles, fonts
//! and requests from the service itself only, images also as `data:` URIs (Swagger UI's icons);
//! no inline script, no external host, no framing.
//!
//! # Examples
//!
//! ```
//! use rampart::openapi::ApiDocs;
//! use rampart::prelude::*;
//!
//! #[public(get, path = "/health", reason = "liveness probe")]
//! async fn health() -> &'static str {
//!     "ok"
//! }
//!
//! let router: Router = Router::new().mount(health).with_docs(ApiDocs::new("my service", "1.0.0"));
//! let routes: Vec<&str> = router.inventory().iter().map(|e| e.path).collect();
//! assert_eq!(routes, ["/health", "/openapi.json", "/docs", "/docs/{file}"]);
//! ```

use std::sync::Arc;

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use rampart_macros::public;

/// The Content-Security-Policy of the documentation page and its assets.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The serialized document, shared by every request (built by [`crate::Router::secured`]).
#[derive(Clone)]
pub(crate) struct DocumentJson(pub(crate) Arc<[u8]>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for DocumentJson {
    type Rejection = crate::Error;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let installed = crate::security::installed(parts)?;
        installed
            .document
            .clone()
            .map(DocumentJson)
            .ok_or_else(|| crate::Error::Internal("no OpenAPI document: build the router with with_docs".into()))
    }
}

/// The OpenAPI document of this service.
///
/// Generated from the same declarations that the router enforces.
#[public(get, path = "/openapi.json", reason = "the API description holds no data; clients and tooling read it", tags = ["documentation"])]
pub(crate) async fn openapi_json(document: DocumentJson) -> Response {
    let mut response = (StatusCode::OK, document.0.to_vec()).into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(feature = "swagger-ui")]
pub(crate) use swagger::{docs_asset, docs_page};

#[cfg(feature = "swagger-ui")]
mod swagger {
    use std::sync::{Arc, OnceLock};

    use axum::http::HeaderValue;
    use axum::http::header::{CACHE_CONTROL, CONTENT_ENCODING};
    use axum::response::{IntoResponse, Response};

    use super::{docs_response, public};
    use crate::Error;
    use crate::extract::Path;

    const INDEX: &str = include_str!("index.html");
    const STARTER: &str = include_str!("rampart-docs.js");
    /// The vendored Swagger UI files the page loads; nothing else of the distribution is served.
    const ASSETS: [&str; 4] = ["swagger-ui.css", "swagger-ui-bundle.js", "favicon-16x16.png", "favicon-32x32.png"];

    /// Interactive API documentation (Swagger UI).
    #[public(get, path = "/docs", reason = "the API documentation page holds no data", tags = ["documentation"])]
    pub(crate) async fn docs_page() -> Response {
        docs_response("text/html; charset=utf-8", INDEX.as_bytes().to_vec())
    }

    /// A file of the documentation page.
    #[public(get, path = "/docs/{file}", reason = "static files of the documentation page", tags = ["documentation"])]
    pub(crate) async fn docs_asset(Path(file): Path<String>) -> Result<StaticFile, Error> {
        if file == "rampart-docs.js" {
            return Ok(StaticFile(docs_response("text/javascript; charset=utf-8", STARTER.as_bytes().to_vec())));
        }
        if !ASSETS.contains(&file.as_str()) {
            return Err(Error::NotFound);
        }
        static CONFIG: OnceLock<Arc<utoipa_swagger_ui::Config<'static>>> = OnceLock::new();
        let config = CONFIG.get_or_init(|| Arc::new(utoipa_swagger_ui::Config::from("openapi.json")));
        let served =
            utoipa_swagger_ui::serve(&file, Arc::clone(config)).map_err(|e| Error::Internal(e.to_string().into()))?;
        let asset = served.ok_or(Error::NotFound)?;
        let content_type = if asset.content_type.starts_with("text/") || asset.content_type.contains("javascript") {
            format!("{}; charset=utf-8", asset.content_type)
        } else {
            asset.content_type
        };
        let mut response = docs_response(&content_type, asset.bytes.into_owned());
        response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
        if asset.gzpipped {
            response.headers_mut().insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        Ok(StaticFile(response))
    }

    /// One of the page's files, or 404 for any other name.
    pub(crate) struct StaticFile(Response);

    impl IntoResponse for StaticFile {
        fn into_response(self) -> Response {
            self.0
        }
    }

    impl crate::openapi::DescribeResponse for StaticFile {
        fn describe_response(doc: &mut crate::openapi::OperationDoc) {
            let any = utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::default());
            doc.success_body("application/octet-stream", any);
            doc.response(404, utoipa::openapi::RefOr::Ref(utoipa::openapi::Ref::from_response_name("NotFound")));
        }
    }
}

/// A documentation response with the page's own CSP.
fn docs_response(content_type: &str, body: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(CONTENT_TYPE, value);
    }
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_CSP));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
