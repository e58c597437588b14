//! The stages of Rampart's `#[secure]` and `#[public]` attributes — parse, check, expand — as an
//! ordinary library. `rampart-macros` is a thin proc-macro shim over [`expand`]; fuzz targets and
//! tools call the same functions on plain token streams.
//!
//! ```
//! use rampart_macros_core::{expand, Kind};
//!
//! let args = "get, path = \"/notes\", scope = \"notes:read\", rate = \"10/min\"".parse().unwrap();
//! let item = "async fn list() -> &'static str { \"[]\" }".parse().unwrap();
//! let out = expand(Kind::Secure, args, item, None).to_string();
//! assert!(out.contains("notes:read") && !out.contains("compile_error"));
//!
//! let bad = "get, path = \"/notes\", rate = \"10/fortnight\"".parse().unwrap();
//! let item = "async fn list() {}".parse().unwrap();
//! assert!(expand(Kind::Secure, bad, item, None).to_string().contains("unknown rate unit"));
//! ```

mod contract;
mod errors;
mod rate;
mod registry;
mod route_path;
mod schema_rules;
mod secure;

pub use contract::{Contract, RateContract, contract};
pub use rate::{Rate, parse_rate};
pub use registry::{Registry, Relations, read_registry};
pub use schema_rules::schema_rules;
pub use secure::{Kind, expand};
