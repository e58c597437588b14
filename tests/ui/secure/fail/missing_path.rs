use rampart::secure;

#[secure(get, scope = "notes:read")]
async fn list_notes() -> &'static str {
    "notes"
}

fn main() {}
