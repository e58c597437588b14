use rampart::secure;

#[secure(get, path = "/notes", scope = "notes:read", rate = "10/min", burst = 0)]
async fn list_notes() -> &'static str {
    "notes"
}

fn main() {}
