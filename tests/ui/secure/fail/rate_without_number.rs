use rampart::secure;

#[secure(get, path = "/notes", scope = "notes:read", rate = "/min")]
async fn list_notes() -> &'static str {
    "notes"
}

fn main() {}
