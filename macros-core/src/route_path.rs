//! Route paths in axum 0.8 syntax: `/notes/{id}`, `/files/{*rest}`.

/// The parameter names of a path, or what is wrong with it.
pub(crate) fn path_params(path: &str) -> Result<Vec<String>, String> {
    if !path.starts_with('/') {
        return Err(format!("the path `{path}` must start with `/`"));
    }
    if path.contains(['?', '#', ' ']) {
        return Err("the path must not contain `?`, `#` or spaces".into());
    }
    let mut params = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| format!("unclosed `{{` in `{path}`"))?;
        let name = after[..close].trim_start_matches('*');
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`{{{}}}` is not a path parameter; write `{{name}}`", &after[..close]));
        }
        if params.iter().any(|p| p == name) {
            return Err(format!("the path parameter `{name}` appears twice"));
        }
        params.push(name.to_owned());
        rest = &after[close + 1..];
    }
    if rest.contains('}') || path.contains(":") && path.split('/').any(|s| s.starts_with(':')) {
        return Err("use axum 0.8 path syntax: `/notes/{id}`, not `/notes/:id`".into());
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        assert_eq!(path_params("/notes/{id}").unwrap(), ["id"]);
        assert_eq!(path_params("/a/{x}/b/{*rest}").unwrap(), ["x", "rest"]);
        assert!(path_params("notes").is_err());
        assert!(path_params("/notes/:id").unwrap_err().contains("axum 0.8"));
        assert!(path_params("/notes/{id").is_err());
        assert!(path_params("/notes/{}").is_err());
        assert!(path_params("/{a}/{a}").is_err());
    }
}
