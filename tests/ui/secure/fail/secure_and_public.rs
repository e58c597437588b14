use rampart::{public, secure};

#[secure(get, path = "/notes", scope = "notes:read")]
#[public(get, path = "/notes", reason = "everyone may read")]
async fn list_notes() -> &'static str {
    "notes"
}

fn main() {}
