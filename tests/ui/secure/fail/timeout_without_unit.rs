use rampart::secure;

#[secure(get, path = "/report", scope = "reports:read", timeout = "5")]
async fn report() -> &'static str {
    "report"
}

fn main() {}
