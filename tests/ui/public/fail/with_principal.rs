use rampart::prelude::*;

#[public(get, path = "/hello", reason = "a greeting for anyone")]
async fn hello(user: Principal) -> String {
    format!("hello {}", user.subject())
}

#[public(get, path = "/hello/maybe", reason = "a greeting for anyone, by name when known")]
async fn hello_maybe(user: Option<Principal>) -> String {
    user.map_or_else(|| "hello".to_owned(), |user| format!("hello {}", user.subject()))
}

fn main() {
    let _ = Router::<()>::new().mount(hello).mount(hello_maybe);
}
