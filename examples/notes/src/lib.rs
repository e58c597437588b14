//! The notes service: Rampart's reference application.
//!
//! Every endpoint declares its contract with `#[secure]` or `#[public]` (`handlers.rs`); the OpenAPI
//! document at `/openapi.json` and Swagger UI at `/docs` come from the same declarations. Notes
//! live in SQLite (default) or PostgreSQL ([`NoteStore`]), their bodies sealed with AES-256-GCM;
//! `/oauth/token` issues tokens to the clients of `RAMPART_OAUTH_CLIENTS`, and `/oauth/introspect`
//! describes them to those clients (RFC 7662).

mod handlers;
mod model;
mod store;

use std::sync::Arc;

use rampart::auth::NonceIssuer;
use rampart::config::Config;
use rampart::crypto::Keyring;
use rampart::oauth::TokenEndpoint;
use rampart::openapi::ApiDocs;
use rampart::prelude::*;

pub use model::{CreateNote, ListParams, Note, NoteList, Share, ShareRelation, StoredNote, UpdateNote};
pub use store::{DEFAULT_DATABASE_URL, NOTE, NoteStore, StoreError};

#[derive(Clone)]
struct AppState {
    store: NoteStore,
    keyring: Arc<Keyring>,
    tokens: Option<Arc<TokenEndpoint>>,
    /// What `/oauth/introspect` verifies tokens with: the service's own authentication.
    security: Security,
}

/// Every endpoint of the service, its documentation included.
fn router() -> Router<AppState> {
    use handlers::*;
    Router::new()
        .mount(health)
        .mount(list_notes)
        .mount(create_note)
        .mount(get_note)
        .mount(update_note)
        .mount(delete_note)
        .mount(share_note)
        .mount(unshare_note)
        .mount(issue_token)
        .mount(introspect_token)
        .with_docs(api_docs())
}

fn api_docs() -> ApiDocs {
    ApiDocs::new("notes", env!("CARGO_PKG_VERSION"))
        .description("Rampart's reference service: private notes, bodies encrypted at rest.")
        .token_url("/oauth/token")
        // What the default configuration enforces (the served document follows RAMPART_DPOP and
        // RAMPART_API_KEYS).
        .dpop(rampart::auth::DpopMode::Allowed)
}

/// The notes contract's defaults for settings the framework leaves to each service: the tokens'
/// audience is `notes` unless `RAMPART_JWT_AUDIENCE` says otherwise.
///
/// ```
/// assert_eq!(notes::contract_default("RAMPART_JWT_AUDIENCE").as_deref(), Some("notes"));
/// assert_eq!(notes::contract_default("RAMPART_ADDR"), None);
/// ```
pub fn contract_default(name: &str) -> Option<String> {
    (name == "RAMPART_JWT_AUDIENCE").then(|| "notes".to_owned())
}

/// The contracts of every endpoint (for documentation and tests).
pub fn inventory() -> Vec<&'static rampart::EndpointInfo> {
    router().inventory().to_vec()
}

/// The OpenAPI document the service serves at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    rampart::openapi::document(router().inventory(), &api_docs())
}

/// The notes application over `store`, secured as `config` says.
///
/// # Errors
///
/// When the configured keys cannot be used.
pub fn app(config: &Config, store: NoteStore) -> anyhow::Result<rampart::SecuredRouter> {
    let security = Security::builder_from_config(config)?.relations(store.relations().clone()).build();
    // Wrong client secrets at /oauth/token count in the same lockout as guessed tokens.
    let tokens = TokenEndpoint::from_config(config)
        .map(|tokens| match security.lockout() {
            Some(lockout) => tokens.with_lockout(Arc::clone(lockout)),
            None => tokens,
        })
        // A token request with a DPoP proof gets a token bound to its key.
        .map(|tokens| match config.dpop {
            rampart::auth::DpopMode::Off => tokens,
            _ => tokens.with_dpop(format!("{}/oauth/token", config.public_url())),
        })
        // Proofs sent here carry the service's nonce too, when RAMPART_DPOP_NONCE requires one.
        .map(|tokens| match config.dpop_nonce {
            true => tokens.with_dpop_nonces(NonceIssuer::new(&config.seal.keyring.derive("dpop-nonce"))),
            false => tokens,
        })
        .map(Arc::new);
    let state = AppState { store, keyring: Arc::new(config.seal.keyring.clone()), tokens, security: security.clone() };
    let mut app = router().with_state(state).secured(&security);
    if !config.cors.is_empty() {
        app = app.layer(config.cors.clone().into_layer()?);
    }
    Ok(app)
}
