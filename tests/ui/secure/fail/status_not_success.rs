use rampart::prelude::*;

#[secure(post, path = "/notes", scope = "notes:write", status = 404)]
async fn create(_user: Principal) -> &'static str {
    "created"
}

fn main() {}
