use rampart::public;

#[public(get, path = "/health", reason = "probes", scope = "health:read")]
async fn health() -> &'static str {
    "ok"
}

fn main() {}
