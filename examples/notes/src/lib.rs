//! The notes service: Rampart's reference application.
//!
//! Every endpoint declares its contract with `#[secure]` or `#[public]`. This increment keeps notes
//! in memory (bodies sealed); SQLite/PostgreSQL persistence, validation and the OAuth token
//! endpoint arrive with their issues.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use rampart::authz::{Owned, OwnerCheck};
use rampart::config::Config;
use rampart::crypto::{Keyring, Sealed};
use rampart::extract::{Json, Path};
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
#[derive(Debug, Serialize)]
pub struct Note {
    id: u64,
    title: String,
    body: String,
    tags: Vec<String>,
    owner: String,
    created_at: u64,
}

/// The body of `POST /notes`: lengths count characters, tags match `^[a-z0-9-]{1,32}$` whole.
#[derive(Debug, Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateNote {
    #[garde(length(chars, min = 1, max = 120), custom(rampart::validate::no_control_chars))]
    title: String,
    #[serde(default)]
    #[garde(length(chars, max = 10_000))]
    body: String,
    #[serde(default)]
    #[garde(length(max = 10), inner(length(chars, min = 1, max = 32), pattern(r"^[a-z0-9-]+$")))]
    tags: Vec<String>,
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
#[public(get, path = "/health", reason = "liveness probe for load balancers and orchestrators")]
async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// List your notes.
///
/// Only the caller's own notes are listed.
#[secure(get, path = "/notes", scope = "notes:read", rate = "100/min", tags = ["notes"])]
async fn list_notes(user: Principal, State(state): State<AppState>) -> Result<Json<serde_json::Value>, Error> {
    let notes = state.lock()?;
    let items = notes
        .values()
        .filter(|n| n.owner_key == user.qualified_subject())
        .map(|n| state.open(n))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(serde_json::json!({"items": items, "next_cursor": null})))
}

/// Create a note.
#[secure(post, path = "/notes", scope = "notes:write", rate = "10/min", body_limit = "1MiB", tags = ["notes"])]
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
#[secure(delete, path = "/notes/{id}", any(role = "admin", scope = "notes:write"), owner = owner_or_admin, tags = ["notes"])]
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

/// Every endpoint of the service.
fn router() -> Router<AppState> {
    Router::new().mount(health).mount(list_notes).mount(create_note).mount(get_note).mount(delete_note)
}

/// The contracts of every endpoint (for documentation and tests).
pub fn inventory() -> Vec<&'static rampart::EndpointInfo> {
    router().inventory().to_vec()
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
