use rampart::secure;

#[secure(get, path = "/notes", scpoe = "notes:read")]
async fn list_notes() -> &'static str {
    "notes"
}

fn main() {}
