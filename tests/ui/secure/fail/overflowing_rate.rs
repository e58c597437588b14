use rampart::secure;

#[secure(get, path = "/notes", scope = "notes:read", rate = "99999999999/min")]
async fn list_notes() -> &'static str {
    "notes"
}

fn main() {}
