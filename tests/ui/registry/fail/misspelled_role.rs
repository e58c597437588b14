use rampart::secure;

#[secure(delete, path = "/notes", any(role = "admn", scope = "notes:write"))]
async fn delete_notes() -> &'static str {
    "deleted"
}

fn main() {}
