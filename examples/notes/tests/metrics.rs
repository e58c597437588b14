//! Metrics of the running notes binary, read as Prometheus text from its separate metrics
//! listener over HTTP: every kind of security decision moves its own counter by exactly what was
//! sent, `/metrics` is not on the API's address, and 10,000 distinct paths and subjects add no
//! series (labels are route templates and closed sets, never raw paths or subjects).
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod support;

use std::collections::BTreeMap;

use rampart::token::TokenRequest;
use reqwest::StatusCode;
use serde_json::json;
use support::Service;

const SECRET: &str = "metrics-test-secret-0123456789abcdef-0123";

fn token(subject: &str, scope: &str, secret: &str) -> String {
    TokenRequest::new(subject, "rampart-dev", "notes").scopes(scope.split(' ')).sign_hs256(secret.as_bytes()).unwrap()
}

/// Every sample of the exposition: `name{labels}` -> value.
async fn scrape(client: &reqwest::Client, metrics_addr: &str) -> BTreeMap<String, f64> {
    let response = client.get(format!("http://{metrics_addr}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse().unwrap())
        })
        .collect()
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

fn decision(reason: &str) -> String {
    format!("rampart_security_decisions_total{{route=\"/notes\",decision=\"deny\",reason=\"{reason}\"}}")
}

fn start() -> Service {
    Service::start(&[("RAMPART_JWT_SECRET", SECRET), ("RAMPART_METRICS_ADDR", "127.0.0.1:0")])
}

#[tokio::test]
async fn every_decision_kind_moves_its_counter_and_metrics_are_not_on_the_api_address() {
    let service = start();
    let metrics = service.metrics_addr.clone().expect("the service prints its metrics address");
    assert_ne!(metrics, service.addr);
    let api = format!("http://{}", service.addr);
    let client = reqwest::Client::new();
    let before = scrape(&client, &metrics).await;

    let notes = format!("{api}/notes");
    let send = |request: reqwest::RequestBuilder| async move { request.send().await.unwrap().status() };
    assert_eq!(send(client.get(&notes)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(send(client.get(&notes).bearer_auth("abc.def.ghi")).await, StatusCode::UNAUTHORIZED);
    let forged = token("mallory", "notes:read", "another-secret-0123456789abcdef-0123456");
    assert_eq!(send(client.get(&notes).bearer_auth(&forged)).await, StatusCode::UNAUTHORIZED);
    let expired = TokenRequest::new("late", "rampart-dev", "notes")
        .scopes(["notes:read"])
        .claim("exp", json!(1_000_000_000))
        .sign_hs256(SECRET.as_bytes())
        .unwrap();
    assert_eq!(send(client.get(&notes).bearer_auth(&expired)).await, StatusCode::UNAUTHORIZED);
    let reader = token("reader", "notes:read", SECRET);
    assert_eq!(
        send(client.post(&notes).bearer_auth(&reader).json(&json!({"title": "x"}))).await,
        StatusCode::FORBIDDEN
    );
    let writer = token("writer", "notes:read notes:write", SECRET);
    let invalid = client.post(&notes).bearer_auth(&writer).json(&json!({"title": ""}));
    assert_eq!(send(invalid).await, StatusCode::UNPROCESSABLE_ENTITY);
    // POST /notes allows 10 a minute per subject; the writer used one above.
    let hot = token("hot", "notes:read notes:write", SECRET);
    for i in 0..11 {
        let status = send(client.post(&notes).bearer_auth(&hot).json(&json!({"title": "hot"}))).await;
        assert_eq!(status, if i < 10 { StatusCode::CREATED } else { StatusCode::TOO_MANY_REQUESTS }, "request {i}");
    }
    // Not on the API's address.
    assert_eq!(send(client.get(format!("{api}/metrics"))).await, StatusCode::NOT_FOUND);

    let after = scrape(&client, &metrics).await;
    let moved = |series: &str| value(&after, series) - value(&before, series);
    for reason in [
        "missing_token",
        "malformed_token",
        "bad_signature",
        "expired",
        "insufficient_scope",
        "invalid_input",
        "rate_limited",
    ] {
        assert_eq!(moved(&decision(reason)), 1.0, "{reason}");
    }
    assert_eq!(moved("rampart_requests_total{route=\"/notes\",method=\"POST\",status=\"201\"}"), 10.0);
    assert_eq!(moved("rampart_requests_total{route=\"/notes\",method=\"GET\",status=\"401\"}"), 4.0);
    assert_eq!(moved("rampart_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}"), 1.0);
    // Tokens: reader and writer missed the cache once each; hot missed twice (a token is
    // remembered from its second verification) and then hit it 9 times; the syntactically
    // plausible malformed, forged and expired tokens were verified (and failed).
    assert_eq!(moved("rampart_token_cache_total{result=\"hit\"}"), 9.0);
    assert_eq!(moved("rampart_token_cache_total{result=\"miss\"}"), 7.0);
    assert_eq!(moved("rampart_token_verifications_total"), 7.0);
    assert!(moved("rampart_request_duration_seconds_count{route=\"/notes\",method=\"POST\"}") >= 13.0);
    assert_eq!(value(&after, "rampart_audit_dropped_lines"), 0.0);
}

#[tokio::test]
async fn ten_thousand_distinct_paths_and_subjects_add_no_series() {
    let service = start();
    let metrics = service.metrics_addr.clone().unwrap();
    let api = format!("http://{}", service.addr);
    let client = reqwest::Client::new();

    // The same kinds of request as below, a few times, so that every series exists.
    let round = |i: usize| {
        let (client, api) = (client.clone(), api.clone());
        async move {
            let subject = format!("subject-{i}");
            let tok = token(&subject, "notes:read", SECRET);
            let status = client.get(format!("{api}/notes/{}", 1_000_000 + i)).bearer_auth(&tok).send().await.unwrap();
            assert_eq!(status.status(), StatusCode::NOT_FOUND);
            let status = client.get(format!("{api}/no/such/path/{i}?q={i}")).send().await.unwrap();
            assert_eq!(status.status(), StatusCode::NOT_FOUND);
        }
    };
    for i in 0..10 {
        round(i).await;
    }
    let series_before = scrape(&client, &metrics).await.len();

    for chunk in (10..10_010).collect::<Vec<_>>().chunks(50) {
        let tasks: Vec<_> = chunk.iter().map(|&i| tokio::spawn(round(i))).collect();
        for task in tasks {
            task.await.unwrap();
        }
    }
    let after = scrape(&client, &metrics).await;
    assert_eq!(after.len(), series_before, "new series appeared: {:?}", after.keys().collect::<Vec<_>>());
    let served = value(&after, "rampart_requests_total{route=\"/notes/{id}\",method=\"GET\",status=\"404\"}");
    assert_eq!(served, 10_010.0);
    assert_eq!(value(&after, "rampart_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}"), 10_010.0);
}
