use rampart::public;

#[public(get, path = "/health")]
async fn health() -> &'static str {
    "ok"
}

fn main() {}
