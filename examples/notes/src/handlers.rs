//! The endpoints: each declares its whole security contract in its attribute.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use rampart::audit::{AuditEvent, Decision, RequestContext};
use rampart::authz::{Checked, Relations as _, Tuple, Visibility};
use rampart::crypto::{SealContext, Sealed};
use rampart::extract::{Json, Path, Query, Valid};
use rampart::oauth::{IntrospectionResponse, TokenResponse};
use rampart::prelude::*;

use crate::AppState;
use crate::model::{CreateNote, ListParams, Note, NoteList, Share, ShareKey, StoredNote, UpdateNote};
use crate::store::NOTE;

/// The page size when `?limit=` is not given.
const DEFAULT_PAGE: u32 = 20;

/// The note of the route's `{id}` (whoever may see it: the attribute's relation decides).
pub(crate) async fn load_note(Path(id): Path<i64>, State(state): State<AppState>) -> Result<Option<StoredNote>, Error> {
    state.store.get(id).await.internal()
}

/// The note of `/notes/{id}/shares/{subject}`.
pub(crate) async fn load_shared_note(
    Path(key): Path<ShareKey>,
    State(state): State<AppState>,
) -> Result<Option<StoredNote>, Error> {
    state.store.get(key.id).await.internal()
}

/// The qualified subject of the user `sub` of the issuer of `owner_key`: a share names a user
/// (`jwt:`), never a client or an API key, of the note owner's issuer.
fn user_of_owners_issuer(owner_key: &str, sub: &str) -> Result<String, Error> {
    let issuer = owner_key.split_once(':').and_then(|(_, rest)| rest.split_once('#')).map(|(issuer, _)| issuer);
    match issuer {
        Some(issuer) => Ok(format!("jwt:{issuer}#{sub}")),
        None => Err(Error::Validation(vec![rampart::error::FieldError::new(
            "#/subject",
            "this note's owner has no issuer whose users it could be shared with",
        )])),
    }
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
            Error::Internal(Box::new(err))
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

/// List your notes, or the notes shared with you.
///
/// The caller's own notes, oldest id first; with `shared=true`, the notes others shared with the
/// caller (as viewer or editor). Follow `next_cursor` for more.
#[secure(get, path = "/notes", scope = "notes:read", relation = "note#viewer", rate = "100/min", tags = ["notes"])]
pub(crate) async fn list_notes(
    ctx: RequestContext,
    visibility: Visibility,
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
    let mut page = if params.shared == Some(true) {
        state.store.list_shared(visibility.subject(), &visibility.relations(), after, limit + 1).await
    } else {
        state.store.list(visibility.subject(), after, limit + 1).await
    }
    .internal()?;
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
    let body = Sealed::seal_bound(&state.keyring, &input.body, &body_context(user.qualified_subject())).internal()?;
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
    let stored = state.store.insert(note).await.internal()?;
    Ok((StatusCode::CREATED, Json(state.open(&ctx, stored)?)))
}

/// Read a note.
///
/// Its owner, an admin, and those it is shared with read it; anyone else gets 404, as for a
/// missing note.
#[secure(get, path = "/notes/{id}", scope = "notes:read", load = load_note, relation = "note#viewer", rate = "100/min", tags = ["notes"])]
pub(crate) async fn get_note(
    ctx: RequestContext,
    note: Checked<StoredNote>,
    State(state): State<AppState>,
    Path(_id): Path<i64>,
) -> Result<Json<Note>, Error> {
    Ok(Json(state.open(&ctx, note.into_inner())?))
}

/// Change a note.
///
/// Its owner, an admin and its editors change it (the fields given, under the rules of
/// `POST /notes`); a viewer gets 403; anyone else 404.
#[secure(patch, path = "/notes/{id}", scope = "notes:write", load = load_note, relation = "note#editor", rate = "30/min", body_limit = "1MiB", tags = ["notes"])]
pub(crate) async fn update_note(
    ctx: RequestContext,
    note: Checked<StoredNote>,
    State(state): State<AppState>,
    Path(_id): Path<i64>,
    Json(input): Json<UpdateNote>,
) -> Result<Json<Note>, Error> {
    let mut note = note.into_inner();
    if let Some(title) = input.title {
        note.title = title;
    }
    if let Some(body) = input.body {
        // Sealed to the note's owner, whoever edits it.
        note.body = Sealed::seal_bound(&state.keyring, &body, &body_context(&note.owner_key)).internal()?;
    }
    if let Some(tags) = input.tags {
        note.tags = tags;
    }
    state.store.update(&note).await.internal()?;
    Ok(Json(state.open(&ctx, note)?))
}

/// Delete a note.
///
/// Its owner or an admin; an editor or a viewer gets 403; anyone else 404.
#[secure(delete, path = "/notes/{id}", any(role = "admin", scope = "notes:write"), load = load_note, relation = "note#owner", rate = "30/min", status = 204, tags = ["notes"])]
pub(crate) async fn delete_note(
    note: Checked<StoredNote>,
    State(state): State<AppState>,
    Path(_id): Path<i64>,
) -> Result<StatusCode, Error> {
    state.store.delete(note.id).await.internal()?;
    Ok(StatusCode::NO_CONTENT)
}

/// Share a note.
///
/// The owner (or an admin) makes a user of the owner's issuer a `viewer` or an `editor`; someone
/// who can read the note but not share it gets 403; anyone else 404.
#[secure(post, path = "/notes/{id}/shares", scope = "notes:write", load = load_note, relation = "note#owner", rate = "30/min", body_limit = "8KiB", status = 204, tags = ["notes"])]
pub(crate) async fn share_note(
    note: Checked<StoredNote>,
    State(state): State<AppState>,
    Path(_id): Path<i64>,
    Json(share): Json<Share>,
) -> Result<StatusCode, Error> {
    let subject = user_of_owners_issuer(&note.owner_key, &share.subject)?;
    let id = note.id.to_string();
    let tuple = Tuple { kind: NOTE, id: &id, relation: share.relation.as_str(), subject: &subject };
    // One relation per user: sharing again replaces the earlier one.
    let relations = state.store.relations();
    relations.revoke_all(NOTE, &id, &subject).await.internal()?;
    relations.grant(tuple).await.internal()?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stop sharing a note with a user.
///
/// The owner or an admin; same denials as sharing. Answers 204 whether or not it was shared.
#[secure(delete, path = "/notes/{id}/shares/{subject}", scope = "notes:write", load = load_shared_note, relation = "note#owner", rate = "30/min", status = 204, tags = ["notes"])]
pub(crate) async fn unshare_note(
    note: Checked<StoredNote>,
    State(state): State<AppState>,
    Path(key): Path<ShareKey>,
) -> Result<StatusCode, Error> {
    let subject = user_of_owners_issuer(&note.owner_key, &key.subject)?;
    state.store.relations().revoke_all(NOTE, &note.id.to_string(), &subject).await.internal()?;
    Ok(StatusCode::NO_CONTENT)
}

/// Get an access token (OAuth 2.0 client credentials, RFC 6749 §4.4).
///
/// Form body `grant_type=client_credentials` with `client_secret_basic` or `client_secret_post`;
/// `scope` is optional. Errors follow RFC 6749 §5.2.
// rampart-audit: allow(RAMPART003) the token endpoint is where clients authenticate, with their own credentials
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

/// Describe a token (OAuth 2.0 token introspection, RFC 7662).
///
/// Form body `token=...`, the client authenticated as at `/oauth/token`. An active token is
/// described (scope, client_id, sub, exp, iss, aud, jti, token_type, cnf, and gty for a client's
/// own token); anything unknown, expired or revoked is `{"active": false}`.
// rampart-audit: allow(RAMPART003) clients authenticate here, with their own credentials
#[public(post, path = "/oauth/introspect", rate = "600/min", body_limit = "16KiB", reason = "resource servers authenticate here, with their own client credentials", tags = ["oauth"])]
pub(crate) async fn introspect_token(
    ctx: RequestContext,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<IntrospectionResponse, Error> {
    match &state.tokens {
        Some(tokens) => Ok(tokens.introspect(&ctx, &headers, &body, state.security.authenticator()).await),
        None => Err(Error::NotFound),
    }
}
