use axum::extract::Path;
use rampart::auth::Principal;
use rampart::secure;

struct Note {
    owner: String,
}

fn is_owner(principal: &Principal, note: &Note) -> bool {
    principal.subject() == note.owner
}

// The rule of a resource the route never loads.
#[secure(get, path = "/notes/{id}", scope = "notes:read", owner = is_owner)]
async fn get_note(Path(id): Path<u64>) -> String {
    id.to_string()
}

fn main() {}
