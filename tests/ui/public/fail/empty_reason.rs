use rampart::public;

#[public(get, path = "/health", reason = "  ")]
async fn health() -> &'static str {
    "ok"
}

fn main() {}
