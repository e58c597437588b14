use axum::extract::Path;
use rampart::authz::Checked;
use rampart::secure;

struct Note {
    owner: String,
}

// Takes the owner's name instead of `(&Principal, &Note) -> bool`.
fn is_owner(owner: &str) -> bool {
    !owner.is_empty()
}

async fn load_note(Path(id): Path<u64>) -> Result<Option<Note>, rampart::Error> {
    Ok(Some(Note { owner: id.to_string() }))
}

#[secure(get, path = "/notes/{id}", scope = "notes:read", load = load_note, owner = is_owner)]
async fn get_note(note: Checked<Note>, Path(_id): Path<u64>) -> String {
    note.into_inner().owner
}

fn main() {}
