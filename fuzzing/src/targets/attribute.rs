//! The parse, check and expand stages of `#[secure]`/`#[public]`, and the `rate` grammar.

use std::path::PathBuf;
use std::str::FromStr as _;

use proc_macro2::TokenStream;
use rampart_macros_core::{Kind, expand, parse_rate};

/// Handlers the arguments are applied to, chosen by the input's length: no inputs, typed inputs
/// with a path parameter, and an ownership check.
const HANDLERS: [&str; 3] = [
    "async fn handler() -> &'static str { \"ok\" }",
    "async fn handler(user: Principal, Path(id): Path<u64>, Valid(Json(body)): Valid<Json<Body>>) -> Json<Out> { todo() }",
    "async fn handler(Owned(note): Owned<Note>) -> Result<Json<Note>, Error> { Ok(Json(note)) }",
];

/// The input is the attribute's argument text (`get, path = "/x", scope = "a", rate = "1/s"`);
/// after a line `#item`, the rest replaces the handler. The expansion of a handler that parses
/// must itself parse as Rust items, whatever the arguments: an error is a `compile_error!`,
/// never malformed output. The whole input is also read as a rate.
pub fn attribute(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    check_rate(text);
    let (args, item) = match text.split_once("\n#item\n") {
        Some((args, item)) => (args, item),
        None => (text, HANDLERS[text.len() % HANDLERS.len()]),
    };
    let (Ok(args), Ok(item)) = (TokenStream::from_str(args), TokenStream::from_str(item)) else { return };
    let item_is_fn = syn::parse2::<syn::ItemFn>(item.clone()).is_ok();
    // A file in no project: no `rampart.toml` is found, whatever directory the fuzzer runs in.
    let nowhere = Some(PathBuf::from("/nonexistent/rampart-fuzz/src/lib.rs"));
    for kind in [Kind::Secure, Kind::Public] {
        let out = expand(kind, args.clone(), item.clone(), nowhere.clone());
        if item_is_fn && let Err(err) = syn::parse2::<syn::File>(out.clone()) {
            panic!("the expansion is not Rust ({err}):\n{out}");
        }
    }
}

fn check_rate(text: &str) {
    match parse_rate(text) {
        Ok(rate) => {
            assert!(rate.count > 0, "a zero rate was accepted from {text:?}");
            assert!([1, 60, 3600, 86_400].contains(&rate.period_secs), "odd period from {text:?}");
        }
        Err(message) => assert!(!message.is_empty(), "a refusal without a reason for {text:?}"),
    }
}
