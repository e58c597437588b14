//! What the remote checks (JWKS fetches, introspection) share: a response body read up to a bound.

/// The body of `response`, or `None` as soon as it would pass `max` bytes (the rest is not read).
///
/// # Errors
///
/// The connection failed or timed out while reading.
pub(super) async fn body_within(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}
