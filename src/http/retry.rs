//! The retry loop every request goes through. The rules of the [`super`] module doc are one
//! pure function, [`decide`], so they can be read and tested without a network; the loop only
//! sends, asks `decide`, logs and sleeps.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::{
    Budget, Cause, Http, HttpFailure, HttpResponse, Idempotency, SendFailure, Transport,
    TransportFailure, classify_direct_failure, classify_send_error, error_chain, send_failure,
};
use crate::config::RetryPolicy;
use crate::error::Result;
use crate::logging::OpLog;

/// Static names: a name given as text is parsed and copied for every request.
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");
const RETURN_CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("return-client-request-id");

/// Jitter added to computed backoff, so that clients throttled together do not return together.
const MAX_JITTER_MS: u64 = 250;

/// What one attempt produced, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempted {
    /// A response came back (any status).
    Response {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// No response (see [`SendFailure`]).
    NoResponse {
        maybe_delivered: bool,
        retryable: bool,
    },
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Hand the result to the caller: a success, or a failure that another attempt would not
    /// fix or might duplicate.
    Return,
    /// Worth another attempt, but the attempts or the wait budget are used up: hand it back.
    OutOfBudget,
    /// Wait this long, then try again.
    RetryAfter(Duration),
}

/// The retry rules. `attempt` is the attempt that just ended (from 1), `waited` what this
/// request has slept so far, `jitter` what is added to computed backoff (never to the server's
/// Retry-After).
pub(crate) fn decide(
    attempted: Attempted,
    idempotency: Idempotency,
    policy: &RetryPolicy,
    attempt: u32,
    waited: Duration,
    jitter: Duration,
) -> Decision {
    // IMDS answers 410 while it is being updated and is back "within 70 seconds": retry every
    // 10 s up to 7 times (MSAL's ImdsRetryPolicy), whatever max_attempts says; the wait budget
    // (and cancellation) still bound it.
    if let Attempted::Response { status: 410, .. } = attempted
        && idempotency == Idempotency::ManagedIdentity
    {
        return if attempt > IMDS_GONE_RETRIES || waited + IMDS_GONE_WAIT > policy.max_total_wait {
            Decision::OutOfBudget
        } else {
            Decision::RetryAfter(IMDS_GONE_WAIT)
        };
    }
    let wait = match attempted {
        Attempted::Response {
            status,
            retry_after,
        } => {
            // None: not retried. Some(wait): retried after the server's wait, else our backoff.
            let server_wait = match status {
                429 => Some(retry_after),
                404 | 408 | 410 | 500..=599 if idempotency == Idempotency::ManagedIdentity => {
                    Some(retry_after)
                }
                503 | 504 if retry_after.is_some() => Some(retry_after),
                _ if idempotency == Idempotency::ResumeFirst => None,
                502..=504 if idempotency == Idempotency::Idempotent => Some(None),
                500..=599
                    if idempotency == Idempotency::NonIdempotent
                        && policy.retry_unknown_outcome =>
                {
                    Some(retry_after)
                }
                _ => None,
            };
            let Some(server_wait) = server_wait else {
                return Decision::Return;
            };
            server_wait.unwrap_or_else(|| backoff(attempt, jitter))
        }
        Attempted::NoResponse {
            maybe_delivered,
            retryable,
        } => {
            let retryable = retryable
                && match (maybe_delivered, idempotency) {
                    (false, Idempotency::ManagedIdentity) => false,
                    (false, _)
                    | (true, Idempotency::Idempotent)
                    | (true, Idempotency::ManagedIdentity) => true,
                    (true, Idempotency::NonIdempotent) => policy.retry_unknown_outcome,
                    (true, Idempotency::ResumeFirst) => false,
                };
            if !retryable {
                return Decision::Return;
            }
            backoff(attempt, jitter)
        }
    };
    if attempt >= policy.max_attempts || waited + wait > policy.max_total_wait {
        Decision::OutOfBudget
    } else {
        Decision::RetryAfter(wait)
    }
}

/// IMDS's 410 ("updating; available within 70 seconds"): this many retries, this far apart.
const IMDS_GONE_RETRIES: u32 = 7;
const IMDS_GONE_WAIT: Duration = Duration::from_secs(10);

/// Exponential backoff: ~0.5 s, 1 s, 2 s, ... capped at 30 s, plus `jitter`.
fn backoff(attempt: u32, jitter: Duration) -> Duration {
    let base_ms = 500u64
        .saturating_mul(1 << attempt.saturating_sub(1).min(6))
        .min(30_000);
    Duration::from_millis(base_ms) + jitter
}

/// Retry-After as seconds (integer or fractional) or an HTTP-date.
pub(crate) fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

impl Http {
    /// Sends a request built by `build` (called once per attempt), applying the retry policy.
    /// Each attempt carries a fresh `client-request-id`.
    pub async fn execute<F>(
        &self,
        what: &str,
        idempotency: Idempotency,
        log: &mut OpLog,
        build: F,
    ) -> std::result::Result<HttpResponse, HttpFailure>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        self.execute_async(what, idempotency, log, |client| {
            std::future::ready(Ok(build(&client)))
        })
        .await
    }

    /// Like [`Http::execute`], for requests whose construction is itself async and fallible
    /// (token requests sign a fresh assertion per attempt: Entra rejects a replayed `jti`).
    pub async fn execute_async<F, Fut>(
        &self,
        what: &str,
        idempotency: Idempotency,
        log: &mut OpLog,
        mut build: F,
    ) -> std::result::Result<HttpResponse, HttpFailure>
    where
        F: FnMut(reqwest::Client) -> Fut,
        Fut: std::future::Future<Output = Result<reqwest::RequestBuilder>>,
    {
        let started = Instant::now();
        let mut waited = Duration::ZERO;
        let mut attempt: u32 = 0;
        let mut repeated_after_unknown_outcome = false;
        loop {
            attempt += 1;
            let client_request_id = new_client_request_id();
            let Transport { client, direct } = self
                .transport_for(idempotency)
                .map_err(HttpFailure::Build)?;
            let request = build(client)
                .await
                .map_err(HttpFailure::Build)?
                .header(CLIENT_REQUEST_ID, &client_request_id)
                .header(RETURN_CLIENT_REQUEST_ID, HeaderValue::from_static("true"));
            let outcome = send_once(request, direct.as_deref(), &client_request_id, attempt).await;
            let attempted = match &outcome {
                Ok(response) => Attempted::Response {
                    status: response.status,
                    retry_after: response.retry_after,
                },
                Err(failure) => Attempted::NoResponse {
                    maybe_delivered: failure.maybe_delivered,
                    retryable: failure.retryable,
                },
            };
            let outcome_unknown = idempotency == Idempotency::NonIdempotent
                && match attempted {
                    Attempted::NoResponse {
                        maybe_delivered, ..
                    } => maybe_delivered,
                    Attempted::Response {
                        status,
                        retry_after,
                    } => {
                        (500..=599).contains(&status)
                            && !(matches!(status, 503 | 504) && retry_after.is_some())
                    }
                };
            let jitter = Duration::from_millis(fastrand::u64(..MAX_JITTER_MS));
            let decision = decide(attempted, idempotency, &self.retry, attempt, waited, jitter);
            if outcome_unknown && matches!(decision, Decision::RetryAfter(_)) {
                repeated_after_unknown_outcome = true;
            }
            let outcome = outcome.map(|mut response| {
                response.repeated_after_unknown_outcome = repeated_after_unknown_outcome;
                response
            });
            let wait = match (decision, outcome) {
                (Decision::Return, Ok(response)) => return Ok(response),
                (Decision::OutOfBudget, Ok(mut response)) => {
                    let budget = if attempt >= self.retry.max_attempts {
                        Budget::Attempts {
                            max_attempts: self.retry.max_attempts,
                        }
                    } else {
                        Budget::Wait {
                            max_total_wait_seconds: self.retry.max_total_wait.as_secs(),
                        }
                    };
                    log.info(format!(
                        "{what}: HTTP {} on attempt {attempt}; not retrying ({})",
                        response.status,
                        match budget {
                            Budget::Attempts { .. } => "attempt budget used up",
                            Budget::Wait { .. } => "the wait would pass the wait budget",
                        }
                    ));
                    response.budget_exhausted = Some(budget);
                    return Ok(response);
                }
                (Decision::RetryAfter(wait), Ok(response)) => {
                    if response.status == 429 || response.retry_after.is_some() {
                        // Graph's wait holds for the mailbox, not just this request.
                        log.server_asked_to_wait(wait);
                    }
                    log.info(format!(
                        "{what}: HTTP {} (client-request-id {client_request_id}); retrying in {} ms",
                        response.status,
                        wait.as_millis()
                    ));
                    wait
                }
                (Decision::RetryAfter(wait), Err(failure)) => {
                    log.info(format!(
                        "{what}: {} (client-request-id {client_request_id}); retrying in {} ms",
                        failure.message,
                        wait.as_millis()
                    ));
                    wait
                }
                (Decision::Return | Decision::OutOfBudget, Err(failure)) => {
                    log.info(format!(
                        "{what}: {} (client-request-id {client_request_id}, attempt {attempt}, {} ms)",
                        failure.message,
                        started.elapsed().as_millis()
                    ));
                    return Err(HttpFailure::Transport(TransportFailure {
                        maybe_delivered: failure.maybe_delivered,
                        message: failure.message,
                        remedy: failure.remedy,
                        client_request_id,
                        attempts: attempt,
                    }));
                }
            };
            waited += wait;
            log.add_waited(wait);
            if crate::cancel::cancellable_sleep(log.cancel(), wait)
                .await
                .is_err()
            {
                log.info(format!(
                    "{what}: cancelled by the caller while waiting to retry (attempt {attempt})"
                ));
                return Err(HttpFailure::Cancelled {
                    after_unknown_outcome: repeated_after_unknown_outcome,
                    client_request_id,
                    attempts: attempt,
                });
            }
        }
    }
}

/// One attempt: send, read the whole body, or say why there is no response. A send goes over
/// `direct` when no proxy is in the way, else through reqwest.
async fn send_once(
    request: reqwest::RequestBuilder,
    direct: Option<&super::direct::DirectSend>,
    client_request_id: &str,
    attempt: u32,
) -> std::result::Result<HttpResponse, SendFailure> {
    let answered = |status: u16, headers: &HeaderMap, body| {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        HttpResponse {
            status,
            request_id: header("request-id"),
            retry_after: parse_retry_after(headers),
            www_authenticate: header("www-authenticate"),
            location: header("location"),
            body,
            client_request_id: client_request_id.to_owned(),
            attempts: attempt,
            repeated_after_unknown_outcome: false,
            budget_exhausted: None,
        }
    };
    let (client, request) = request.build_split();
    let request = request.map_err(|e| classify_send_error(&e))?;
    if let Some(direct) = direct
        && direct.serves(request.url())
    {
        let answer = direct
            .send(request)
            .await
            .map_err(|f| classify_direct_failure(&f))?;
        return Ok(answered(answer.status, &answer.headers, answer.body));
    }
    let response = client
        .execute(request)
        .await
        .map_err(|e| classify_send_error(&e))?;
    // The header fields are taken before the body consumes the response (no header copy).
    let mut answer = answered(
        response.status().as_u16(),
        response.headers(),
        bytes::Bytes::new(),
    );
    match response.bytes().await {
        Ok(body) => {
            answer.body = body;
            Ok(answer)
        }
        Err(e) => Err(send_failure(Cause::BodyCutOff, &error_chain(&e))),
    }
}

/// A fresh `client-request-id` (a v4 UUID). It only correlates our log with the server's, so
/// it comes from the thread's fast generator rather than the OS: a `getrandom` system call
/// per request was a measurable part of a send's CPU.
fn new_client_request_id() -> String {
    uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes())
        .into_uuid()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_JITTER: Duration = Duration::ZERO;

    #[test]
    fn client_request_ids_are_distinct_v4_uuids() {
        let ids: std::collections::HashSet<String> =
            (0..1000).map(|_| new_client_request_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids.iter().take(20) {
            let parsed = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(parsed.get_version(), Some(uuid::Version::Random), "{id}");
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122, "{id}");
        }
    }
    const SEND: Idempotency = Idempotency::NonIdempotent;
    const IDEMPOTENT: Idempotency = Idempotency::Idempotent;

    fn response(status: u16, retry_after: Option<u64>) -> Attempted {
        Attempted::Response {
            status,
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    /// A first attempt with nothing waited yet, under the default policy.
    fn first(attempted: Attempted, idempotency: Idempotency) -> Decision {
        let policy = RetryPolicy::default();
        decide(
            attempted,
            idempotency,
            &policy,
            1,
            Duration::ZERO,
            NO_JITTER,
        )
    }

    fn unknown_outcome_retried() -> RetryPolicy {
        RetryPolicy {
            retry_unknown_outcome: true,
            ..RetryPolicy::default()
        }
    }

    const BACKOFF_1: Decision = Decision::RetryAfter(Duration::from_millis(500));

    #[test]
    fn throttling_is_always_retried_after_the_servers_wait() {
        for idempotency in [SEND, IDEMPOTENT] {
            assert_eq!(
                first(response(429, Some(7)), idempotency),
                Decision::RetryAfter(Duration::from_secs(7))
            );
            assert_eq!(first(response(429, None), idempotency), BACKOFF_1);
        }
    }

    #[test]
    fn unavailable_with_retry_after_is_retried_even_for_sends() {
        for status in [503, 504] {
            for idempotency in [SEND, IDEMPOTENT] {
                assert_eq!(
                    first(response(status, Some(2)), idempotency),
                    Decision::RetryAfter(Duration::from_secs(2)),
                    "{status}"
                );
            }
        }
        // 502 has no Retry-After rule: a send is not retried.
        assert_eq!(first(response(502, Some(2)), SEND), Decision::Return);
    }

    #[test]
    fn gateway_errors_without_retry_after_are_retried_only_when_idempotent() {
        for status in [502, 503, 504] {
            assert_eq!(first(response(status, None), IDEMPOTENT), BACKOFF_1);
            assert_eq!(first(response(status, None), SEND), Decision::Return);
        }
        assert_eq!(first(response(500, None), IDEMPOTENT), Decision::Return);
    }

    #[test]
    fn server_errors_on_a_send_are_retried_only_with_retry_unknown_outcome() {
        let policy = unknown_outcome_retried();
        for status in [500, 502, 503, 504, 599] {
            assert_eq!(
                first(response(status, None), SEND),
                Decision::Return,
                "{status}"
            );
            assert_eq!(
                decide(
                    response(status, None),
                    SEND,
                    &policy,
                    1,
                    Duration::ZERO,
                    NO_JITTER
                ),
                BACKOFF_1,
                "{status}"
            );
        }
        assert_eq!(
            decide(
                response(500, Some(3)),
                SEND,
                &policy,
                1,
                Duration::ZERO,
                NO_JITTER
            ),
            Decision::RetryAfter(Duration::from_secs(3))
        );
    }

    #[test]
    fn answers_are_returned_as_they_are() {
        for status in [200, 201, 202, 204, 400, 401, 403, 404, 409, 413] {
            for idempotency in [SEND, IDEMPOTENT] {
                assert_eq!(
                    first(response(status, Some(1)), idempotency),
                    Decision::Return,
                    "{status}"
                );
            }
        }
    }

    #[test]
    fn failures_before_sending_are_retried() {
        let refused = Attempted::NoResponse {
            maybe_delivered: false,
            retryable: true,
        };
        assert_eq!(first(refused, SEND), BACKOFF_1);
        assert_eq!(first(refused, IDEMPOTENT), BACKOFF_1);
    }

    #[test]
    fn lost_answers_are_retried_only_when_idempotent_or_allowed() {
        let timed_out = Attempted::NoResponse {
            maybe_delivered: true,
            retryable: true,
        };
        assert_eq!(first(timed_out, IDEMPOTENT), BACKOFF_1);
        assert_eq!(first(timed_out, SEND), Decision::Return);
        assert_eq!(
            decide(
                timed_out,
                SEND,
                &unknown_outcome_retried(),
                1,
                Duration::ZERO,
                NO_JITTER
            ),
            BACKOFF_1
        );
    }

    #[test]
    fn unretryable_failures_are_never_retried() {
        let untrusted = Attempted::NoResponse {
            maybe_delivered: false,
            retryable: false,
        };
        for idempotency in [SEND, IDEMPOTENT] {
            assert_eq!(first(untrusted, idempotency), Decision::Return);
            assert_eq!(
                decide(
                    untrusted,
                    idempotency,
                    &unknown_outcome_retried(),
                    1,
                    Duration::ZERO,
                    NO_JITTER
                ),
                Decision::Return
            );
        }
    }

    /// IMDS retry guidance: 404, 408, 410, 429 and 5xx are retried; other 4xx and a refused
    /// connection (no endpoint on this machine) are not.
    #[test]
    fn managed_identity_requests_follow_the_platform_guidance() {
        let mi = Idempotency::ManagedIdentity;
        for status in [404, 408, 410, 429, 500, 502, 503, 504] {
            assert!(
                matches!(first(response(status, None), mi), Decision::RetryAfter(_)),
                "{status}"
            );
        }
        for status in [400, 401, 403] {
            assert_eq!(
                first(response(status, None), mi),
                Decision::Return,
                "{status}"
            );
        }
        let refused = Attempted::NoResponse {
            maybe_delivered: false,
            retryable: true,
        };
        assert_eq!(first(refused, mi), Decision::Return);
        let lost = Attempted::NoResponse {
            maybe_delivered: true,
            retryable: true,
        };
        assert!(matches!(first(lost, mi), Decision::RetryAfter(_)));
    }

    /// IMDS's 410 is waited out for its documented 70 s: every 10 s, 7 retries, beyond
    /// max_attempts but never beyond the wait budget.
    #[test]
    fn imds_updating_is_waited_out_for_seventy_seconds() {
        let policy = RetryPolicy::default();
        let gone = || response(410, None);
        let mi = Idempotency::ManagedIdentity;
        let mut waited = Duration::ZERO;
        for attempt in 1..=7 {
            assert_eq!(
                decide(gone(), mi, &policy, attempt, waited, NO_JITTER),
                Decision::RetryAfter(Duration::from_secs(10)),
                "attempt {attempt}"
            );
            waited += Duration::from_secs(10);
        }
        assert_eq!(waited, Duration::from_secs(70));
        assert_eq!(
            decide(gone(), mi, &policy, 8, waited, NO_JITTER),
            Decision::OutOfBudget
        );
        let short = RetryPolicy {
            max_total_wait: Duration::from_secs(25),
            ..RetryPolicy::default()
        };
        assert_eq!(
            decide(gone(), mi, &short, 3, Duration::from_secs(20), NO_JITTER),
            Decision::OutOfBudget
        );
        // Only managed-identity requests: a 410 elsewhere is an answer.
        assert_eq!(
            decide(
                gone(),
                Idempotency::Idempotent,
                &policy,
                1,
                Duration::ZERO,
                NO_JITTER
            ),
            Decision::Return
        );
    }

    #[test]
    fn budgets_end_the_retries() {
        let policy = RetryPolicy {
            max_attempts: 3,
            max_total_wait: Duration::from_secs(10),
            retry_unknown_outcome: false,
        };
        let throttled = |retry_after| response(429, Some(retry_after));
        let at = |attempt, waited| {
            decide(
                throttled(4),
                SEND,
                &policy,
                attempt,
                Duration::from_secs(waited),
                NO_JITTER,
            )
        };
        assert_eq!(at(2, 0), Decision::RetryAfter(Duration::from_secs(4)));
        assert_eq!(at(3, 0), Decision::OutOfBudget);
        // Exactly at the budget is fine; beyond it is not.
        assert_eq!(at(1, 6), Decision::RetryAfter(Duration::from_secs(4)));
        assert_eq!(at(1, 7), Decision::OutOfBudget);
        let lost = Attempted::NoResponse {
            maybe_delivered: false,
            retryable: true,
        };
        assert_eq!(
            decide(lost, SEND, &policy, 3, Duration::ZERO, NO_JITTER),
            Decision::OutOfBudget
        );
    }

    #[test]
    fn jitter_goes_on_backoff_only() {
        let policy = RetryPolicy::default();
        let jitter = Duration::from_millis(123);
        let at = |attempted| decide(attempted, SEND, &policy, 1, Duration::ZERO, jitter);
        assert_eq!(
            at(response(429, None)),
            Decision::RetryAfter(Duration::from_millis(623))
        );
        assert_eq!(
            at(response(429, Some(2))),
            Decision::RetryAfter(Duration::from_secs(2))
        );
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(1, NO_JITTER), Duration::from_millis(500));
        assert_eq!(backoff(2, NO_JITTER), Duration::from_secs(1));
        assert_eq!(backoff(3, NO_JITTER), Duration::from_secs(2));
        assert_eq!(backoff(30, NO_JITTER), Duration::from_secs(30));
        let most = Duration::from_millis(MAX_JITTER_MS);
        assert!(backoff(30, most) <= Duration::from_millis(30_250));
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(3)));
        h.insert("retry-after", "2.5".parse().unwrap());
        assert_eq!(parse_retry_after(&h), Some(Duration::from_millis(2500)));
        let future = SystemTime::now() + Duration::from_secs(30);
        h.insert(
            "retry-after",
            httpdate::fmt_http_date(future).parse().unwrap(),
        );
        let d = parse_retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(parse_retry_after(&h), None);
    }

    #[test]
    fn upload_ranges_are_retried_only_when_graph_says_so_or_nothing_was_sent() {
        const RANGE: Idempotency = Idempotency::ResumeFirst;
        assert_eq!(
            first(response(429, Some(2)), RANGE),
            Decision::RetryAfter(Duration::from_secs(2))
        );
        assert_eq!(
            first(response(503, Some(1)), RANGE),
            Decision::RetryAfter(Duration::from_secs(1))
        );
        for status in [500, 502, 503, 504] {
            assert_eq!(first(response(status, None), RANGE), Decision::Return);
        }
        let lost_answer = Attempted::NoResponse {
            maybe_delivered: true,
            retryable: true,
        };
        assert_eq!(first(lost_answer, RANGE), Decision::Return);
        let refused = Attempted::NoResponse {
            maybe_delivered: false,
            retryable: true,
        };
        assert_eq!(first(refused, RANGE), BACKOFF_1);
    }
}
