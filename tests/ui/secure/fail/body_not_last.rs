use rampart::extract::Json;
use rampart::prelude::*;

#[derive(serde::Deserialize, garde::Validate)]
struct NewNote {
    #[garde(length(chars, min = 1, max = 120))]
    title: String,
}

#[secure(post, path = "/notes", scope = "notes:write", rate = "10/min")]
async fn create_note(Json(note): Json<NewNote>, user: Principal) -> String {
    format!("{} by {}", note.title, user.subject())
}

fn main() {}
