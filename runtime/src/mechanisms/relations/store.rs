//! Where relation tuples are kept ([`Relations`]), and what a tuple is ([`Tuple`]).

use crate::auth::BoxFuture;

/// One tuple: `subject` holds `relation` on the object `kind:id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuple<'a> {
    /// The resource type.
    pub kind: &'a str,
    /// The object's id within its type.
    pub id: &'a str,
    /// The relation.
    pub relation: &'a str,
    /// The qualified subject ([`crate::auth::Principal::qualified_subject`]).
    pub subject: &'a str,
}

/// A relations store failed; checks fail closed (503).
#[derive(Debug, thiserror::Error)]
#[error("relations store: {0}")]
pub struct RelationsError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Where relation tuples are kept: [`super::SqlRelations`] (SQLite, PostgreSQL), or an external
/// engine — an OpenFGA-style server maps `held` onto `Check` (or `BatchCheck`), `objects` onto
/// `ListObjects`, and `grant`/`revoke` onto `Write` (see the [module docs](super)).
pub trait Relations: std::fmt::Debug + Send + Sync + 'static {
    /// The relations `subject` holds directly on `kind:id`.
    fn held<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
        subject: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, RelationsError>>;

    /// Adds a tuple (adding it twice is adding it once).
    fn grant<'a>(&'a self, tuple: Tuple<'a>) -> BoxFuture<'a, Result<(), RelationsError>>;

    /// Removes the tuple; whether it was there.
    fn revoke<'a>(&'a self, tuple: Tuple<'a>) -> BoxFuture<'a, Result<bool, RelationsError>>;

    /// Removes every relation `subject` holds on `kind:id`; how many.
    fn revoke_all<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
        subject: &'a str,
    ) -> BoxFuture<'a, Result<u64, RelationsError>>;

    /// Removes every tuple of `kind:id` (when the object is deleted); how many.
    fn forget<'a>(&'a self, kind: &'a str, id: &'a str) -> BoxFuture<'a, Result<u64, RelationsError>>;

    /// The ids of the `kind` objects on which `subject` holds one of `relations`.
    fn objects<'a>(
        &'a self,
        kind: &'a str,
        subject: &'a str,
        relations: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Vec<String>, RelationsError>>;
}
