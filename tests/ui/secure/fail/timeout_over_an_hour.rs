use rampart::secure;

#[secure(get, path = "/export", scope = "reports:read", timeout = "90min")]
async fn export() -> &'static str {
    "export"
}

fn main() {}
