//! The fuzz targets of Rampart, as plain functions over bytes.
//!
//! `fuzz/` (a cargo-fuzz crate, nightly, outside the workspace) wraps each in
//! `libfuzzer_sys::fuzz_target!`; `tests/replay.rs` runs every seed and every past finding
//! through them on stable, in the test command. Each target panics only when Rampart breaks one
//! of its promises; each promise is written next to the check that enforces it.
//!
//! | target | what it drives | the promise checked |
//! |---|---|---|
//! | [`bearer_jwt`] | `Authorization` headers and signed tokens with any header and claims, through the notes service | 200 only for a token that satisfies iss/aud/exp/alg and the scope; 401 with `WWW-Authenticate` otherwise; the cached answer equals the first |
//! | [`attribute`] | `#[secure]`/`#[public]` arguments and the `rate` grammar | the expansion always parses as Rust; a refused rate says why |
//! | [`problem`] | bodies of `POST /notes` under any content type | 201, or a problem+json 4xx whose `errors` are pointers with details |
//! | [`audit_source`] | any text as a Rust file for `rampart audit` | a finding or a "not audited" hit, never a crash |
//! | [`oauth_form`] | form bodies and Basic headers at `POST /oauth/token` | an RFC 6749 error, or a token only for the right client and scopes |
//!
//! ```
//! // Seeds are ordinary inputs: a valid token's claims, signed by the harness (mode 1).
//! rampart_fuzzing::bearer_jwt(b"\x01{\"sub\":\"a\",\"iss\":\"fuzz-issuer\",\"aud\":\"fuzz\",\"exp\":4102444800,\"scope\":\"notes:read\"}");
//! rampart_fuzzing::attribute(b"get, path = \"/x\", scope = \"a:b\", rate = \"10/min\"");
//! ```

mod oracle;
mod service;
mod targets;

pub use targets::{attribute, audit_source, bearer_jwt, oauth_form, problem};

/// A fuzz target: any bytes in, a panic only on a broken promise.
pub type Target = fn(&[u8]);

/// Every target by name, as `fuzz/fuzz_targets/NAME.rs` and the `fuzz/seeds/NAME/` directory
/// call it.
pub const TARGETS: [(&str, Target); 5] = [
    ("bearer_jwt", bearer_jwt),
    ("attribute", attribute),
    ("problem", problem),
    ("audit_source", audit_source),
    ("oauth_form", oauth_form),
];
