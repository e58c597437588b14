use rampart::secure;

#[secure(get, path = "/notes/{id}", scope = "notes:read")]
async fn get_note() -> &'static str {
    "note"
}

fn main() {}
