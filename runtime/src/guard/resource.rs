//! Checked resources: the last check of the guard, for routes that act on one resource.
//!
//! A route declared with `load = path::to_fn` and a rule (`owner = path::to_fn` or
//! `relation = "type#relation"`) takes a [`Checked<R>`]: before the handler runs, the loader
//! reads the resource (from the path parameters and the state), the rule is applied to it, and
//! the handler receives it only inside `Checked`, which nothing else can build. A missing resource
//! and a caller who may not see it both answer 404, audited; a caller who may see it but whose
//! relation does not allow the operation gets 403.
//!
//! A list route declared with `relation = "type#relation"` and no loader takes a [`Visibility`]:
//! what the caller may see, as values the application's store turns into one query.

use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::audit::{AuditEvent, Decision, RequestContext};
use crate::auth::{BoxFuture, Principal};
use crate::error::Error;
use crate::relations::{OWNER, RelationRule};
use crate::security::{self, Security};

/// A resource a relation applies to: its id within its type, and its owner.
pub trait Resource: Send + 'static {
    /// The id within its type (`42` in `note:42`).
    fn id(&self) -> String;

    /// The qualified subject ([`Principal::qualified_subject`]) of its owner, who holds the
    /// `owner` relation without a tuple; `None` when it has no owner.
    fn owner(&self) -> Option<&str> {
        None
    }
}

/// A resource the guard loaded and checked for the caller. Only the guard builds one: a handler
/// that takes it cannot run without the check having passed.
#[derive(Debug)]
pub struct Checked<R> {
    resource: R,
    principal: Principal,
}

impl<R> Checked<R> {
    /// The resource.
    pub fn into_inner(self) -> R {
        self.resource
    }

    /// The caller the check passed for.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }
}

impl<R> Deref for Checked<R> {
    type Target = R;

    fn deref(&self) -> &R {
        &self.resource
    }
}

/// A loader: an async fn of extractors (path parameters, state) to the resource, `None` when it
/// does not exist. Implemented for such fns of up to four arguments. A loader that takes
/// `State<T>` needs the handler to take `State<T>` too (the attribute learns the route's state
/// from the handler's arguments).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a loader of `{R}`",
    label = "not a loader of `{R}`",
    note = "a loader is an async fn of extractors (`Path<_>`, `State<_>`, ...) returning `Result<Option<{R}>, rampart::Error>`",
    note = "a loader that takes `State<T>` needs the handler to take `State<T>` too: the route's state is known through the handler's arguments"
)]
pub trait Load<S, R, M>: Copy + Send + Sync + 'static {
    /// Runs the extractors, then the fn.
    fn load<'a>(self, parts: &'a mut Parts, state: &'a S) -> BoxFuture<'a, Result<Option<R>, Response>>;
}

macro_rules! load_fn {
    ($($arg:ident),*) => {
        #[allow(non_snake_case, unused_variables, unused_mut)]
        impl<F, Fut, S, R, $($arg,)*> Load<S, R, ($($arg,)*)> for F
        where
            F: Fn($($arg,)*) -> Fut + Copy + Send + Sync + 'static,
            Fut: Future<Output = Result<Option<R>, Error>> + Send,
            S: Send + Sync,
            $($arg: FromRequestParts<S> + Send,)*
        {
            fn load<'a>(self, parts: &'a mut Parts, state: &'a S) -> BoxFuture<'a, Result<Option<R>, Response>> {
                Box::pin(async move {
                    $(let $arg = $arg::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;)*
                    self($($arg,)*).await.map_err(IntoResponse::into_response)
                })
            }
        }
    };
}

load_fn!();
load_fn!(A1);
load_fn!(A1, A2);
load_fn!(A1, A2, A3);
load_fn!(A1, A2, A3, A4);

type LoadFn<S, R> = dyn for<'a> Fn(&'a mut Parts, &'a S) -> BoxFuture<'a, Result<Option<R>, Response>> + Send + Sync;

/// How a loaded resource is checked.
enum Rule<R> {
    /// `owner = f`: `f(caller, resource)` must hold.
    Owner(fn(&Principal, &R) -> bool),
    /// `relation = "..."`: the caller must hold a granting relation.
    Relation { rule: RelationRule, id: fn(&R) -> String, owner: fn(&R) -> Option<&str> },
}

impl<R> Clone for Rule<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for Rule<R> {}

/// What a route declared with `load = ...` installs for its [`Checked`] argument (built by the
/// attribute's expansion).
#[doc(hidden)]
pub struct ResourceRoute<S, R> {
    load: Arc<LoadFn<S, R>>,
    rule: Rule<R>,
}

impl<S, R> Clone for ResourceRoute<S, R> {
    fn clone(&self) -> Self {
        Self { load: Arc::clone(&self.load), rule: self.rule }
    }
}

impl<S: Send + Sync + 'static, R: Send + 'static> ResourceRoute<S, R> {
    fn with<F: Load<S, R, M>, M>(load: F, rule: Rule<R>) -> Self {
        Self { load: Arc::new(move |parts: &mut Parts, state: &S| load.load(parts, state)), rule }
    }

    /// `load = load, owner = allow`.
    pub fn owned<F: Load<S, R, M>, M>(load: F, allow: fn(&Principal, &R) -> bool) -> Self {
        Self::with(load, Rule::Owner(allow))
    }

    /// `load = load, relation = "..."`.
    pub fn related<F: Load<S, R, M>, M>(load: F, rule: RelationRule) -> Self
    where
        R: Resource,
    {
        Self::with(load, Rule::Relation { rule, id: R::id, owner: R::owner })
    }
}

/// How the check ended, when it did not allow.
enum Refusal {
    /// The caller may not know the resource exists.
    Hidden(&'static str),
    /// The caller may see it but not do this.
    Forbidden,
}

fn internal(message: &'static str) -> Response {
    Error::Internal(message.into()).into_response()
}

impl<S, R> FromRequestParts<S> for Checked<R>
where
    S: Send + Sync + 'static,
    R: Send + 'static,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let route = parts.extensions.get::<ResourceRoute<S, R>>().cloned().ok_or_else(|| {
            internal("Checked<R> is built from the attribute's `load = ...`; the route declares none")
        })?;
        let principal = security::verified(parts)
            .cloned()
            .ok_or_else(|| internal("Checked<R> used on an endpoint without authentication"))?;
        let loaded = (route.load)(parts, state).await?;
        let ctx = RequestContext::from_parts(parts);
        let Some(resource) = loaded else {
            AuditEvent::new(&ctx, Decision::Deny, "resource_not_found", 404).principal(&principal).emit();
            return Err(Error::NotFound.into_response());
        };
        let refusal = match route.rule {
            Rule::Owner(allow) => (!allow(&principal, &resource)).then_some(Refusal::Hidden("not_owner")),
            Rule::Relation { rule, id, owner } => {
                let security = security::from_parts(parts).map_err(IntoResponse::into_response)?;
                relation_refusal(&security, &rule, &principal, &id(&resource), owner(&resource)).await?
            }
        };
        match refusal {
            None => Ok(Checked { resource, principal }),
            Some(Refusal::Hidden(reason)) => {
                AuditEvent::new(&ctx, Decision::Deny, reason, 404).principal(&principal).emit();
                Err(Error::NotFound.into_response())
            }
            Some(Refusal::Forbidden) => {
                AuditEvent::new(&ctx, Decision::Deny, "insufficient_relation", 403).principal(&principal).emit();
                Err(Error::Forbidden.into_response())
            }
        }
    }
}

/// Why `principal` may not act on `kind:id` under `rule`, or `None` when it may: a role that
/// holds the relation everywhere, the resource's owner (who holds `owner`), or a tuple.
async fn relation_refusal(
    security: &Security,
    rule: &RelationRule,
    principal: &Principal,
    id: &str,
    owner: Option<&str>,
) -> Result<Option<Refusal>, Response> {
    if rule.roles.iter().any(|role| principal.has_role(role)) {
        return Ok(None);
    }
    let is_owner = owner.is_some_and(|owner| owner == principal.qualified_subject());
    if is_owner && rule.is_granted_by(OWNER) {
        return Ok(None);
    }
    let store = security.relations().ok_or_else(|| {
        internal("a route checks a relation, but no relations store is configured (SecurityBuilder::relations)")
    })?;
    let held = store.held(rule.kind, id, principal.qualified_subject()).await.map_err(|error| {
        tracing::error!(target: "rampart::authz", error = %error, "the relations store failed; refusing");
        Error::Unavailable.into_response()
    })?;
    if held.iter().any(|relation| rule.is_granted_by(relation)) {
        return Ok(None);
    }
    let visible = is_owner || held.iter().any(|relation| rule.relations.contains(&relation.as_str()));
    Ok(Some(if visible { Refusal::Forbidden } else { Refusal::Hidden("no_relation") }))
}

/// What a list route's caller may see, for the store to turn into one query: the caller's own
/// resources (`owner_key`), those on which it holds one of `relations`, or every one
/// (`sees_all`, from a role).
#[derive(Debug, Clone)]
pub struct Visibility {
    principal: Principal,
    rule: RelationRule,
}

impl Visibility {
    /// The caller's qualified subject: its own resources are those it owns, and the tuples name it.
    pub fn subject(&self) -> &str {
        self.principal.qualified_subject()
    }

    /// The resource type.
    pub fn kind(&self) -> &'static str {
        self.rule.kind
    }

    /// The relations (other than `owner`, which the resource's own owner column answers) that let
    /// the caller see a resource: what a list query matches tuples with.
    pub fn relations(&self) -> Vec<&'static str> {
        self.rule.granted_by.iter().copied().filter(|relation| *relation != OWNER).collect()
    }

    /// Whether the caller's role lets it see every resource of the type.
    pub fn sees_all(&self) -> bool {
        self.rule.roles.iter().any(|role| self.principal.has_role(role))
    }

    /// The caller.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }
}

/// What a list route declared with `relation = "..."` and no loader installs for its
/// [`Visibility`] argument.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct ListRule(pub RelationRule);

impl<S: Send + Sync> FromRequestParts<S> for Visibility {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ListRule(rule) = parts.extensions.get::<ListRule>().copied().ok_or_else(|| {
            internal("Visibility is built from the attribute's `relation = ...`; the route declares none")
        })?;
        let principal = security::verified(parts)
            .cloned()
            .ok_or_else(|| internal("Visibility used on an endpoint without authentication"))?;
        Ok(Visibility { principal, rule })
    }
}
