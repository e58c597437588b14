//! Prints the notes service's OpenAPI document: `cargo run -p notes --example openapi`.

fn main() {
    print!("{}", rampart::openapi::to_json(&notes::openapi()));
}
