//! What the attributes' expansions call: re-exports only. Not a public API: names and signatures
//! may change. The guard itself is [`crate::guard`].

pub use axum::Extension;
pub use axum::extract::{FromRequest, FromRequestParts, Request};
pub use axum::response::{IntoResponse, Response};
pub use axum::routing::MethodRouter;

pub use crate::guard::resource::{ListRule, ResourceRoute};
pub use crate::guard::{Guarded, GuardedFuture, Installation, NoArguments, endpoint_route};
pub use crate::relations::RelationRule;
