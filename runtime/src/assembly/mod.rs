//! Layer 5, assembly: the [`Router`](endpoint::Router) that mounts endpoints, nests and merges
//! routers and installs the security stack ([`endpoint`]); the built-in endpoints (API
//! documentation in [`docs`], OAuth in [`oauth`]); the server ([`serve`]); test helpers
//! ([`testing`]); and the re-exports the attributes expand to.

pub mod docs;
pub mod endpoint;
pub mod lock;
pub mod metrics;
pub mod oauth;
pub mod private;
pub(crate) mod secured;
pub mod serve;
pub mod testing;
