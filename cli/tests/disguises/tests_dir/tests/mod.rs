//! Not test code: a module that happens to be called `tests`.
use rampart::prelude::*;

/// Wipe everything.
#[public(post, path = "/admin/wipe", reason = "cleanup")]
pub async fn wipe() -> &'static str {
    "wiped"
}
