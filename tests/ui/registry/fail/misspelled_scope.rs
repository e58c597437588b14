use rampart::secure;

#[secure(post, path = "/notes", scope = "notes:wirte")]
async fn create_note() -> &'static str {
    "created"
}

fn main() {}
