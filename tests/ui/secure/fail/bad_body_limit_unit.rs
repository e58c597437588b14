use rampart::secure;

#[secure(post, path = "/notes", scope = "notes:write", body_limit = "1GB")]
async fn create_note() -> &'static str {
    "created"
}

fn main() {}
