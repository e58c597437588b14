//! Relations: who may do what to which resource, as tuples `(object, relation, subject)` —
//! `note:42#editor@jwt:idp#bob` — the model of Google's Zanzibar and of OpenFGA, kept in a
//! [`Relations`] store.
//!
//! The relations of each resource type, and which relation implies which (`owner` ⇒ `editor` ⇒
//! `viewer`), are declared in `rampart.toml`; the attributes check names against it at compile time
//! and carry each route's rule as a [`RelationRule`]. A check reads the tuples one subject holds
//! on one object (one indexed query); a list reads the objects on which one subject holds one of a
//! few relations (one indexed query, or a join in the application's own query: see
//! [`crate::authz::Visibility`]).
//!
//! # An external engine
//!
//! A service whose tuples live in an OpenFGA-style server implements [`Relations`] over its API:
//! [`Relations::held`] is a `Check` per relation of [`RelationRule::granted_by`] (or one
//! `ListRelations`/`BatchCheck` call), [`Relations::objects`] is `ListObjects` with the type, the
//! relation and the user, and [`Relations::grant`]/[`Relations::revoke`] are `Write` calls with
//! one tuple key each. The engine then computes the implication itself from its own model, which
//! must declare the same relations as `rampart.toml`.
//!
//! # Examples
//!
//! ```
//! use rampart::authz::RelationRule;
//!
//! // What `#[secure(..., relation = "note#editor")]` builds from `rampart.toml`'s
//! // `[relations.note] owner = [], editor = ["owner"], viewer = ["editor"]`.
//! const EDIT: RelationRule = RelationRule {
//!     kind: "note",
//!     relation: "editor",
//!     granted_by: &["editor", "owner"],
//!     relations: &["editor", "owner", "viewer"],
//!     roles: &["admin"],
//! };
//! assert!(EDIT.is_granted_by("owner"));
//! assert!(!EDIT.is_granted_by("viewer"));
//! ```

mod rule;
#[cfg(feature = "sql")]
mod sql;
mod store;

pub use rule::{OWNER, RelationRule};
#[cfg(feature = "sql")]
pub use sql::{SqlRelations, TABLE};
pub use store::{Relations, RelationsError, Tuple};
