use rampart::secure;

#[secure(get, path = "/notes", any(scope = "notes:read", rloe = "admin"))]
async fn list_notes() -> &'static str {
    "notes"
}

fn main() {}
