use rampart::secure;

#[secure(get, path = "/notes", scope = "notes:read", rate = "0/min")]
async fn list_notes() -> &'static str {
    "notes"
}

fn main() {}
