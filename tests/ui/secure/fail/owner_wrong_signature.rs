use axum::extract::Path;
use rampart::authz::OwnerCheck;
use rampart::secure;

struct Note {
    owner: String,
}

// Takes the owner's name instead of `(&Principal, &Note) -> bool`.
fn is_owner(owner: &str) -> bool {
    !owner.is_empty()
}

#[secure(get, path = "/notes/{id}", scope = "notes:read", owner = is_owner)]
async fn get_note(check: OwnerCheck<Note>, Path(id): Path<u64>) -> Result<String, rampart::Error> {
    let note = Note { owner: id.to_string() };
    check.allow(&note)?;
    Ok(note.owner)
}

fn main() {}
