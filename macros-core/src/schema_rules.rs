//! `#[rampart::schema_rules]`: the garde rules of a struct's fields, written into the `#[schema]`
//! attributes utoipa's `ToSchema` derive reads, so that the OpenAPI document carries what the
//! server enforces. Placed above the derives (attribute macros run before them).
//!
//! | garde | JSON Schema |
//! |---|---|
//! | `length(chars, min, max, equal)` on a string | `minLength` / `maxLength` (characters, as JSON Schema counts) |
//! | `length(min, max)` on a string (bytes) | said in the description: JSON Schema cannot count bytes |
//! | `length(min, max)` on a collection | `minItems` / `maxItems` |
//! | `range(min, max)` | `minimum` / `maximum` |
//! | `pattern("...")` (a literal) | `pattern` |
//! | `ascii` | `pattern` `^[\x00-\x7F]*$` |
//! | `inner(...)` on a `Vec` (or set) of strings | the rules above on `items` |
//! | `email`, `url`, `alphanumeric`, `inner(...)` elsewhere, `custom(...)` | said in the description |
//!
//! A key the field's own `#[schema(...)]` already sets is left as written; a field with
//! `schema_with` or `value_type` describes itself and is left alone. Item rules need a schema
//! function (utoipa's attributes cannot reach `items`): the attribute writes one next to the
//! struct and points the field's `schema_with` at it, unless the field has `#[schema]` keys of
//! its own (then the item rules are said in the description).
//!
//! ```
//! let item = "struct Note { #[garde(length(chars, min = 1, max = 120))] title: String }".parse().unwrap();
//! let out = rampart_macros_core::schema_rules(item).to_string();
//! assert!(out.contains("min_length = 1") && out.contains("max_length = 120"));
//! ```

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Fields, ItemStruct, Lit, Meta, Token, Type};

/// What a field's type is, for the rules that depend on it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Text,
    Collection,
    Other,
}

fn shape(ty: &Type) -> Shape {
    let Type::Path(path) = ty else {
        return if matches!(ty, Type::Reference(_)) { Shape::Text } else { Shape::Other };
    };
    let Some(last) = path.path.segments.last() else { return Shape::Other };
    match last.ident.to_string().as_str() {
        "String" | "str" | "Cow" => Shape::Text,
        "Vec" | "VecDeque" | "HashSet" | "BTreeSet" | "HashMap" | "BTreeMap" | "IndexSet" | "IndexMap" => {
            Shape::Collection
        }
        "Option" | "Box" => match &last.arguments {
            syn::PathArguments::AngleBracketed(args) => args
                .args
                .iter()
                .find_map(|arg| if let syn::GenericArgument::Type(inner) = arg { Some(shape(inner)) } else { None })
                .unwrap_or(Shape::Other),
            _ => Shape::Other,
        },
        _ => Shape::Other,
    }
}

/// The shape of a collection's items (`String` in `Vec<String>` or `Option<Vec<String>>`).
fn item_shape(ty: &Type) -> Option<Shape> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    let inner = args
        .args
        .iter()
        .find_map(|arg| if let syn::GenericArgument::Type(inner) = arg { Some(inner) } else { None })?;
    match last.ident.to_string().as_str() {
        "Vec" | "VecDeque" | "HashSet" | "BTreeSet" | "IndexSet" => Some(shape(inner)),
        "Option" => item_shape(inner),
        _ => None,
    }
}

/// What the rules of one field become.
#[derive(Default)]
struct Translation {
    /// `key = value` pairs for `#[schema(...)]`.
    keys: Vec<(&'static str, TokenStream)>,
    /// Sentences for the description.
    notes: Vec<String>,
    /// The rules of a collection's string items (`inner(...)`), when it has some.
    items: Option<Box<Translation>>,
}

fn usize_of(expr: &Expr) -> Option<usize> {
    match expr {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Int(int) => int.base10_parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

/// Tokens as a person writes them (`a::b(c = 1)`, not `a :: b (c = 1)`).
fn tidy(tokens: &TokenStream) -> String {
    tokens.to_string().replace(" :: ", "::").replace(" (", "(").replace("( ", "(").replace(" )", ")").replace(" ,", ",")
}

fn number(n: usize) -> TokenStream {
    proc_macro2::Literal::usize_unsuffixed(n).into_token_stream()
}

fn translate(rules: &Punctuated<Meta, Token![,]>, shape: Shape, items: Option<Shape>, out: &mut Translation) {
    for rule in rules {
        let name = rule.path().get_ident().map(ToString::to_string).unwrap_or_default();
        match (name.as_str(), rule) {
            ("length", Meta::List(list)) => {
                let Ok(args) = list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) else { continue };
                let mut mode = "simple";
                let (mut min, mut max) = (None, None);
                for arg in &args {
                    match arg {
                        Meta::Path(path) => mode = if path.is_ident("chars") { "chars" } else { "other" },
                        Meta::NameValue(nv) if nv.path.is_ident("min") => min = usize_of(&nv.value),
                        Meta::NameValue(nv) if nv.path.is_ident("max") => max = usize_of(&nv.value),
                        Meta::NameValue(nv) if nv.path.is_ident("equal") => {
                            min = usize_of(&nv.value);
                            max = min;
                        }
                        _ => {}
                    }
                }
                match (shape, mode) {
                    (Shape::Text, "chars") => {
                        min.into_iter().for_each(|n| out.keys.push(("min_length", number(n))));
                        max.into_iter().for_each(|n| out.keys.push(("max_length", number(n))));
                    }
                    (Shape::Collection, "simple") => {
                        min.into_iter().for_each(|n| out.keys.push(("min_items", number(n))));
                        max.into_iter().for_each(|n| out.keys.push(("max_items", number(n))));
                    }
                    (Shape::Text, "simple") => out.notes.push(match (min, max) {
                        (Some(a), Some(b)) => format!("{a} to {b} bytes of UTF-8."),
                        (Some(a), None) => format!("At least {a} bytes of UTF-8."),
                        (None, Some(b)) => format!("At most {b} bytes of UTF-8."),
                        (None, None) => continue,
                    }),
                    _ => out.notes.push(format!("Length rule: `{}`.", list.tokens)),
                }
            }
            ("range", Meta::List(list)) => {
                let Ok(args) = list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) else { continue };
                for arg in &args {
                    if let Meta::NameValue(nv) = arg {
                        let value = &nv.value;
                        if nv.path.is_ident("min") {
                            out.keys.push(("minimum", quote!(#value)));
                        } else if nv.path.is_ident("max") {
                            out.keys.push(("maximum", quote!(#value)));
                        }
                    }
                }
            }
            ("pattern", Meta::List(list)) => match list.parse_args::<syn::LitStr>() {
                Ok(pattern) => out.keys.push(("pattern", pattern.into_token_stream())),
                Err(_) => out.notes.push("Matches a pattern the server defines.".to_owned()),
            },
            ("ascii", Meta::Path(_)) => out.keys.push(("pattern", quote!(r"^[\x00-\x7F]*$"))),
            ("alphanumeric", Meta::Path(_)) => out.notes.push("Letters and digits only (Unicode).".to_owned()),
            ("email", Meta::Path(_)) => out.notes.push("An email address.".to_owned()),
            ("url", Meta::Path(_)) => out.notes.push("A URL.".to_owned()),
            ("inner", Meta::List(list)) => {
                match (items, list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)) {
                    (Some(Shape::Text), Ok(inner)) => {
                        // `Option<Vec<String>>` writes the item rules one `inner` deeper.
                        let rules = match inner.iter().collect::<Vec<_>>().as_slice() {
                            [Meta::List(nested)] if nested.path.is_ident("inner") => {
                                nested.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated).unwrap_or(inner)
                            }
                            _ => inner,
                        };
                        let mut item = Translation::default();
                        translate(&rules, Shape::Text, None, &mut item);
                        out.items = Some(Box::new(item));
                    }
                    _ => out.notes.push(format!("Each item: `{}`.", tidy(&list.tokens))),
                }
            }
            ("custom", Meta::List(list)) => out.notes.push(format!("Checked by `{}`.", tidy(&list.tokens))),
            _ => {}
        }
    }
}

/// The keys a field's own `#[schema(...)]` attributes set.
fn keys_set(attrs: &[Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("schema"))
        .filter_map(|attr| attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated).ok())
        .flat_map(|metas| metas.into_iter().filter_map(|meta| meta.path().get_ident().map(ToString::to_string)))
        .collect()
}

/// Expands `#[rampart::schema_rules]` on `item`.
pub fn schema_rules(item: TokenStream) -> TokenStream {
    let mut item: ItemStruct = match syn::parse2(item) {
        Ok(item) => item,
        Err(error) => {
            return syn::Error::new(error.span(), "#[rampart::schema_rules] goes on a struct with named fields")
                .to_compile_error();
        }
    };
    let Fields::Named(fields) = &mut item.fields else {
        return syn::Error::new_spanned(&item.ident, "#[rampart::schema_rules] goes on a struct with named fields")
            .to_compile_error();
    };
    let mut schema_fns = Vec::new();
    for field in &mut fields.named {
        let mut translation = Translation::default();
        let shape = shape(&field.ty);
        for attr in field.attrs.iter().filter(|attr| attr.path().is_ident("garde")) {
            if let Ok(rules) = attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
                translate(&rules, shape, item_shape(&field.ty), &mut translation);
            }
        }
        let taken = keys_set(&field.attrs);
        if taken.iter().any(|key| key == "schema_with" || key == "value_type") {
            // The field describes its schema itself.
            continue;
        }
        if let Some(items) = translation.items.take() {
            if taken.is_empty() {
                let name = quote::format_ident!(
                    "__rampart_schema_{}_{}",
                    item.ident.to_string().to_lowercase(),
                    field.ident.as_ref().map(ToString::to_string).unwrap_or_default()
                );
                schema_fns.push(array_schema_fn(&name, &field.attrs, &translation, &items));
                field.attrs.push(syn::parse_quote!(#[schema(schema_with = #name)]));
                continue;
            }
            translation.notes.extend(items.notes);
            translation.notes.push("Each item: see the server's rules.".to_owned());
        }
        let mut seen: Vec<&str> = Vec::new();
        let keys: Vec<TokenStream> = translation
            .keys
            .iter()
            .filter(|(key, _)| !taken.iter().any(|t| t == key))
            .filter(|(key, _)| {
                let first = !seen.contains(key);
                seen.push(key);
                first
            })
            .map(|(key, value)| {
                let key = syn::Ident::new(key, proc_macro2::Span::call_site());
                quote!(#key = #value)
            })
            .collect();
        if !keys.is_empty() {
            field.attrs.push(syn::parse_quote!(#[schema(#(#keys),*)]));
        }
        if !translation.notes.is_empty() {
            let note = format!(" {}", translation.notes.join(" "));
            let has_doc = field.attrs.iter().any(|attr| attr.path().is_ident("doc"));
            if has_doc {
                field.attrs.push(syn::parse_quote!(#[doc = ""]));
            }
            field.attrs.push(syn::parse_quote!(#[doc = #note]));
        }
    }
    quote!(#item #(#schema_fns)*)
}

/// A function describing a collection of strings: its own keys (`min_items`, `max_items`), its
/// items' (`min_length`, `max_length`, `pattern`), and its doc comment with the rules said in
/// words as the description.
fn array_schema_fn(name: &syn::Ident, attrs: &[Attribute], outer: &Translation, items: &Translation) -> TokenStream {
    let call = |key: &str| -> syn::Ident { syn::Ident::new(key, proc_macro2::Span::call_site()) };
    let item_keys = items.keys.iter().map(|(key, value)| {
        let method = call(key);
        quote!(.#method(::core::option::Option::Some(#value)))
    });
    let outer_keys =
        outer.keys.iter().filter(|(key, _)| matches!(*key, "min_items" | "max_items")).map(|(key, value)| {
            let method = call(key);
            quote!(.#method(::core::option::Option::Some(#value)))
        });
    let mut description: Vec<String> = attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .filter_map(|attr| match &attr.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit { lit: Lit::Str(text), .. }) => Some(text.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    description.extend(outer.notes.iter().cloned());
    let description = description.join(" ").trim().to_owned();
    let item_description = (!items.notes.is_empty()).then(|| items.notes.join(" "));
    let item_description = item_description.map(|text| quote!(.description(::core::option::Option::Some(#text))));
    let description =
        (!description.is_empty()).then(|| quote!(.description(::core::option::Option::Some(#description))));
    quote! {
        #[doc(hidden)]
        fn #name() -> ::utoipa::openapi::schema::Array {
            ::utoipa::openapi::schema::ArrayBuilder::new()
                .items(
                    ::utoipa::openapi::schema::ObjectBuilder::new()
                        .schema_type(::utoipa::openapi::schema::Type::String)
                        #(#item_keys)*
                        #item_description,
                )
                #(#outer_keys)*
                #description
                .build()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::schema_rules;

    fn expand(item: &str) -> String {
        schema_rules(item.parse().unwrap()).to_string()
    }

    #[test]
    fn each_rule_becomes_its_schema_key_or_a_sentence() {
        let out = expand(
            "struct S {
                #[garde(length(chars, min = 2, max = 9))] name: String,
                #[garde(length(min = 1, max = 64))] raw: String,
                #[garde(length(max = 5), inner(length(chars, max = 3)))] tags: Vec<Tag>,
                #[garde(range(min = 1, max = 100))] limit: Option<u32>,
                #[garde(pattern(r\"^[a-z]+$\"))] slug: String,
                #[garde(ascii)] code: String,
                #[garde(email)] mail: String,
                #[garde(length(chars, max = 9))] #[schema(max_length = 4)] kept: String,
                #[garde(length(max = 9))] #[schema(schema_with = f)] own: Vec<u8>,
            }",
        );
        for expected in [
            "# [schema (min_length = 2 , max_length = 9)] name",
            "# [doc = \" 1 to 64 bytes of UTF-8.\"] raw",
            "# [schema (max_items = 5)]",
            "Each item: `length(chars, max = 3)`.",
            "# [schema (minimum = 1 , maximum = 100)] limit",
            "# [schema (pattern = r\"^[a-z]+$\")] slug",
            "# [doc = \" An email address.\"] mail",
            "# [schema (max_length = 4)] kept",
            "# [schema (schema_with = f)] own",
        ] {
            assert!(out.contains(expected), "{expected}\nin {out}");
        }
        assert!(out.contains("x00-\\\\x7F") || out.contains("x00-\\x7F"), "{out}");
    }

    #[test]
    fn item_rules_of_a_list_of_strings_go_on_its_items() {
        let out = expand(
            "struct Note {
                /// Up to 10 tags.
                #[garde(length(max = 10), inner(length(chars, min = 1, max = 32), pattern(r\"^[a-z]+$\")))]
                tags: Vec<String>,
            }",
        );
        for expected in [
            "# [schema (schema_with = __rampart_schema_note_tags)] tags",
            "fn __rampart_schema_note_tags () -> :: utoipa :: openapi :: schema :: Array",
            ". min_length (:: core :: option :: Option :: Some (1)) . max_length (:: core :: option :: Option :: Some (32)) . pattern (:: core :: option :: Option :: Some (r\"^[a-z]+$\"))",
            ". max_items (:: core :: option :: Option :: Some (10))",
            ". description (:: core :: option :: Option :: Some (\"Up to 10 tags.\"))",
        ] {
            assert!(out.contains(expected), "{expected}\nin {out}");
        }
    }

    #[test]
    fn a_tuple_struct_is_refused_with_what_to_do() {
        assert!(expand("struct S(u32);").contains("goes on a struct with named fields"));
    }
}
