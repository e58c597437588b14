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
//! | `email`, `url`, `alphanumeric`, `inner(...)`, `custom(...)` | said in the description |
//!
//! A key the field's own `#[schema(...)]` already sets is left as written; a field with
//! `schema_with` or `value_type` describes itself and is left alone.
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

/// What the rules of one field become.
#[derive(Default)]
struct Translation {
    /// `key = value` pairs for `#[schema(...)]`.
    keys: Vec<(&'static str, TokenStream)>,
    /// Sentences for the description.
    notes: Vec<String>,
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

fn translate(rules: &Punctuated<Meta, Token![,]>, shape: Shape, out: &mut Translation) {
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
            ("inner", Meta::List(list)) => out.notes.push(format!("Each item: `{}`.", tidy(&list.tokens))),
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
    for field in &mut fields.named {
        let mut translation = Translation::default();
        let shape = shape(&field.ty);
        for attr in field.attrs.iter().filter(|attr| attr.path().is_ident("garde")) {
            if let Ok(rules) = attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
                translate(&rules, shape, &mut translation);
            }
        }
        let taken = keys_set(&field.attrs);
        if taken.iter().any(|key| key == "schema_with" || key == "value_type") {
            // The field describes its schema itself.
            continue;
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
    item.into_token_stream()
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
                #[garde(length(max = 5), inner(length(chars, max = 3)))] tags: Vec<String>,
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
    fn a_tuple_struct_is_refused_with_what_to_do() {
        assert!(expand("struct S(u32);").contains("goes on a struct with named fields"));
    }
}
