//! [`Spec`] + the handler -> tokens. Cannot fail.
//!
//! The attribute replaces `async fn name(...)` by a unit struct `name` that carries the declared
//! contract (`name::INFO`) and implements `rampart::Endpoint` and `rampart::EndpointHandler`. The
//! handler body is kept verbatim as `name::__rampart_handler`, an ordinary axum handler; the
//! expansion holds no async code of its own. `rampart::__private::endpoint_route` puts the guard
//! layer in front of it, which runs authentication, authorization and the rate limit before axum
//! extracts any argument. The impl's where-clause carries the extractor bounds (and
//! `ValidatedBody` for bodies), so type errors land on the user's argument types.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ItemFn;
use syn::spanned::Spanned;

use super::choices::Accepted;
use super::model::{ResourceCheck, Spec};
use super::parse::{Kind, PolicyExpr};
use crate::registry::ResolvedRelation;

fn policy_expr(expr: &PolicyExpr) -> TokenStream {
    match expr {
        PolicyExpr::Scope(lit) => quote!(::rampart::authz::Policy::Scope(#lit)),
        PolicyExpr::Role(lit) => quote!(::rampart::authz::Policy::Role(#lit)),
        PolicyExpr::All(inner, _) => {
            let inner = inner.iter().map(policy_expr);
            quote!(::rampart::authz::Policy::All(&[#(#inner),*]))
        }
        PolicyExpr::Any(inner, _) => {
            let inner = inner.iter().map(policy_expr);
            quote!(::rampart::authz::Policy::Any(&[#(#inner),*]))
        }
    }
}

fn access(spec: &Spec) -> TokenStream {
    match spec.kind {
        Kind::Public => {
            let reason = &spec.reason;
            quote!(::rampart::Access::Public { reason: #reason })
        }
        Kind::Secure => {
            let policy = match spec.policy.as_slice() {
                [] => quote!(::rampart::authz::Policy::Authenticated),
                [one] => policy_expr(one),
                several => {
                    let all = several.iter().map(policy_expr);
                    quote!(::rampart::authz::Policy::All(&[#(#all),*]))
                }
            };
            quote!(::rampart::Access::Secured(#policy))
        }
    }
}

fn opt_str(value: Option<&String>) -> TokenStream {
    match value {
        Some(text) => quote!(::core::option::Option::Some(#text)),
        None => quote!(::core::option::Option::None),
    }
}

/// The registry as `rampart::contract::Registry`: what the lockfile lists beside the endpoints.
fn registry(spec: &Spec) -> TokenStream {
    let Some(registry) = &spec.registry else { return quote!(::core::option::Option::None) };
    let scopes = registry.scopes.iter().map(|(scope, _)| scope);
    let roles = &registry.roles;
    let relations = registry.relations.iter().map(|(kind, relations)| {
        let entries = relations.iter().map(|(relation, implied_by)| quote!((#relation, &[#(#implied_by),*])));
        quote!((#kind, &[#(#entries),*]))
    });
    let grants = registry.grants.iter().map(|(kind, role, relation)| quote!((#kind, #role, #relation)));
    quote!(::core::option::Option::Some(&::rampart::contract::Registry {
        scopes: &[#(#scopes),*],
        roles: &[#(#roles),*],
        relations: &[#(#relations),*],
        grants: &[#(#grants),*],
    }))
}

fn info(spec: &Spec, name: &syn::Ident) -> TokenStream {
    let method = spec.method.0.variant(spec.method.1);
    let path = &spec.path;
    let access = access(spec);
    let rate = match &spec.rate {
        None => quote!(::core::option::Option::None),
        Some(rate) => {
            let (count, period, burst) = (rate.count, rate.period_secs, rate.burst);
            let key = rate.key.variant();
            quote!(::core::option::Option::Some(::rampart::RateSpec {
                count: #count, period_secs: #period, burst: #burst, key: ::rampart::RateKey::#key,
            }))
        }
    };
    let owner = opt_str(spec.owner.as_ref().map(|p| quote!(#p).to_string().replace(' ', "")).as_ref());
    let load = opt_str(
        spec.resource
            .as_ref()
            .and_then(|check| match check {
                ResourceCheck::Owned { load, .. } | ResourceCheck::Related { load, .. } => {
                    Some(quote!(#load).to_string().replace(' ', ""))
                }
                ResourceCheck::Listed { .. } => None,
            })
            .as_ref(),
    );
    let relation = opt_str(
        spec.resource
            .as_ref()
            .and_then(|check| match check {
                ResourceCheck::Related { relation, .. } | ResourceCheck::Listed { relation } => {
                    Some(format!("{}#{}", relation.kind, relation.relation))
                }
                ResourceCheck::Owned { .. } => None,
            })
            .as_ref(),
    );
    let tags = &spec.tags;
    let (described, descriptions): (Vec<&String>, Vec<&String>) =
        spec.scope_descriptions.iter().map(|(scope, description)| (scope, description)).unzip();
    let operation_id = &spec.operation_id;
    let summary = opt_str(spec.summary.as_ref());
    let description = opt_str(spec.description.as_ref());
    let deprecated = spec.deprecated;
    let body_limit = spec.body_limit;
    let handler = name.to_string();
    let status = spec.status;
    let Accepted { bearer, dpop, api_key } = spec.accepts;
    let validate = spec.validate;
    let registry = registry(spec);
    let timeout = match spec.timeout_ms {
        Some(ms) => quote!(::core::option::Option::Some(::core::time::Duration::from_millis(#ms))),
        None => quote!(::core::option::Option::None),
    };
    quote! {
        ::rampart::EndpointInfo {
            handler: #handler,
            method: ::rampart::Method::#method,
            path: #path,
            access: #access,
            rate: #rate,
            owner: #owner,
            load: #load,
            relation: #relation,
            tags: &[#(#tags),*],
            scope_descriptions: &[#((#described, #descriptions)),*],
            operation_id: #operation_id,
            summary: #summary,
            description: #description,
            deprecated: #deprecated,
            body_limit: #body_limit,
            module: ::core::module_path!(),
            file: ::core::file!(),
            validate: #validate,
            registry: #registry,
            status: #status,
            timeout: #timeout,
            accepts: ::rampart::Accepts { bearer: #bearer, dpop: #dpop, api_key: #api_key },
            openapi: #name::__rampart_openapi,
        }
    }
}

/// Generates the endpoint for `func` according to `spec`.
pub(crate) fn endpoint(spec: &Spec, func: ItemFn) -> TokenStream {
    let ItemFn { attrs, vis, sig, block } = func;
    let name = sig.ident.clone();
    let (docs, other_attrs): (Vec<_>, Vec<_>) =
        attrs.into_iter().filter(|a| !a.path().is_ident("deprecated")).partition(|a| a.path().is_ident("doc"));
    let info = info(spec, &name);
    let mut inner_sig = sig.clone();
    inner_sig.ident = format_ident!("__rampart_handler", span = sig.ident.span());

    // axum extracts the handler's arguments itself, after the guard: the impl only needs their
    // extractor bounds (checked by rustc, with errors on the user's types).
    let last = spec.arg_types.len().checked_sub(1);
    let bounds = spec.arg_types.iter().enumerate().map(|(i, ty)| {
        if Some(i) == last && !is_state(ty) {
            quote_spanned!(ty.span()=> #ty: ::rampart::__private::FromRequest<__S, __M>)
        } else if Some(i) == last {
            // A `State<T>` last is read from the parts too: a loader may take the same state.
            quote_spanned!(ty.span()=> #ty: ::rampart::__private::FromRequest<__S, __M> + ::rampart::__private::FromRequestParts<__S>)
        } else {
            quote_spanned!(ty.span()=> #ty: ::rampart::__private::FromRequestParts<__S>)
        }
    });
    let (impl_generics, marker, marker_bound) = if last.is_some() {
        (quote!(<__S, __M>), quote!(__M), quote!(__M: 'static,))
    } else {
        (quote!(<__S>), quote!(::rampart::__private::NoArguments), quote!())
    };
    // Every request body must be validated before the handler sees it (unless opted out).
    let body_bounds = spec
        .arg_types
        .iter()
        .filter(|ty| spec.validate && is_body_extractor(ty))
        .map(|ty| quote_spanned!(ty.span()=> #ty: ::rampart::validate::ValidatedBody));
    let resource_layer = spec.resource.as_ref().map(resource_layer);
    let openapi = openapi_fn(spec);
    let registry_tracking = spec.registry_file.as_ref().map(|file| {
        quote!(
            const _: &str = ::core::include_str!(#file);
        )
    });

    quote! {
        #(#docs)*
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug)]
        #vis struct #name;

        impl #name {
            /// The security contract declared by the attribute.
            #vis const INFO: ::rampart::EndpointInfo = #info;

            #[doc(hidden)]
            #(#other_attrs)*
            #inner_sig #block

            #openapi
        }

        #registry_tracking

        impl ::rampart::Endpoint for #name {
            fn info(self) -> &'static ::rampart::EndpointInfo {
                &Self::INFO
            }
        }

        impl #impl_generics ::rampart::EndpointHandler<__S, #marker> for #name
        where
            __S: ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync + 'static,
            #marker_bound
            #(#bounds,)*
            #(#body_bounds,)*
        {
            fn method_router(
                self,
                info: &'static ::rampart::EndpointInfo,
                installation: &::rampart::__private::Installation,
            ) -> ::rampart::__private::MethodRouter<__S> {
                ::rampart::__private::endpoint_route(info, Self::__rampart_handler, installation) #resource_layer
            }
        }
    }
}

/// `State<...>`, whichever crate it comes from.
fn is_state(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "State"))
}

/// `Json<...>` or `Form<...>`, whichever crate they come from.
fn is_body_extractor(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Json" || s.ident == "Form"))
}

/// The `.layer(...)` that installs a route's resource check for its `Checked<R>` or `Visibility`
/// argument.
fn resource_layer(check: &ResourceCheck) -> TokenStream {
    match check {
        ResourceCheck::Owned { load, owner, resource } => quote_spanned! {load.span()=>
            .layer(::rampart::__private::Extension(
                ::rampart::__private::ResourceRoute::<__S, #resource>::owned(#load, #owner),
            ))
        },
        ResourceCheck::Related { load, relation, resource } => {
            let rule = relation_rule(relation);
            quote_spanned! {load.span()=>
                .layer(::rampart::__private::Extension(
                    ::rampart::__private::ResourceRoute::<__S, #resource>::related(#load, #rule),
                ))
            }
        }
        ResourceCheck::Listed { relation } => {
            let rule = relation_rule(relation);
            quote!(.layer(::rampart::__private::Extension(::rampart::__private::ListRule(#rule))))
        }
    }
}

fn relation_rule(relation: &ResolvedRelation) -> TokenStream {
    let ResolvedRelation { kind, relation, granted_by, relations, roles } = relation;
    quote!(::rampart::__private::RelationRule {
        kind: #kind,
        relation: #relation,
        granted_by: &[#(#granted_by),*],
        relations: &[#(#relations),*],
        roles: &[#(#roles),*],
    })
}

/// `__rampart_openapi`: describes the arguments and the response from their types (see
/// `rampart::openapi::__private::Probe` for how the most specific description is picked).
fn openapi_fn(spec: &Spec) -> TokenStream {
    let args =
        spec.arg_types.iter().map(|ty| quote!((&&&::rampart::openapi::__private::Probe::<#ty>::new()).describe(doc);));
    let response = spec.response_body.as_ref().map(|ty| {
        quote!((&&&::rampart::openapi::__private::Probe::<::rampart::openapi::__private::Response<#ty>>::new()).describe(doc);)
    });
    let returns = spec.return_type.as_ref().map(|ty| {
        quote!((&&&::rampart::openapi::__private::Probe::<::rampart::openapi::__private::Returns<#ty>>::new()).describe(doc);)
    });
    quote! {
        #[doc(hidden)]
        #[allow(unused_variables)]
        fn __rampart_openapi(doc: &mut ::rampart::openapi::OperationDoc) {
            #[allow(unused_imports)]
            use ::rampart::openapi::__private::{DescribeNothing as _, DescribeTyped as _, DescribeUntyped as _};
            #(#args)*
            #response
            #returns
        }
    }
}
