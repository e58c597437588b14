use rampart::secure;

#[secure(get, path = "/notes", scope = "notes:read", rate = "10/min", rate_key = "email")]
async fn list_notes() -> &'static str {
    "notes"
}

fn main() {}
