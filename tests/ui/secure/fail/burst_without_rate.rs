use rampart::secure;

#[secure(get, path = "/notes", scope = "notes:read", burst = 20)]
async fn list_notes() -> &'static str {
    "notes"
}

fn main() {}
