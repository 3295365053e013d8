//! The authorised request Graph and Gmail share: the bearer token of the service's
//! [`TokenProvider`], one fresh token and one more try when the service rejects it (401), a
//! service's own "refused, wait" answers waited out (Gmail's 403 rate limits; 429 and 503 are
//! waited out below, in [`Http::execute`]), and a lost answer ([`Answer::Lost`]) told apart
//! from a failure before anything reached the service (`Err`).

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, HeaderValue};
use url::Url;

use crate::config::RetryPolicy;
use crate::error::{Error, Outcome, Result, Status};
use crate::http::{Http, HttpFailure, HttpResponse, Idempotency};
use crate::logging::OpLog;
use crate::token::TokenProvider;

/// The service a request goes to: it names the service in messages and says where to look
/// when a send's answer was lost (`mail::prepare` adds its message limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Graph,
    Gmail,
}

impl Service {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Service::Graph => "Graph",
            Service::Gmail => "Gmail",
        }
    }

    /// The remedy for a send whose outcome is unknown.
    fn check_sent_mail(self, client_request_id: &str) -> String {
        match self {
            Service::Graph => format!(
                "Check the sender's Sent Items (client-request-id {client_request_id}) before sending again."
            ),
            // Gmail does not record the client-request-id.
            Service::Gmail => "Check the sender's Sent mail in Gmail before sending again.".into(),
        }
    }
}

/// One request of an operation: its name in logs and errors, whether it sends the message
/// (then a lost answer is an unknown outcome), how to retry it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step {
    pub service: Service,
    pub name: &'static str,
    pub sends: bool,
    pub idempotency: Idempotency,
}

/// What a request sends; the authorization and `Accept: application/json` are added by
/// [`call`].
pub(crate) struct Request<'a> {
    pub method: Method,
    pub url: Target<'a>,
    pub headers: &'a [(&'static str, &'a str)],
    pub body: Option<bytes::Bytes>,
}

/// Where a request goes. reqwest parses a text URL again for every attempt (host and IDNA
/// included), so a hot path hands over a [`Url`] it built without parsing the host.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    Text(&'a str),
    Parsed(&'a Url),
}

impl<'a> From<&'a str> for Target<'a> {
    fn from(url: &'a str) -> Target<'a> {
        Target::Text(url)
    }
}

impl<'a> From<&'a String> for Target<'a> {
    fn from(url: &'a String) -> Target<'a> {
        Target::Text(url)
    }
}

impl<'a> From<&'a Url> for Target<'a> {
    fn from(url: &'a Url) -> Target<'a> {
        Target::Parsed(url)
    }
}

/// What came of a request whose answer may be lost.
#[derive(Debug)]
pub(crate) enum Answer {
    /// The service answered (any status).
    Response(HttpResponse),
    /// The request may have reached the service and no answer came back (a timeout, a dropped
    /// connection): its effect is unknown. The error reports it.
    Lost(Error),
}

/// Says whether an answer is the service refusing the request for now (it did nothing), with
/// the reason for the log; such answers are retried with backoff (1 s, 2 s, 4 s, … plus up to
/// 250 ms of jitter, Google's guidance) within the retry budget.
pub(crate) type Refusal = fn(&HttpResponse) -> Option<String>;

/// An authenticated request as the holder of `tokens`.
pub(crate) async fn call(
    http: &Http,
    tokens: &TokenProvider,
    step: Step,
    log: &mut OpLog,
    request: Request<'_>,
    refusal: Option<Refusal>,
) -> Result<Answer> {
    let Request {
        method,
        url,
        headers,
        body,
    } = request;
    let (mut token, _) = tokens
        .get(false, log)
        .await
        .map_err(|e| e.with_outcome(Outcome::Failed))?;
    let mut refreshed = false;
    // Attempts made before the current one (a rejected token, waited-out refusals): every
    // answer reports the operation's total.
    let mut earlier_attempts = 0;
    let mut refusals: u32 = 0;
    let mut waited = Duration::ZERO;
    loop {
        let result = http
            .execute(step.name, step.idempotency, log, |client| {
                let request = match url {
                    Target::Text(text) => client.request(method.clone(), text),
                    Target::Parsed(parsed) => client.request(method.clone(), parsed.clone()),
                };
                let mut request = match &token.bearer {
                    Some(bearer) => request.header(AUTHORIZATION, bearer.clone()),
                    // Not a valid header value: reqwest fails the request as invalid.
                    None => {
                        request.header(AUTHORIZATION, format!("Bearer {}", token.token.expose()))
                    }
                }
                .header(ACCEPT, HeaderValue::from_static("application/json"));
                for (name, value) in headers {
                    request = request.header(*name, *value);
                }
                match &body {
                    Some(b) => request.body(b.clone()),
                    None => request.header(CONTENT_LENGTH, HeaderValue::from_static("0")),
                }
            })
            .await;
        let mut response = match result {
            Ok(r) => r,
            Err(failure) => {
                let lost = matches!(&failure, HttpFailure::Transport(t) if t.maybe_delivered);
                let e = transport_error(step, failure, &http.retry_policy());
                return if lost { Ok(Answer::Lost(e)) } else { Err(e) };
            }
        };
        response.attempts += earlier_attempts;
        if response.status == 401 && !refreshed {
            log.info(format!(
                "{}: {} rejected the token (HTTP 401); fetching a new token and trying once more",
                step.name,
                step.service.name()
            ));
            refreshed = true;
            earlier_attempts = response.attempts;
            token = tokens
                .replace_rejected(&token, log)
                .await
                .map_err(|e| e.with_outcome(Outcome::Failed))?;
            continue;
        }
        if let Some(reason) = refusal.and_then(|refused| refused(&response)) {
            let policy = http.retry_policy();
            refusals += 1;
            let wait = Duration::from_secs(1 << (refusals - 1).min(5))
                + Duration::from_millis(fastrand::u64(..250));
            if response.attempts < policy.max_attempts && waited + wait <= policy.max_total_wait {
                log.info(format!(
                    "{}: {} refused the request for now ({reason}); retrying in {} ms",
                    step.name,
                    step.service.name(),
                    wait.as_millis()
                ));
                log.server_asked_to_wait(wait);
                log.add_waited(wait);
                waited += wait;
                earlier_attempts = response.attempts;
                if crate::cancel::cancellable_sleep(log.cancel(), wait)
                    .await
                    .is_err()
                {
                    return Err(Error::cancelled(step.name).with_outcome(Outcome::Failed));
                }
                continue;
            }
        }
        return Ok(Answer::Response(response));
    }
}

/// The error of a request that got no answer: for a send whose request may have arrived, an
/// unknown outcome.
fn transport_error(step: Step, failure: HttpFailure, retry: &RetryPolicy) -> Error {
    let service = step.service.name();
    match failure {
        HttpFailure::Transport(t) if t.maybe_delivered && step.sends => {
            let mut e = Error::new(
                Status::OutcomeUnknown,
                format!(
                    "{service} {}: {}; the request reached the server, so the message may or may not have been sent",
                    step.name, t.message
                ),
            )
            .with_outcome(Outcome::Unknown)
            .with_remedy(format!(
                "{}{}",
                step.service.check_sent_mail(&t.client_request_id),
                if retry.retry_unknown_outcome {
                    ""
                } else {
                    " retry.retryUnknownOutcome: true retries such sends automatically, at the risk of a duplicate."
                }
            ));
            e.client_request_id = Some(t.client_request_id);
            e.attempts = Some(t.attempts);
            e
        }
        HttpFailure::Cancelled {
            after_unknown_outcome: true,
            client_request_id,
            attempts,
        } if step.sends => {
            let mut e = Error::new(
                Status::Cancelled,
                format!(
                    "{service} {}: cancelled by the caller while waiting to retry; an earlier attempt reached the server and its answer was lost, so the message may or may not have been sent",
                    step.name
                ),
            )
            .with_outcome(Outcome::Unknown)
            .with_remedy(step.service.check_sent_mail(&client_request_id));
            e.client_request_id = Some(client_request_id);
            e.attempts = Some(attempts);
            e
        }
        other => other
            .into_error(&format!("{service} {} failed", step.name))
            .with_outcome(Outcome::Failed),
    }
}
