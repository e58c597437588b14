use rampart::secure;

#[secure(get, path = "/notes", scope = [])]
async fn list_notes() -> &'static str {
    "notes"
}

fn main() {}
