use rampart::secure;

#[secure(post, path = "/notes", scope = "notes:write", validate = true)]
async fn create_note() -> &'static str {
    "created"
}

fn main() {}
