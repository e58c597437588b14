//! The project's registry (`rampart.toml`) as the attribute read it: the scopes, roles,
//! relations and grants an endpoint's contract was checked against, carried by every
//! [`EndpointInfo`](super::EndpointInfo) so that the security lockfile lists the registry the
//! compiled code used, not a file a reader might find.

/// The relations of one resource type: each relation with the relations that imply it directly.
pub type TypeRelations = &'static [(&'static str, &'static [&'static str])];

/// The declarations of a `rampart.toml`, as constants.
///
/// # Examples
///
/// ```
/// use rampart::contract::Registry;
///
/// const NOTES: Registry = Registry {
///     scopes: &["notes:read"],
///     roles: &["admin"],
///     relations: &[("note", &[("owner", &[]), ("viewer", &["owner"])])],
///     grants: &[("note", "admin", "owner")],
/// };
/// assert_eq!(NOTES.relations[0].1[1], ("viewer", &["owner"][..]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registry {
    /// The declared scopes.
    pub scopes: &'static [&'static str],
    /// The declared roles.
    pub roles: &'static [&'static str],
    /// Resource type -> each relation with the relations that imply it directly.
    pub relations: &'static [(&'static str, TypeRelations)],
    /// (resource type, role, the relation the role holds on every object of the type).
    pub grants: &'static [(&'static str, &'static str, &'static str)],
}
