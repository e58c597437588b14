//! The endpoints: each declares its whole security contract in its attribute.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use rampart::audit::{AuditEvent, Decision, RequestContext};
use rampart::authz::OwnerCheck;
use rampart::crypto::{SealContext, Sealed};
use rampart::extract::{Json, Path, Query, Valid};
use rampart::oauth::TokenResponse;
use rampart::prelude::*;

use crate::AppState;
use crate::model::{CreateNote, ListParams, Note, NoteList, StoredNote};

/// The page size when `?limit=` is not given.
const DEFAULT_PAGE: u32 = 20;

fn internal(err: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Internal(Box::new(err))
}

/// Whether `principal` may see or delete `note`: its owner, or an admin.
fn owner_or_admin(principal: &Principal, note: &StoredNote) -> bool {
    principal.qualified_subject() == note.owner_key || principal.has_role("admin")
}

/// Where a note's body is sealed: bound to its owner, so that a body copied into another
/// owner's row (by anyone who can write the database) does not open there.
pub(crate) fn body_context(owner_key: &str) -> SealContext<'_> {
    SealContext::new("notes", "body", owner_key)
}

impl AppState {
    /// The note as the API shows it, its body opened. A body that does not open in this row is
    /// audited (`sealed_value_rejected`) and answered 500: its plaintext is never shown.
    fn open(&self, ctx: &RequestContext, note: StoredNote) -> Result<Note, Error> {
        let body = note.body.open_bound(&self.keyring, &body_context(&note.owner_key)).map_err(|err| {
            AuditEvent::new(ctx, Decision::Deny, "sealed_value_rejected", 500).emit();
            tracing::error!(target: "notes", note = note.id, error = %err, "a sealed note body did not open in its row");
            internal(err)
        })?;
        Ok(Note {
            id: note.id,
            title: note.title,
            body,
            tags: note.tags,
            owner: note.owner_name,
            created_at: note.created_at,
        })
    }
}

/// Liveness probe.
#[public(get, path = "/health", reason = "liveness probe for load balancers and orchestrators", tags = ["service"])]
pub(crate) async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// List your notes.
///
/// Only the caller's own notes are listed, oldest id first; follow `next_cursor` for more.
#[secure(get, path = "/notes", scope = "notes:read", rate = "100/min", tags = ["notes"])]
pub(crate) async fn list_notes(
    ctx: RequestContext,
    user: Principal,
    State(state): State<AppState>,
    Valid(Query(params)): Valid<Query<ListParams>>,
) -> Result<Json<NoteList>, Error> {
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    let after = match params.cursor.as_deref() {
        None => 0,
        Some(cursor) => cursor.parse::<i64>().map_err(|_| {
            Error::Validation(vec![rampart::error::FieldError::new("#/cursor", "not a cursor from this service")])
        })?,
    };
    // One more than asked: whether there is a next page.
    let mut page = state.store.list(user.qualified_subject(), after, limit + 1).await.map_err(internal)?;
    let next_cursor = if page.len() > limit as usize {
        page.truncate(limit as usize);
        page.last().map(|n| n.id.to_string())
    } else {
        None
    };
    let items = page.into_iter().map(|n| state.open(&ctx, n)).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(NoteList { items, next_cursor }))
}

/// Create a note.
///
/// The body is encrypted before it is stored.
#[secure(post, path = "/notes", scope = "notes:write", rate = "10/min", body_limit = "1MiB", status = 201, tags = ["notes"])]
pub(crate) async fn create_note(
    ctx: RequestContext,
    user: Principal,
    State(state): State<AppState>,
    Json(input): Json<CreateNote>,
) -> Result<(StatusCode, Json<Note>), Error> {
    let body =
        Sealed::seal_bound(&state.keyring, &input.body, &body_context(user.qualified_subject())).map_err(internal)?;
    let created_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let note = StoredNote {
        id: 0,
        title: input.title,
        body,
        tags: input.tags,
        owner_name: user.subject().to_owned(),
        owner_key: user.qualified_subject().to_owned(),
        created_at: i64::try_from(created_at).unwrap_or(i64::MAX),
    };
    let stored = state.store.insert(note).await.map_err(internal)?;
    Ok((StatusCode::CREATED, Json(state.open(&ctx, stored)?)))
}

/// Read one of your notes.
///
/// Someone else's note answers 404, as a missing one does (admins may read any).
#[secure(get, path = "/notes/{id}", scope = "notes:read", owner = owner_or_admin, tags = ["notes"])]
pub(crate) async fn get_note(
    ctx: RequestContext,
    check: OwnerCheck<StoredNote>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Note>, Error> {
    let note = state.store.get(id).await.map_err(internal)?.ok_or(Error::NotFound)?;
    check.allow(&note)?;
    Ok(Json(state.open(&ctx, note)?))
}

/// Delete one of your notes (admins may delete any).
#[secure(delete, path = "/notes/{id}", any(role = "admin", scope = "notes:write"), owner = owner_or_admin, status = 204, tags = ["notes"])]
pub(crate) async fn delete_note(
    check: OwnerCheck<StoredNote>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, Error> {
    let note = state.store.get(id).await.map_err(internal)?.ok_or(Error::NotFound)?;
    check.allow(&note)?;
    state.store.delete(id).await.map_err(internal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Get an access token (OAuth 2.0 client credentials, RFC 6749 §4.4).
///
/// Form body `grant_type=client_credentials` with `client_secret_basic` or `client_secret_post`;
/// `scope` is optional. Errors follow RFC 6749 §5.2.
#[public(post, path = "/oauth/token", rate = "20/min", body_limit = "8KiB", reason = "clients authenticate here, with their own credentials, to get a token", tags = ["oauth"])]
pub(crate) async fn issue_token(
    ctx: RequestContext,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<TokenResponse, Error> {
    match &state.tokens {
        Some(tokens) => Ok(tokens.grant(&ctx, &headers, &body).await),
        None => Err(Error::NotFound),
    }
}
