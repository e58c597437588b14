//! The Redis backend: GCRA in one atomic round trip, shared by every instance.
//!
//! The Lua script reads the key's theoretical arrival time (TAT), decides, and writes the new TAT
//! with a TTL equal to the time until the quota is whole again, so Redis only holds keys that are
//! still limiting someone. Time comes from Redis (`TIME`), so instances with skewed clocks agree.
//! The script is sent once and then run by `EVALSHA` (the `redis` crate reloads it on `NOSCRIPT`).
//! The connection manager reconnects in the background; every call is bounded by a timeout.
//!
//! The same connection carries the `jti` revocation list ([`RedisRevocations`]).

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::decision::RateDecision;
use crate::auth::{BoxFuture, RevocationError, Revocations};
use crate::contract::RateSpec;

/// GCRA: KEYS[1] = bucket, ARGV[1] = emission interval (µs), ARGV[2] = burst.
/// Returns {allowed (0/1), remaining, retry_after_us, reset_us}.
const GCRA: &str = r"
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tolerance = interval * burst
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if allow_at > now then
  return {0, 0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000))
return {1, math.floor((tolerance - (new_tat - now)) / interval), 0, new_tat - now}
";

/// Why Redis did not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// The URL or the connection failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// No answer within the timeout.
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
}

/// A Redis connection for rate limits and revocations. Cheap to clone.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    script: redis::Script,
    timeout: Duration,
    prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("timeout", &self.timeout).field("prefix", &self.prefix).finish()
    }
}

/// The default bound on one Redis round trip.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(100);

impl RedisStore {
    /// Connects lazily (the first call connects; a Redis that is down at start-up is a failure
    /// mode, not a crash).
    ///
    /// # Errors
    ///
    /// When the URL is invalid.
    pub fn connect(url: &str, timeout: Duration) -> Result<Self, RedisStoreError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1));
        let connection = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self { connection, script: redis::Script::new(GCRA), timeout, prefix: "rampart".to_owned() })
    }

    /// Namespaces every key (default `rampart`), to share one Redis between services or tests.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    async fn bounded<T>(&self, call: impl Future<Output = redis::RedisResult<T>>) -> Result<T, RedisStoreError> {
        let started = std::time::Instant::now();
        let (outcome, result) = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => ("ok", Ok(value)),
            Ok(Err(err)) => ("error", Err(err.into())),
            Err(_) => ("timeout", Err(RedisStoreError::Timeout(self.timeout))),
        };
        crate::telemetry::record_redis(outcome, started.elapsed());
        result
    }

    /// Takes one request from `key`'s quota on `route`, atomically across instances.
    ///
    /// # Errors
    ///
    /// [`RedisStoreError`] when Redis fails or is slower than the timeout.
    pub async fn check(
        &self,
        route: (&'static str, &'static str),
        spec: &RateSpec,
        key: &str,
    ) -> Result<Result<RateDecision, (RateDecision, Duration)>, RedisStoreError> {
        let interval_us = (spec.period_secs.saturating_mul(1_000_000) / u64::from(spec.count.max(1))).max(1);
        let bucket = format!("{}:rl:{} {}:{key}", self.prefix, route.0, route.1);
        let mut connection = self.connection.clone();
        let (allowed, remaining, retry_us, reset_us): (i64, i64, i64, i64) = self
            .bounded(self.script.key(&bucket).arg(interval_us).arg(spec.burst).invoke_async(&mut connection))
            .await?;
        let mut decision = RateDecision::new(spec, u32::try_from(remaining.max(0)).unwrap_or(u32::MAX));
        decision.reset_secs = u64::try_from(reset_us.max(0)).unwrap_or(0).div_ceil(1_000_000);
        if allowed == 1 {
            Ok(Ok(decision))
        } else {
            Ok(Err((decision, Duration::from_micros(u64::try_from(retry_us.max(0)).unwrap_or(0)))))
        }
    }

    /// `PREFIX:suffix`: a key in this store's namespace.
    pub(crate) fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.prefix)
    }

    /// Runs one command, bounded by the timeout.
    pub(crate) async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, RedisStoreError> {
        let mut connection = self.connection.clone();
        self.bounded(command.query_async(&mut connection)).await
    }

    /// Runs one script, bounded by the timeout.
    pub(crate) async fn invoke<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, RedisStoreError> {
        let mut connection = self.connection.clone();
        self.bounded(invocation.invoke_async(&mut connection)).await
    }

    /// Round-trips a `PING` (health checks, tests).
    ///
    /// # Errors
    ///
    /// [`RedisStoreError`] when Redis does not answer in time.
    pub async fn ping(&self) -> Result<(), RedisStoreError> {
        let mut connection = self.connection.clone();
        self.bounded(redis::cmd("PING").query_async::<String>(&mut connection)).await.map(drop)
    }

    /// The revocation list kept in this Redis.
    pub fn revocations(&self) -> RedisRevocations {
        RedisRevocations(self.clone())
    }

    /// The DPoP proofs seen by every instance using this Redis.
    pub fn dpop_replays(&self) -> RedisReplays {
        RedisReplays(self.clone())
    }
}

/// DPoP proofs in Redis (`{prefix}:dpop:{id}`, `SET NX` with the proof's window as expiry): a
/// resource request's proof is accepted by one instance only. (The token endpoint keeps its own
/// replay cache: a token-request proof replayed elsewhere can only get a token bound to the
/// key its replayer does not hold.)
#[derive(Debug, Clone)]
pub struct RedisReplays(RedisStore);

impl crate::auth::dpop::SharedReplays for RedisReplays {
    fn first_use<'a>(
        &'a self,
        id: &'a [u8; 32],
        keep_secs: u64,
    ) -> BoxFuture<'a, Result<bool, crate::auth::dpop::ReplayStoreError>> {
        Box::pin(async move {
            use std::fmt::Write as _;
            let mut key = format!("{}:dpop:", self.0.prefix);
            for byte in id {
                let _ = write!(key, "{byte:02x}");
            }
            let mut connection = self.0.connection.clone();
            let set = redis::cmd("SET").arg(&key).arg(1).arg("NX").arg("EX").arg(keep_secs.max(1)).to_owned();
            self.0
                .bounded(set.query_async::<Option<String>>(&mut connection))
                .await
                .map(|reply| reply.is_some())
                .map_err(|e| crate::auth::dpop::ReplayStoreError(e.to_string()))
        })
    }
}

/// Revoked `jti`s in Redis, each kept until the token would have expired anyway.
#[derive(Debug, Clone)]
pub struct RedisRevocations(RedisStore);

impl Revocations for RedisRevocations {
    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, RevocationError>> {
        Box::pin(async move {
            let key = format!("{}:revoked:{jti}", self.0.prefix);
            let mut connection = self.0.connection.clone();
            self.0
                .bounded(redis::cmd("EXISTS").arg(&key).query_async::<bool>(&mut connection))
                .await
                .map_err(|e| RevocationError(e.to_string()))
        })
    }

    fn revoke<'a>(&'a self, jti: &'a str, expires_at: u64) -> BoxFuture<'a, Result<(), RevocationError>> {
        Box::pin(async move {
            let key = format!("{}:revoked:{jti}", self.0.prefix);
            let mut connection = self.0.connection.clone();
            self.0
                .bounded(
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(1)
                        .arg("EXAT")
                        .arg(expires_at.saturating_add(crate::auth::revocation::KEPT_AFTER_EXPIRY_SECS).max(1))
                        .query_async::<()>(&mut connection),
                )
                .await
                .map_err(|e| RevocationError(e.to_string()))
        })
    }
}
