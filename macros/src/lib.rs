//! Procedural macros of Rampart. Use them through the `rampart` crate, which documents them
//! (`rampart::secure`, `rampart::public`). The work is done by `rampart-macros-core`; this crate
//! only hands it the tokens and the annotated file.

use proc_macro::TokenStream;
use rampart_macros_core::Kind;

/// See `rampart::secure`.
#[proc_macro_attribute]
pub fn secure(args: TokenStream, item: TokenStream) -> TokenStream {
    rampart_macros_core::expand(Kind::Secure, args.into(), item.into(), source_file()).into()
}

/// See `rampart::public`.
#[proc_macro_attribute]
pub fn public(args: TokenStream, item: TokenStream) -> TokenStream {
    rampart_macros_core::expand(Kind::Public, args.into(), item.into(), source_file()).into()
}

/// The file of the annotated item, to find the project's `rampart.toml` next to it.
fn source_file() -> Option<std::path::PathBuf> {
    proc_macro::Span::call_site().local_file()
}
