use axum::extract::Path;
use rampart::secure;

#[secure(get, path = "/notes", scope = "notes:read")]
async fn get_note(Path(id): Path<u64>) -> String {
    id.to_string()
}

fn main() {}
