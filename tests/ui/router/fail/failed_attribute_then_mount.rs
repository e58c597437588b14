//! A handler whose attribute has errors: every argument at fault is reported, whether it fails
//! to parse or to check (`10/fortnight`), and mounting the handler adds no second error.
use rampart::{Router, secure};

#[secure(get, path = "/notes", scpoe = "notes:read", rate = "10/fortnight", burst = "x")]
async fn list_notes() -> &'static str {
    "[]"
}

fn main() {
    let _router: Router = Router::new().mount(list_notes);
}
