//! `auth` names `bearer`, `dpop` or `api_key`, each once, and is not combined with `dpop`.
use rampart::{Router, secure};

#[secure(get, path = "/reports", scope = "notes:read", auth = ["apikey", "bearer", "bearer"], rate = "10/min")]
async fn reports() -> &'static str {
    "reports"
}

#[secure(get, path = "/ledger", scope = "notes:read", auth = ["dpop"], dpop = "required", rate = "10/min")]
async fn ledger() -> &'static str {
    "ledger"
}

#[secure(get, path = "/exports", scope = "notes:read", auth = [], rate = "10/min")]
async fn exports() -> &'static str {
    "exports"
}

fn main() {
    let _router: Router = Router::new().mount(reports).mount(ledger).mount(exports);
}
