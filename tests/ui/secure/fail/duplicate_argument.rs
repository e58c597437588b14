use rampart::secure;

#[secure(get, path = "/notes", scope = "notes:read", scope = "notes:write")]
async fn list_notes() -> &'static str {
    "notes"
}

fn main() {}
