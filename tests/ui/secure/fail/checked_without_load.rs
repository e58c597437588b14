use axum::extract::Path;
use rampart::authz::Checked;
use rampart::secure;

struct Note {
    owner: String,
}

// Reaches for the resource without declaring how it is loaded and checked.
#[secure(get, path = "/notes/{id}", scope = "notes:read")]
async fn get_note(note: Checked<Note>, Path(_id): Path<u64>) -> String {
    note.into_inner().owner
}

// Loads it, and takes it unchecked.
async fn load_note(Path(id): Path<u64>) -> Result<Option<Note>, rampart::Error> {
    Ok(Some(Note { owner: id.to_string() }))
}

fn allow(_: &rampart::auth::Principal, _: &Note) -> bool {
    true
}

#[secure(get, path = "/notes/{id}/raw", scope = "notes:read", load = load_note, owner = allow)]
async fn get_raw(Path(id): Path<u64>) -> String {
    id.to_string()
}

fn main() {}
