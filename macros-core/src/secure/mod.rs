//! `#[secure]` and `#[public]`: parse -> model -> expand.

mod choices;
mod expand;
pub(crate) mod model;
pub(crate) mod parse;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use crate::registry;
pub use parse::Kind;

/// Expands one attribute. On error, the errors come with a stand-in endpoint of the same name
/// (see `fallback`), so that the build fails with the attribute's own messages only.
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
        .map(|func| {
            // The model checks what parsed even when some arguments did not, so that every
            // mistake of the attribute is reported at once.
            let (args, parse_errors) = parse::Args::parse(kind, args);
            let spec = match registry::find(source_file) {
                Ok(registry) => model::Spec::new(kind, args, &func, registry.as_ref(), parse_errors),
                Err(message) => {
                    let mut errors = crate::errors::Errors::after(parse_errors);
                    errors.push(syn::Error::new(proc_macro2::Span::call_site(), message));
                    Err(errors.into_error().unwrap_or_else(|| syn::Error::new(proc_macro2::Span::call_site(), "")))
                }
            };
            match spec {
                Ok(spec) => expand::endpoint(&spec, func),
                Err(err) => fallback(&err, func),
            }
        });
    result.unwrap_or_else(|err| {
        let err = err.into_compile_error();
        quote! { #err #item }
    })
}

/// The attribute's errors, with a stand-in for the endpoint it would have made (as thiserror
/// emits a fallback impl): a unit struct of the handler's name implementing `Endpoint` and
/// `EndpointHandler`, so that `Router::mount(handler)` adds no second, misleading error ("has no
/// security policy"). The handler's body stays, in a hidden method, so that its own errors are
/// still reported. The stand-in never runs: the build fails on the errors.
fn fallback(err: &syn::Error, func: ItemFn) -> TokenStream {
    let errors = err.to_compile_error();
    let ItemFn { attrs, vis, mut sig, block } = func;
    // Another attribute of ours on the same handler (itself an error) is dropped with the item:
    // its import is used here, so that it adds no "unused import" warning to the errors.
    let other_attributes = attrs
        .iter()
        .map(syn::Attribute::path)
        .filter(|path| path.segments.last().is_some_and(|last| last.ident == "secure" || last.ident == "public"));
    let name = sig.ident.clone();
    sig.ident = quote::format_ident!("__rampart_handler", span = name.span());
    quote! {
        #errors

        #(const _: () = { #[allow(unused_imports)] use #other_attributes as _; };)*

        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug)]
        #vis struct #name;

        impl #name {
            #[doc(hidden)]
            #[allow(dead_code, unused_variables)]
            #sig #block
        }

        impl ::rampart::Endpoint for #name {
            fn info(self) -> &'static ::rampart::EndpointInfo {
                ::core::unreachable!("the attribute of this handler did not compile")
            }
        }

        impl<__S> ::rampart::EndpointHandler<__S, ::rampart::__private::NoArguments> for #name
        where
            __S: ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync + 'static,
        {
            fn method_router(
                self,
                _: &'static ::rampart::EndpointInfo,
                _: &::rampart::__private::Installation,
            ) -> ::rampart::__private::MethodRouter<__S> {
                ::core::unreachable!("the attribute of this handler did not compile")
            }
        }
    }
}
