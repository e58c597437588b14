use axum::extract::State;
use rampart::{Router, secure};

#[derive(Clone)]
struct Db;

#[secure(get, path = "/notes", scope = "notes:read")]
async fn list_notes(State(_db): State<Db>) -> &'static str {
    "notes"
}

fn main() {
    let _router = Router::<u32>::new().mount(list_notes);
}
