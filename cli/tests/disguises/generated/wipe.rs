/// Wipe everything.
#[public(post, path = "/admin/wipe", reason = "cleanup")]
pub async fn wipe() -> &'static str {
    "wiped"
}
