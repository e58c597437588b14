//! The notes service: Rampart's reference application.
//!
//! Every endpoint declares its contract with `#[secure]` or `#[public]`; the OpenAPI document at
//! `/openapi.json` and Swagger UI at `/docs` come from the same declarations. This increment keeps
//! notes in memory (bodies sealed); SQLite/PostgreSQL persistence and the OAuth token endpoint
//! arrive with their issue.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use rampart::authz::{Owned, OwnerCheck};
use rampart::config::Config;
use rampart::crypto::{Keyring, Sealed};
use rampart::extract::{Json, Path};
use rampart::openapi::ApiDocs;
use rampart::prelude::*;
use serde::{Deserialize, Serialize};

/// A stored note; the body is sealed at rest.
#[derive(Debug, Clone)]
pub struct StoredNote {
    id: u64,
    title: String,
    body: Sealed<String>,
    tags: Vec<String>,
    /// The owner's `sub`, as shown.
    owner_name: String,
    /// The owner's qualified subject (issuer or key scheme included): what ownership compares.
    owner_key: String,
    created_at: u64,
}

impl Owned for StoredNote {
    fn owner(&self) -> &str {
        &self.owner_key
    }
}

/// A note as the API returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Note {
    id: u64,
    title: String,
    body: String,
    tags: Vec<String>,
    owner: String,
    created_at: u64,
}

/// The body of `POST /notes`: lengths count characters, tags match `^[a-z0-9-]{1,32}$` whole.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNote {
    /// 1 to 120 characters, no control characters.
    #[garde(length(chars, min = 1, max = 120), custom(rampart::validate::no_control_chars))]
    #[schema(min_length = 1, max_length = 120)]
    title: String,
    /// Up to 10 000 characters; stored encrypted.
    #[serde(default)]
    #[garde(length(chars, max = 10_000))]
    #[schema(max_length = 10_000)]
    body: String,
    /// Up to 10 tags, each 1 to 32 of `a-z`, `0-9` and `-`.
    #[serde(default)]
    #[garde(length(max = 10), inner(length(chars, min = 1, max = 32), pattern(r"^[a-z0-9-]+$")))]
    #[schema(max_items = 10)]
    tags: Vec<String>,
}

/// A page of the caller's notes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NoteList {
    items: Vec<Note>,
    /// Where the next page starts; `null` on the last page.
    next_cursor: Option<String>,
}

#[derive(Clone)]
struct AppState {
    notes: Arc<Mutex<BTreeMap<u64, StoredNote>>>,
    keyring: Arc<Keyring>,
}

fn owner_or_admin(principal: &Principal, note: &StoredNote) -> bool {
    principal.qualified_subject() == note.owner_key || principal.has_role("admin")
}

impl AppState {
    fn open(&self, note: &StoredNote) -> Result<Note, Error> {
        let body = note.body.open(&self.keyring).map_err(|e| Error::Internal(Box::new(e)))?;
        Ok(Note {
            id: note.id,
            title: note.title.clone(),
            body,
            tags: note.tags.clone(),
            owner: note.owner_name.clone(),
            created_at: note.created_at,
        })
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<u64, StoredNote>>, Error> {
        self.notes.lock().map_err(|_| Error::Internal("notes store poisoned".into()))
    }
}

/// Liveness probe.
#[public(get, path = "/health", reason = "liveness probe for load balancers and orchestrators", tags = ["service"])]
async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// List your notes.
///
/// Only the caller's own notes are listed.
#[secure(get, path = "/notes", scope = "notes:read", rate = "100/min", tags = ["notes"])]
async fn list_notes(user: Principal, State(state): State<AppState>) -> Result<Json<NoteList>, Error> {
    let notes = state.lock()?;
    let items = notes
        .values()
        .filter(|n| n.owner_key == user.qualified_subject())
        .map(|n| state.open(n))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(NoteList { items, next_cursor: None }))
}

/// Create a note.
#[secure(post, path = "/notes", scope = "notes:write", rate = "10/min", body_limit = "1MiB", status = 201, tags = ["notes"])]
async fn create_note(
    user: Principal,
    State(state): State<AppState>,
    Json(input): Json<CreateNote>,
) -> Result<(StatusCode, Json<Note>), Error> {
    let body = Sealed::seal(&state.keyring, &input.body).map_err(|e| Error::Internal(Box::new(e)))?;
    let created_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut notes = state.lock()?;
    let id = notes.keys().next_back().map_or(1, |last| last + 1);
    let note = StoredNote {
        id,
        title: input.title,
        body,
        tags: input.tags,
        owner_name: user.subject().to_owned(),
        owner_key: user.qualified_subject().to_owned(),
        created_at,
    };
    let view = state.open(&note)?;
    notes.insert(id, note);
    Ok((StatusCode::CREATED, Json(view)))
}

/// Read one of your notes.
#[secure(get, path = "/notes/{id}", scope = "notes:read", owner = owner_or_admin, tags = ["notes"])]
async fn get_note(
    check: OwnerCheck<StoredNote>,
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<Json<Note>, Error> {
    let notes = state.lock()?;
    let note = notes.get(&id).ok_or(Error::NotFound)?;
    check.allow(note)?;
    Ok(Json(state.open(note)?))
}

/// Delete one of your notes (admins may delete any).
#[secure(delete, path = "/notes/{id}", any(role = "admin", scope = "notes:write"), owner = owner_or_admin, status = 204, tags = ["notes"])]
async fn delete_note(
    check: OwnerCheck<StoredNote>,
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<StatusCode, Error> {
    let mut notes = state.lock()?;
    let note = notes.get(&id).ok_or(Error::NotFound)?;
    check.allow(note)?;
    notes.remove(&id);
    Ok(StatusCode::NO_CONTENT)
}

/// Every endpoint of the service, its documentation included.
fn router() -> Router<AppState> {
    Router::new()
        .mount(health)
        .mount(list_notes)
        .mount(create_note)
        .mount(get_note)
        .mount(delete_note)
        .with_docs(api_docs())
}

fn api_docs() -> ApiDocs {
    ApiDocs::new("notes", env!("CARGO_PKG_VERSION"))
        .description("Rampart's reference service: private notes, bodies encrypted at rest.")
        .scope("notes:read", "Read your notes")
        .scope("notes:write", "Create and delete your notes")
}

/// The contracts of every endpoint (for documentation and tests).
pub fn inventory() -> Vec<&'static rampart::EndpointInfo> {
    router().inventory().to_vec()
}

/// The OpenAPI document the service serves at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    rampart::openapi::document(router().inventory(), &api_docs())
}

/// The notes application, secured.
///
/// # Errors
///
/// When the configured keys cannot be used.
pub fn app(config: &Config) -> anyhow::Result<axum::Router> {
    let state = AppState { notes: Arc::default(), keyring: Arc::new(config.seal.keyring.clone()) };
    let mut app = router().with_state(state).secured(&Security::from_config(config)?);
    if !config.cors.is_empty() {
        app = app.layer(config.cors.clone().into_layer()?);
    }
    Ok(app)
}
