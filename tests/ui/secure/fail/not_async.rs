use rampart::secure;

#[secure(get, path = "/notes", scope = "notes:read")]
fn list_notes() -> &'static str {
    "notes"
}

fn main() {}
