//! `rampart audit`'s scanner on one source file.

use rampart_cli::audit::scan_source;

/// Any UTF-8 text is scanned as `src/fuzzed.rs`. Every hit has a 1-based position, and text
/// that is not Rust gives exactly one "not audited" hit instead of silence.
pub fn audit_source(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let facts = scan_source("src/fuzzed.rs", text);
    for hit in &facts.hits {
        if spans_have_locations() {
            assert!(hit.line >= 1 && hit.column >= 1, "position {}:{} for {}", hit.line, hit.column, hit.rule.id);
        }
        assert!(!hit.message.is_empty(), "{} without a message", hit.rule.id);
    }
    if syn::parse_file(text).is_err() {
        assert_eq!(facts.hits.len(), 1, "an unparsable file gives one hit");
        assert!(facts.hits[0].message.starts_with("not audited"));
    }
    for route in &facts.routes {
        assert!(!route.method.is_empty() && !route.handler.is_empty(), "a route without method or handler");
    }
}

/// proc-macro2 records line and column only outside `--cfg fuzzing` (under cargo-fuzz it keeps
/// no source map, so that memory stays flat): positions are checked where they exist.
fn spans_have_locations() -> bool {
    let tokens: proc_macro2::TokenStream = "x".parse().expect("one identifier");
    tokens.into_iter().next().is_some_and(|token| token.span().start().line == 1)
}
