use rampart::secure;

#[secure(get, path = "/notes", scope = "notes:read")]
async fn list_notes<T: Default>() -> &'static str {
    "notes"
}

fn main() {}
