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

/// See `rampart::schema_rules`.
#[proc_macro_attribute]
pub fn schema_rules(args: TokenStream, item: TokenStream) -> TokenStream {
    if !args.is_empty() {
        let args: proc_macro2::TokenStream = args.into();
        return syn_error(args, "#[rampart::schema_rules] takes no arguments");
    }
    rampart_macros_core::schema_rules(item.into()).into()
}

fn syn_error(at: proc_macro2::TokenStream, message: &str) -> TokenStream {
    let span = at.into_iter().next().map_or_else(proc_macro2::Span::call_site, |t| t.span());
    quote::quote_spanned!(span=> ::core::compile_error!(#message);).into()
}

/// The file of the annotated item, to find the project's `rampart.toml` next to it.
fn source_file() -> Option<std::path::PathBuf> {
    proc_macro::Span::call_site().local_file()
}
