//! A handler whose attribute has errors: the build reports every argument at fault, and mounting
//! the handler adds no second error.
use rampart::{Router, secure};

#[secure(get, path = "/notes", scpoe = "notes:read", rate = "10/fortnight", burst = "x")]
async fn list_notes() -> &'static str {
    "[]"
}

fn main() {
    let _router: Router = Router::new().mount(list_notes);
}
