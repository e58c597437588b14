use rampart::secure;

#[derive(serde::Deserialize)]
struct NewNote {
    title: String,
}

#[secure(post, path = "/notes", scope = "notes:write")]
async fn create_note(axum::Json(note): axum::Json<NewNote>) -> String {
    note.title
}

fn main() {
    let _ = rampart::Router::<()>::new().mount(create_note);
}
