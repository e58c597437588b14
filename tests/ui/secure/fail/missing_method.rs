use rampart::secure;

#[secure(path = "/notes", scope = "notes:read")]
async fn list_notes() -> &'static str {
    "notes"
}

fn main() {}
