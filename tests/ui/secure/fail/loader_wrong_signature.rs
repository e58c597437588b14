use axum::extract::Path;
use rampart::auth::Principal;
use rampart::authz::Checked;
use rampart::secure;

struct Note {
    owner: String,
}

fn is_owner(principal: &Principal, note: &Note) -> bool {
    principal.subject() == note.owner
}

// Takes the id itself instead of extractors, and returns the note without `Result<Option<_>>`.
async fn load_note(id: u64) -> Note {
    Note { owner: id.to_string() }
}

#[secure(get, path = "/notes/{id}", scope = "notes:read", load = load_note, owner = is_owner)]
async fn get_note(note: Checked<Note>, Path(_id): Path<u64>) -> String {
    note.into_inner().owner
}

fn main() {}
