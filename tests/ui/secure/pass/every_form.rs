//! Every accepted form of the attributes, mounted on one router.
use axum::extract::{Path, State};
use rampart::auth::Principal;
use rampart::authz::Checked;
use rampart::extract::Json;
use rampart::{Router, public, secure};

#[derive(Clone)]
struct AppState;

struct Note {
    owner: String,
}

fn owner_or_admin(principal: &Principal, note: &Note) -> bool {
    principal.subject() == note.owner || principal.has_role("admin")
}

/// Health.
#[public(get, path = "/health", reason = "probed by the load balancer", rate = "60/min")]
async fn health() -> &'static str {
    "ok"
}

/// One scope, a rate in the long form, tags and an operation id.
#[secure(get, path = "/notes", scope = "notes:read", rate = "100 per minute", tags = ["notes"], operation_id = "listNotes")]
async fn list_notes(_user: Principal, State(_state): State<AppState>) -> &'static str {
    "notes"
}

#[derive(serde::Deserialize, garde::Validate)]
struct NewNote {
    #[garde(length(chars, min = 1, max = 120))]
    title: String,
}

/// Several scopes, burst, rate key, deprecated, a validated body with its own limit.
#[secure(post, path = "/notes", scope = ["notes:write", "notes:read"], rate = "10/min", burst = 20, rate_key = "client", deprecated, body_limit = "1MiB")]
async fn create_note(Json(body): Json<NewNote>) -> String {
    body.title
}

/// An explicit opt-out of validation, with a raw axum body.
#[secure(put, path = "/raw", scope = "notes:write", validate = false, body_limit = 4096)]
async fn raw(axum::Json(body): axum::Json<serde_json::Value>) -> axum::Json<serde_json::Value> {
    axum::Json(body)
}

async fn load_note(Path(id): Path<u64>, State(_state): State<AppState>) -> Result<Option<Note>, rampart::Error> {
    Ok(Some(Note { owner: id.to_string() }))
}

/// any/all nesting, a loaded resource checked by ownership.
#[secure(delete, path = "/notes/{id}", any(role = "admin", all(scope = "notes:write", scope = "notes:delete")), load = load_note, owner = owner_or_admin)]
async fn delete_note(note: Checked<Note>, State(_state): State<AppState>, Path(_id): Path<u64>) -> String {
    note.into_inner().owner
}

/// Any authenticated caller, two path parameters.
#[secure(get, path = "/users/{user}/notes/{id}")]
async fn user_note(Path((user, id)): Path<(String, u64)>) -> String {
    format!("{user}/{id}")
}

/// Units in every spelling.
#[secure(put, path = "/a", role = "admin", rate = "5/s")]
async fn a() {}
#[secure(patch, path = "/b", role = "admin", rate = "1000/hour")]
async fn b() {}
#[secure(head, path = "/c", role = "admin", rate = "3/day")]
async fn c() {}

fn main() {
    let router: Router = Router::new()
        .mount(list_notes)
        .mount(create_note)
        .mount(delete_note)
        .mount(user_note)
        .mount(a)
        .mount(b)
        .mount(c)
        .mount(raw)
        .with_state(AppState)
        .merge(Router::new().mount(health));
    assert_eq!(router.inventory().len(), 9);
    assert_eq!(create_note::INFO.body_limit, 1024 * 1024);
    assert_eq!(raw::INFO.body_limit, 4096);
    assert!(create_note::INFO.deprecated);
    assert_eq!(list_notes::INFO.operation_id, "listNotes");
}
