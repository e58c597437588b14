//! Lockout of repeated failures, against real notes binaries over loopback. The tests choose
//! client IPs with `X-Forwarded-For`, which the services believe from 127.0.0.1 only
//! (`RAMPART_TRUSTED_PROXIES`), as behind a real proxy. "Before verification" is proven with
//! `rampart_token_verifications_total`, read from each instance's metrics listener.
//!
//! Needs Redis at 127.0.0.1:6379 for the two-instance test.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod support;

use std::time::Duration;

use rampart::token::TokenRequest;
use reqwest::StatusCode;
use serde_json::json;
use support::Service;

const SECRET: &str = "lockout-test-secret-0123456789abcdef-0123";
const ATTACKER: &str = "198.51.100.7";
const BYSTANDER: &str = "198.51.100.8";

fn token(subject: &str, scope: &str) -> String {
    TokenRequest::new(subject, "rampart-dev", "notes").scopes(scope.split(' ')).sign_hs256(SECRET.as_bytes()).unwrap()
}

struct Instance {
    service: Service,
    client: reqwest::Client,
}

impl Instance {
    fn start(extra: &[(&str, &str)]) -> Self {
        let mut vars = vec![
            ("RAMPART_JWT_SECRET", SECRET),
            ("RAMPART_METRICS_ADDR", "127.0.0.1:0"),
            ("RAMPART_TRUSTED_PROXIES", "127.0.0.1/32"),
            ("RAMPART_LOCKOUT_COOLDOWN_SECS", "2"),
        ];
        vars.extend_from_slice(extra);
        Self { service: Service::start(&vars), client: reqwest::Client::new() }
    }

    async fn get_notes(&self, from: &str, token: &str) -> reqwest::Response {
        let url = format!("http://{}/notes", self.service.addr);
        self.client.get(url).header("x-forwarded-for", from).bearer_auth(token).send().await.unwrap()
    }

    async fn counter(&self, series: &str) -> f64 {
        let url = format!("http://{}/metrics", self.service.metrics_addr.as_ref().unwrap());
        let text = self.client.get(url).send().await.unwrap().text().await.unwrap();
        text.lines().find_map(|l| l.strip_prefix(series)?.trim().parse().ok()).unwrap_or(0.0)
    }

    async fn verifications(&self) -> f64 {
        self.counter("rampart_token_verifications_total ").await
    }
}

/// A well-formed token with a wrong signature: it is parsed and verified before it fails.
fn guessed(i: usize) -> String {
    let valid = token(&format!("guess-{i}"), "notes:read");
    let (head, _) = valid.rsplit_once('.').unwrap();
    format!("{head}.c2lnbmF0dXJlLWd1ZXNzLW51bWJlcg{i}")
}

async fn assert_locked(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], 429);
}

/// 20 guesses from one IP lock it on every instance sharing the Redis store; the lock refuses
/// before verification, spares other IPs and expires after the cool-down.
#[tokio::test]
async fn twenty_bad_tokens_lock_an_ip_out_across_instances_until_the_cooldown_ends() {
    let prefix = format!("lockout-test-{}", std::process::id());
    let shared = [("RAMPART_RATE_LIMIT", "redis://127.0.0.1:6379"), ("RAMPART_RATE_LIMIT_PREFIX", prefix.as_str())];
    let a = Instance::start(&shared);
    let b = Instance::start(&shared);

    for i in 0..20 {
        assert_eq!(a.get_notes(ATTACKER, &guessed(i)).await.status(), StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let verified_a = a.verifications().await;
    assert_eq!(verified_a, 20.0, "each guess was verified");
    assert_eq!(a.counter("rampart_security_decisions_total{route=\"/notes\",decision=\"lockout\",reason=\"authentication_failures\"} ").await, 1.0);

    // Locked on A: refused before any verification, even with a valid token.
    assert_locked(a.get_notes(ATTACKER, &guessed(20)).await).await;
    assert_locked(a.get_notes(ATTACKER, &token("attacker", "notes:read")).await).await;
    assert_eq!(a.verifications().await, verified_a, "no verification while locked");
    // Locked on B too, through Redis, before verification.
    let verified_b = b.verifications().await;
    assert_locked(b.get_notes(ATTACKER, &token("attacker-b", "notes:read")).await).await;
    assert_eq!(b.verifications().await, verified_b, "no verification while locked");
    // Another client is not affected, on either instance.
    assert_eq!(a.get_notes(BYSTANDER, &token("bystander", "notes:read")).await.status(), StatusCode::OK);
    assert_eq!(b.get_notes(BYSTANDER, &token("bystander", "notes:read")).await.status(), StatusCode::OK);

    // Both instances measured their Redis round trips (the lockout's and the rate limits').
    for instance in [&a, &b] {
        assert!(instance.counter("rampart_rate_limit_redis_seconds_count{outcome=\"ok\"} ").await > 0.0);
    }

    // The cool-down ends: the IP is served again.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(a.get_notes(ATTACKER, &token("attacker", "notes:read")).await.status(), StatusCode::OK);
    assert_eq!(b.get_notes(ATTACKER, &token("attacker-b", "notes:read")).await.status(), StatusCode::OK);
}

/// 20 forbidden requests of one subject lock that subject (even for what it may do); others,
/// and requests without credentials, are not counted.
#[tokio::test]
async fn twenty_forbidden_requests_lock_the_subject_in_memory() {
    let service = Instance::start(&[("RAMPART_LOCKOUT_AUTHZ_FAILURES", "20")]);
    let url = format!("http://{}/notes", service.service.addr);
    let reader = token("reader", "notes:read");
    for i in 0..20 {
        let response = service
            .client
            .post(&url)
            .header("x-forwarded-for", BYSTANDER)
            .bearer_auth(&reader)
            .json(&json!({"title": "no"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "request {i}");
    }
    // Locked, even for a read it is allowed, from any IP.
    assert_locked(service.get_notes(ATTACKER, &reader).await).await;
    // Another subject is served.
    assert_eq!(service.get_notes(BYSTANDER, &token("other", "notes:read")).await.status(), StatusCode::OK);
    // Requests without credentials are 401 but never lock the IP.
    for _ in 0..30 {
        let anonymous = service.client.get(&url).header("x-forwarded-for", "198.51.100.9").send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(service.get_notes("198.51.100.9", &token("late", "notes:read")).await.status(), StatusCode::OK);
}
