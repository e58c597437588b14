//! Collects every error of an attribute, then reports them together.

/// Accumulated errors, combined into one `syn::Error` (each keeps its span).
#[derive(Default)]
pub(crate) struct Errors {
    all: Option<syn::Error>,
    /// Some arguments did not parse: an argument reported missing may be one of them, so such
    /// reports are left out (they would be follow-on errors).
    partial: bool,
}

impl Errors {
    /// Starts from the errors of an earlier stage, if any.
    pub(crate) fn after(earlier: Option<syn::Error>) -> Self {
        Self { partial: earlier.is_some(), all: earlier }
    }

    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.all {
            Some(all) => all.combine(error),
            None => self.all = Some(error),
        }
    }

    /// A required argument is missing (reported unless some argument failed to parse).
    pub(crate) fn missing(&mut self, message: impl std::fmt::Display) {
        if !self.partial {
            self.push(syn::Error::new(proc_macro2::Span::call_site(), message));
        }
    }

    pub(crate) fn spanned(&mut self, tokens: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.all.map_or(Ok(()), Err)
    }

    /// The errors so far, if any.
    pub(crate) fn into_error(self) -> Option<syn::Error> {
        self.all
    }
}

/// The closest candidate within an edit distance of 2 (for "did you mean" hints).
pub(crate) fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (levenshtein(input, candidate), candidate))
        .filter(|(distance, _)| *distance <= 2.max(input.len() / 4))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(closest("scpoe", ["scope", "role", "rate"]), Some("scope"));
        assert_eq!(closest("notes:wirte", ["notes:read", "notes:write"]), Some("notes:write"));
        assert_eq!(closest("xyz", ["scope", "role"]), None);
    }
}
