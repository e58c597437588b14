use rampart::secure;

#[secure(get, path = "/notes", scope = "notes:read notes:write")]
async fn list_notes() -> &'static str {
    "notes"
}

fn main() {}
