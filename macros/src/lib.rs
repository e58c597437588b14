//! Procedural macros of Rampart. Use them through the `rampart` crate, which documents them
//! (`rampart::secure`, `rampart::public`).

mod errors;
mod rate;
mod registry;
mod route_path;
mod secure;

use proc_macro::TokenStream;

/// See `rampart::secure`.
#[proc_macro_attribute]
pub fn secure(args: TokenStream, item: TokenStream) -> TokenStream {
    secure::expand(secure::Kind::Secure, args.into(), item.into(), source_file()).into()
}

/// See `rampart::public`.
#[proc_macro_attribute]
pub fn public(args: TokenStream, item: TokenStream) -> TokenStream {
    secure::expand(secure::Kind::Public, args.into(), item.into(), source_file()).into()
}

/// The file of the annotated item, to find the project's `rampart.toml` next to it.
fn source_file() -> Option<std::path::PathBuf> {
    proc_macro::Span::call_site().local_file()
}
