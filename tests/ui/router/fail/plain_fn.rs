use rampart::{Router, secure};

#[secure(get, path = "/notes", scope = "notes:read")]
async fn list_notes() -> &'static str {
    "notes"
}

async fn create_note() -> &'static str {
    "created"
}

fn main() {
    let _router: Router = Router::new().mount(list_notes).mount(create_note);
}
