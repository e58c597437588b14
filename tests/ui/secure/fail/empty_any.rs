use rampart::secure;

#[secure(get, path = "/notes", any())]
async fn list_notes() -> &'static str {
    "notes"
}

fn main() {}
