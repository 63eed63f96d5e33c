//! Fair load: no one client can flood the city with writes or starve others with
//! expensive reads.
//!
//! - Writes are rate-limited per API key, or per network address for callers without
//!   one (`write_rate_per_minute`; 0 turns this off), and answered 429 with
//!   `Retry-After` beyond it.
//! - Expensive reads (statistics, wards, whole-city GeoJSON, lists) run a few at a time,
//!   so they never hold every database connection and a single report's read never
//!   queues behind them; those waiting too long get 503 with `Retry-After`.
//! - Aggregates (statistics and wards) are computed once per query and served from a
//!   cache for a short while, however many ask at once.
//!
//! Each server keeps its own limits and cache: behind a load balancer of N servers a
//! client may write N times the rate.

use super::api::ErrorKind;
use super::{State, client_address};
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// How long an expensive read waits for its turn before it is told to come back.
const EXPENSIVE_WAIT: Duration = Duration::from_secs(10);
/// How long an aggregate is served from the cache before it is computed again.
const AGGREGATE_TTL: Duration = Duration::from_secs(30);
/// Bytes of cached aggregates kept at most.
const AGGREGATE_BYTES: u64 = 64 * 1024 * 1024;

/// Who a write counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Source {
    /// A caller with a valid API key, wherever it calls from.
    Key(i64),
    /// Everyone else, by network address (as a trusted proxy reports it).
    Address(IpAddr),
}

/// An answer as cached: status, headers and body.
#[derive(Debug, Clone)]
pub struct Snapshot {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// The state behind the limits, one per server.
pub struct Limits {
    writes: Option<DefaultKeyedRateLimiter<Source>>,
    clock: DefaultClock,
    expensive: tokio::sync::Semaphore,
    aggregates: moka::future::Cache<String, Arc<Snapshot>>,
}

impl Limits {
    /// `write_rate_per_minute` writes per source (0: unlimited, for load tests), with
    /// as many at once; `expensive_at_once` expensive reads at a time.
    pub fn new(write_rate_per_minute: u32, expensive_at_once: usize) -> Limits {
        Limits {
            writes: NonZeroU32::new(write_rate_per_minute)
                .map(|rate| DefaultKeyedRateLimiter::keyed(Quota::per_minute(rate))),
            clock: DefaultClock::default(),
            expensive: tokio::sync::Semaphore::new(expensive_at_once.max(1)),
            aggregates: moka::future::Cache::builder()
                .max_capacity(AGGREGATE_BYTES)
                .weigher(|key: &String, snapshot: &Arc<Snapshot>| {
                    u32::try_from(key.len() + snapshot.body.len()).unwrap_or(u32::MAX)
                })
                .time_to_live(AGGREGATE_TTL)
                .build(),
        }
    }

    /// Forgets sources that are back to a full allowance, so the table holds only
    /// recent writers. Called now and then.
    pub fn forget_idle_sources(&self) {
        if let Some(writes) = &self.writes {
            writes.retain_recent();
            writes.shrink_to_fit();
        }
    }
}

/// True for a request that changes something. The `…/search` endpoints are POSTed
/// only because a polygon does not fit in a URL: they are reads.
fn is_write(req: &ServiceRequest) -> bool {
    !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && !req.path().ends_with("/search")
}

/// An answer telling the client to come back in `wait`, in the shape its path speaks.
fn come_back_later(
    req: &ServiceRequest,
    status: StatusCode,
    kind: ErrorKind,
    message: String,
    wait: Duration,
) -> actix_web::HttpResponse {
    let mut response = super::middleware::refusal(req.path(), status, kind, message);
    // Whole seconds, rounded up: a client that waits this long is let in.
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

/// Limits writes per API key or per address (see the module's notes). Runs after
/// `roles_first`, which has already found the caller of a role-gated write.
pub async fn limit_writes<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let state = req.app_data::<State>().cloned();
    let (Some(state), true) = (state, is_write(&req)) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let Some(writes) = &state.limits.writes else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    // A key that is sent but not valid counts against the address: inventing keys
    // buys no allowance.
    let known = actix_web::HttpMessage::extensions(&req)
        .get::<crate::auth::Caller>()
        .cloned();
    let caller = match known {
        Some(caller) => Some(caller),
        None => {
            let found = super::api::optional_caller(&state, req.request())
                .await
                .ok()
                .flatten();
            if let Some(caller) = &found {
                // The handler's own check reads it from here, as after `roles_first`.
                actix_web::HttpMessage::extensions_mut(&req).insert(caller.clone());
            }
            found
        }
    };
    let source = match (caller, client_address(req.request(), &state.settings)) {
        (Some(caller), _) => Source::Key(caller.key_id),
        (None, Some(address)) => Source::Address(address),
        (None, None) => return Ok(next.call(req).await?.map_into_left_body()),
    };
    match writes.check_key(&source) {
        Ok(()) => Ok(next.call(req).await?.map_into_left_body()),
        Err(not_until) => {
            let wait = not_until.wait_time_from(state.limits.clock.now());
            let response = come_back_later(
                &req,
                StatusCode::TOO_MANY_REQUESTS,
                ErrorKind::RateLimited,
                format!(
                    "too many changes from one {}: at most {} a minute; nothing was saved, try again in {} s",
                    if matches!(source, Source::Key(_)) {
                        "API key"
                    } else {
                        "address"
                    },
                    state.settings.write_rate_per_minute,
                    wait.as_secs().max(1)
                ),
                wait,
            );
            Ok(req.into_response(response).map_into_right_body())
        }
    }
}

/// Lets an expensive read run only when one of a few places is free (see
/// [`Limits::new`]); writes pass untouched.
pub async fn expensive<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let state = req.app_data::<State>().cloned();
    let (Some(state), false) = (state, is_write(&req)) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let turn = tokio::time::timeout(EXPENSIVE_WAIT, state.limits.expensive.acquire()).await;
    let Ok(Ok(_permit)) = turn else {
        let response = come_back_later(
            &req,
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Busy,
            "the server is busy with other large reads; try again shortly".into(),
            Duration::from_secs(5),
        );
        return Ok(req.into_response(response).map_into_right_body());
    };
    // The answer is built in full before it returns, so the place is held while the
    // work is done.
    Ok(next.call(req).await?.map_into_left_body())
}

/// Serves an aggregate from the cache, computing it once however many ask at once.
/// Only successful answers are kept; every caller waiting on a failure gets it too.
pub async fn cached<B>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error>
where
    B: MessageBody + 'static,
{
    let state = req.app_data::<State>().cloned();
    let (Some(state), false) = (state, is_write(&req)) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // The answer may follow `Accept` (GeoJSON or JSON), so it is part of the question.
    let accept = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let key = format!("{}?{}\n{accept}", req.path(), req.query_string());
    let request = req.request().clone();
    let computed = state
        .limits
        .aggregates
        .try_get_with(key, async move {
            let response = next.call(req).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = actix_web::body::to_bytes(response.into_body())
                .await
                .map_err(|_| actix_web::error::ErrorInternalServerError("unreadable body"))?;
            let snapshot = Snapshot {
                status,
                headers,
                body,
            };
            if status == StatusCode::OK {
                Ok(Arc::new(snapshot))
            } else {
                Err(Failed::Answer(snapshot))
            }
        })
        .await;
    let snapshot = match computed {
        Ok(snapshot) => snapshot,
        Err(failed) => match &*failed {
            Failed::Answer(snapshot) => Arc::new(snapshot.clone()),
            Failed::Error(message) => {
                return Err(actix_web::error::ErrorInternalServerError(message.clone()));
            }
        },
    };
    let mut response = actix_web::HttpResponse::with_body(snapshot.status, snapshot.body.clone());
    for (name, value) in &snapshot.headers {
        response.headers_mut().append(name.clone(), value.clone());
    }
    Ok(ServiceResponse::new(
        request,
        response.map_into_boxed_body(),
    ))
}

/// Why an aggregate was not cached.
#[derive(Debug)]
enum Failed {
    /// The handler answered, but not with 200: passed on, not kept.
    Answer(Snapshot),
    /// The handler failed before answering.
    Error(String),
}

impl From<actix_web::Error> for Failed {
    fn from(error: actix_web::Error) -> Self {
        Failed::Error(error.to_string())
    }
}
