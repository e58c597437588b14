//! One module per fuzz target.

mod attribute;
mod audit_source;
mod bearer_jwt;
mod oauth_form;
mod problem;

pub use attribute::attribute;
pub use audit_source::audit_source;
pub use bearer_jwt::bearer_jwt;
pub use oauth_form::oauth_form;
pub use problem::problem;
