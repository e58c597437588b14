//! A loaded resource checked by relation, and a list filtered by it.
use axum::extract::{Path, State};
use rampart::authz::{Checked, Resource, Visibility};
use rampart::{Router, secure};

#[derive(Clone)]
struct AppState;

struct Note {
    id: u64,
    owner: String,
}

impl Resource for Note {
    fn id(&self) -> String {
        self.id.to_string()
    }

    fn owner(&self) -> Option<&str> {
        Some(&self.owner)
    }
}

async fn load_note(Path(id): Path<u64>, State(_): State<AppState>) -> Result<Option<Note>, rampart::Error> {
    Ok(Some(Note { id, owner: "jwt:idp#alice".to_owned() }))
}

/// Editors and owners (and admins) may rename a note.
#[secure(patch, path = "/notes/{id}", scope = "notes:write", load = load_note, relation = "editor")]
async fn rename(note: Checked<Note>, State(_): State<AppState>, Path(_id): Path<u64>) -> String {
    note.id.to_string()
}

/// A qualified relation.
#[secure(get, path = "/notes/{id}", scope = "notes:read", load = load_note, relation = "note#viewer")]
async fn read(State(_): State<AppState>, note: Checked<Note>, Path(_id): Path<u64>) -> String {
    note.into_inner().owner
}

/// The notes shared with the caller.
#[secure(get, path = "/shared", scope = "notes:read", relation = "note#viewer")]
async fn shared(visibility: Visibility) -> String {
    assert_eq!(read::INFO.relation, Some("note#viewer"));
    format!("{} {:?}", visibility.subject(), visibility.relations())
}

fn main() {
    let _ = Router::<AppState>::new().mount(rename).mount(read).mount(shared);
}
