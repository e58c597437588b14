//! Audit events: one structured record per security decision.
//!
//! Events go through `tracing` with target `rampart::audit`, fields `ts`, `request_id`, `method`,
//! `route` (the template), `subject` (when known), `client_ip`, `decision`, `reason`, `status`.
//! With a JSON subscriber ([`json_subscriber`]) each event is one JSON line. An event never holds a
//! token, secret, password or query string: its fields are typed and none of them can carry one.
//!
//! # Examples
//!
//! ```
//! use rampart::audit::{AuditEvent, Decision};
//! use rampart::context::RequestContext;
//!
//! AuditEvent::new(&RequestContext::default(), Decision::Deny, "missing_token", 401).emit();
//! ```

mod rotate;
mod sink;
mod subscriber;

use std::time::SystemTime;

use tracing::Level;

pub use crate::vocabulary::request::RequestContext;
pub use rotate::RotatingFile;
pub use sink::{
    AuditOutput, AuditSettings, AuditSink, DEFAULT_BUFFER_LINES, DEFAULT_KEEP, DEFAULT_MAX_BYTES, InstallError,
    SinkError, install,
};
pub use subscriber::{json_subscriber, json_subscriber_with_writer};

/// The outcome of a security decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// The request may proceed.
    Allow,
    /// The request was refused.
    Deny,
    /// A security control ran degraded (for example the shared rate-limit store failed and the
    /// configured failure mode decided).
    Degraded,
    /// A client IP or subject was locked out after repeated failures.
    Lockout,
}

impl Decision {
    /// `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::Degraded => "degraded",
            Decision::Lockout => "lockout",
        }
    }
}

/// One audit record. Build it, then [`emit`](Self::emit) it.
#[derive(Debug, Clone)]
#[must_use = "an audit event does nothing until emitted"]
pub struct AuditEvent<'a> {
    ctx: &'a RequestContext,
    decision: Decision,
    reason: &'static str,
    status: u16,
    subject: Option<&'a str>,
    principal: Option<&'a str>,
}

impl<'a> AuditEvent<'a> {
    /// An event for the request in `ctx`.
    pub fn new(ctx: &'a RequestContext, decision: Decision, reason: &'static str, status: u16) -> Self {
        Self { ctx, decision, reason, status, subject: None, principal: None }
    }

    /// Names the authenticated subject.
    pub fn subject(mut self, subject: &'a str) -> Self {
        self.subject = Some(subject);
        self
    }

    /// Names the authenticated caller: `subject` (its `sub`) and `principal`, its qualified
    /// subject (`jwt:<iss>#<sub>`, `client:<iss>#<sub>` or `apikey:<id>`), which tells a user
    /// from an OAuth client or an API key of the same name.
    pub fn principal(mut self, principal: &'a crate::auth::Principal) -> Self {
        self.subject = Some(principal.subject());
        self.principal = Some(principal.qualified_subject());
        self
    }

    /// Emits the event: denials at `INFO`, degraded controls at `WARN`, allows at `DEBUG`.
    pub fn emit(self) {
        crate::telemetry::record_decision(&self.ctx.route, self.decision.as_str(), self.reason);
        if crate::trace::wanted() {
            crate::trace::record_decision(self.decision.as_str(), self.reason, self.principal);
        }
        macro_rules! event {
            ($level:expr) => {
                tracing::event!(
                    target: "rampart::audit",
                    $level,
                    ts = %humantime::format_rfc3339_millis(SystemTime::now()),
                    request_id = %self.ctx.request_id,
                    method = %self.ctx.method,
                    route = %self.ctx.route,
                    subject = self.subject,
                    principal = self.principal,
                    client_ip = %self.ctx.client_ip,
                    decision = self.decision.as_str(),
                    reason = self.reason,
                    status = self.status,
                    "security decision"
                )
            };
        }
        match self.decision {
            Decision::Allow => event!(Level::DEBUG),
            Decision::Deny => event!(Level::INFO),
            Decision::Degraded | Decision::Lockout => event!(Level::WARN),
        }
    }
}
