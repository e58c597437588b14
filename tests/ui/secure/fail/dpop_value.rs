//! `dpop` takes "required" only.
use rampart::{Router, secure};

#[secure(get, path = "/ledger", scope = "notes:read", dpop = "optional", rate = "10/min")]
async fn ledger() -> &'static str {
    "ledger"
}

fn main() {
    let _router: Router = Router::new().mount(ledger);
}
