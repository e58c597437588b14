use axum::extract::Path;
use rampart::authz::{Checked, Resource};
use rampart::secure;

struct Note(u64);

impl Resource for Note {
    fn id(&self) -> String {
        self.0.to_string()
    }
}

async fn load_note(Path(id): Path<u64>) -> Result<Option<Note>, rampart::Error> {
    Ok(Some(Note(id)))
}

#[secure(get, path = "/notes/{id}", scope = "notes:read", load = load_note, relation = "vewer")]
async fn read(note: Checked<Note>, Path(_id): Path<u64>) -> String {
    note.0.to_string()
}

#[secure(get, path = "/notes/{id}/x", scope = "notes:read", load = load_note, relation = "nte#viewer")]
async fn read_typo(note: Checked<Note>, Path(_id): Path<u64>) -> String {
    note.0.to_string()
}

fn main() {}
