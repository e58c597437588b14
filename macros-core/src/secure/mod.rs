//! `#[secure]` and `#[public]`: parse -> model -> expand.

mod expand;
mod model;
pub(crate) mod parse;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use crate::registry;
pub use parse::Kind;

/// Expands one attribute. On error, the user's item is kept next to the error so that the build
/// fails with a precise message while IDEs keep resolving the function.
pub fn expand(
    kind: Kind,
    args: TokenStream,
    item: TokenStream,
    source_file: Option<std::path::PathBuf>,
) -> TokenStream {
    let result = syn::parse2::<ItemFn>(item.clone())
        .map_err(|err| {
            syn::Error::new(
                err.span(),
                format!("#[{}] applies to an `async fn` handler, not to this item", kind.name()),
            )
        })
        .and_then(|func| {
            let args = parse::Args::parse(kind, args)?;
            let registry = registry::find(source_file)
                .map_err(|message| syn::Error::new(proc_macro2::Span::call_site(), message))?;
            let spec = model::Spec::new(kind, args, &func, registry.as_ref())?;
            Ok(expand::endpoint(&spec, func))
        });
    result.unwrap_or_else(|err| {
        let err = err.into_compile_error();
        quote! { #err #item }
    })
}
