//! The floor under the mail code: a [`GraphSession`] (the handle's HTTP client, token cache,
//! Graph root and retry policy) and what every Graph request of a send needs: the
//! authenticated call with one token refresh on 401, the [`Step`] it belongs to, and the
//! mapping of Graph's answers and transport failures to [`Error`]s with remedies.
//!
//! `send.rs` (sendMail) and `upload.rs` (the draft path) stand on this and never on each other.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde::Deserialize;
use url::Url;

use crate::authorized::{self, Request, Service, Target};
use crate::config::{RetryPolicy, SendingLimits};
use crate::error::{Error, Outcome, Result, Status};
use crate::http::{Budget, Http, HttpResponse, Idempotency};
use crate::logging::OpLog;
use crate::mail::gate::SendGates;
use crate::mail::message::SendResult;
use crate::token::TokenProvider;

/// Attachments of this size or more need an upload session (Graph says "3 MB" and means 3 MiB).
pub const LARGE_ATTACHMENT_BYTES: usize = 3 * 1024 * 1024;
/// Graph's request size limit (4 MB).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// Path-segment encoding: keep unreserved characters and '@' (user principal names).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@')
    .remove(b'=');

pub(crate) fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, PATH_SEGMENT).to_string()
}

/// `{root}/v1.0/users/{mailbox}/{path}`, the mailbox percent-encoded.
fn user_url(root: &str, mailbox: &str, path: &str) -> String {
    format!("{root}/v1.0/users/{}/{path}", encode_segment(mailbox))
}

/// [`user_url`] with `root` already parsed: the same URL, with only its path parsed.
fn user_target(root: &Url, mailbox: &str, path: &str) -> Url {
    let root_path = root.path().trim_end_matches('/');
    let mut full = String::with_capacity(root_path.len() + mailbox.len() + path.len() + 16);
    full.push_str(root_path);
    full.push_str("/v1.0/users/");
    full.extend(utf8_percent_encode(mailbox, PATH_SEGMENT));
    full.push('/');
    full.push_str(path);
    let mut url = root.clone();
    url.set_path(&full);
    url
}

/// The Graph request a failure happened in; decides remedies and whether a lost answer means
/// an unknown outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    SendMail,
    CreateDraft,
    AddAttachment,
    CreateUploadSession,
    UploadChunk,
    SendDraft,
    DeleteDraft,
    /// `GET …/messages?$filter=…`: the draft by its send marker, after a lost create answer.
    FindDraft,
    /// `GET …/messages/{id}/attachments`: did a finished upload attach its file?
    ListAttachments,
    /// `GET {uploadUrl}`: how far the upload session got (`nextExpectedRanges`).
    UploadStatus,
}

impl Step {
    fn is_send(self) -> bool {
        matches!(self, Step::SendMail | Step::SendDraft)
    }

    fn needs_read_write(self) -> bool {
        matches!(
            self,
            Step::CreateDraft
                | Step::AddAttachment
                | Step::CreateUploadSession
                | Step::DeleteDraft
                | Step::FindDraft
                | Step::ListAttachments
        )
    }

    pub fn describe(self) -> &'static str {
        match self {
            Step::SendMail => "sendMail",
            Step::CreateDraft => "create draft",
            Step::AddAttachment => "add attachment",
            Step::CreateUploadSession => "create upload session",
            Step::UploadChunk => "upload chunk",
            Step::SendDraft => "send draft",
            Step::DeleteDraft => "delete draft",
            Step::FindDraft => "find draft",
            Step::ListAttachments => "list draft attachments",
            Step::UploadStatus => "ask upload session",
        }
    }
}

pub(crate) use crate::authorized::Answer;

/// Everything a Graph request needs, for one client handle.
#[derive(Debug)]
pub(crate) struct GraphSession {
    http: Http,
    tokens: TokenProvider,
    /// `https://graph.microsoft.com` or the configured override, without a trailing slash.
    graph_root: String,
    /// [`GraphSession::graph_root`] parsed once, for [`GraphSession::user_target`].
    graph_root_url: Url,
    /// The last sendMail URL built, by mailbox.
    send_mail_url: LastUrl,
    gates: SendGates,
}

/// The last URL built and the mailbox it is for: a host sending mail after mail from one
/// mailbox builds its URL once instead of for every send.
#[derive(Debug, Default)]
struct LastUrl(parking_lot::Mutex<Option<(String, Url)>>);

impl LastUrl {
    /// The URL for `mailbox`: the kept one when it is that mailbox's, else `make()` (then kept).
    fn get_or_make(&self, mailbox: &str, make: impl FnOnce() -> Url) -> Url {
        let mut last = self.0.lock();
        if let Some((kept, url)) = &*last
            && kept == mailbox
        {
            return url.clone();
        }
        let url = make();
        *last = Some((mailbox.to_owned(), url.clone()));
        url
    }
}

impl GraphSession {
    pub(crate) fn new(
        http: Http,
        tokens: TokenProvider,
        graph_root: String,
        sending: SendingLimits,
    ) -> Result<GraphSession> {
        let graph_root_url = Url::parse(&graph_root)
            .map_err(|e| Error::config(format!("graphRoot is not a valid URL ({e})")))?;
        Ok(GraphSession {
            http,
            tokens,
            graph_root,
            graph_root_url,
            send_mail_url: LastUrl::default(),
            gates: SendGates::new(sending),
        })
    }

    /// The client's send slots (per mailbox and overall).
    pub(crate) fn gates(&self) -> &SendGates {
        &self.gates
    }

    pub(crate) fn tokens(&self) -> &TokenProvider {
        &self.tokens
    }

    /// The HTTP client itself, for requests that carry their own authorization (upload chunks).
    pub(crate) fn http(&self) -> &Http {
        &self.http
    }

    pub(crate) fn retry_policy(&self) -> RetryPolicy {
        self.http.retry_policy()
    }

    /// `{graph root}/v1.0/users/{mailbox}/{path}`, the mailbox percent-encoded.
    pub(crate) fn user_url(&self, mailbox: &str, path: &str) -> String {
        user_url(&self.graph_root, mailbox, path)
    }

    /// [`GraphSession::user_url`] as a parsed URL, made from the root parsed once: only the
    /// path is new, so the host is not parsed (and IDNA-mapped) again for every send.
    pub(crate) fn user_target(&self, mailbox: &str, path: &str) -> Url {
        user_target(&self.graph_root_url, mailbox, path)
    }

    /// `{graph root}/v1.0/users/{mailbox}/sendMail` ([`GraphSession::user_target`]).
    pub(crate) fn send_mail_target(&self, mailbox: &str) -> Url {
        self.send_mail_url
            .get_or_make(mailbox, || self.user_target(mailbox, "sendMail"))
    }

    /// An authenticated Graph request with JSON (or empty) body. A 401 gets one fresh token and
    /// one more try. Transport failures become errors here: for a send step a lost answer is an
    /// unknown outcome.
    pub(crate) async fn graph_call(
        &self,
        step: Step,
        log: &mut OpLog,
        method: Method,
        url: impl Into<Target<'_>>,
        body: Option<bytes::Bytes>,
    ) -> Result<HttpResponse> {
        match self.graph_call_answer(step, log, method, url, body).await? {
            Answer::Response(response) => Ok(response),
            Answer::Lost(e) => Err(e),
        }
    }

    /// [`GraphSession::graph_call`], telling a lost answer ([`Answer::Lost`]) from a failure
    /// before anything reached Graph (`Err`), for a caller that can find out what happened.
    pub(crate) async fn graph_call_answer(
        &self,
        step: Step,
        log: &mut OpLog,
        method: Method,
        url: impl Into<Target<'_>>,
        body: Option<bytes::Bytes>,
    ) -> Result<Answer> {
        let idempotency = match method {
            Method::GET | Method::DELETE | Method::PUT => Idempotency::Idempotent,
            _ => Idempotency::NonIdempotent,
        };
        let step = authorized::Step {
            service: Service::Graph,
            name: step.describe(),
            sends: step.is_send(),
            idempotency,
        };
        let headers: &[(&str, &str)] = match body {
            Some(_) => &[("content-type", "application/json")],
            None => &[],
        };
        let request = Request {
            method,
            url: url.into(),
            headers,
            body,
        };
        authorized::call(&self.http, &self.tokens, step, log, request, None).await
    }
}

impl SendResult {
    /// The result of a send whose final request got `response`.
    pub(crate) fn sent(response: &HttpResponse, upload_session: bool) -> SendResult {
        SendResult {
            status: "sent".into(),
            attempts: response.attempts,
            duration_ms: 0,
            waited_ms: 0,
            upload_session,
            client_request_id: response.client_request_id.clone(),
            request_id: response.request_id.clone(),
            possible_duplicate: response.repeated_after_unknown_outcome,
            log: Vec::new(),
        }
    }
}

#[derive(Deserialize, Default)]
struct GraphErrorBody {
    error: Option<GraphErrorInner>,
}

#[derive(Deserialize, Default)]
struct GraphErrorInner {
    code: Option<String>,
    message: Option<String>,
}

/// What to change after a 429 that was not retried further: the budget that ran out, by the
/// names the config and PowerShell use.
fn throttle_budget_advice(response: &HttpResponse) -> String {
    let asked = response
        .retry_after
        .map(|d| format!(" (Graph asked to wait {} s)", d.as_secs()))
        .unwrap_or_default();
    match response.budget_exhausted {
        Some(Budget::Attempts { max_attempts }) => format!(
            "All {max_attempts} attempts were throttled{asked}: send fewer messages to this mailbox at once, or raise retry.maxAttempts."
        ),
        Some(Budget::Wait {
            max_total_wait_seconds,
        }) => format!(
            "Waiting again{asked} would pass the wait budget of {max_total_wait_seconds} s: send fewer messages to this mailbox at once, or raise retry.maxTotalWaitSeconds."
        ),
        None => "Send fewer messages to this mailbox at once.".to_owned(),
    }
}

/// Maps a non-success Graph response to an error with a remedy.
pub(crate) fn graph_error(step: Step, response: &HttpResponse, mailbox: &str) -> Error {
    let body: GraphErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
    let inner = body.error.unwrap_or_default();
    let code = inner.code.unwrap_or_default();
    let graph_message = inner.message.unwrap_or_default();
    let status = response.status;
    let described = if code.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status} {code}: {graph_message}")
    };
    let (kind, remedy, outcome): (Status, String, Outcome) = match (status, code.as_str()) {
        (429, _) => (
            Status::Throttled,
            format!(
                "Graph throttled the app for mailbox {mailbox} (limits: 4 concurrent requests, 10,000 requests per 10 minutes per app and mailbox). {}",
                throttle_budget_advice(response)
            ),
            Outcome::Failed,
        ),
        (401, _) => (
            Status::AuthenticationFailed,
            "Graph rejected the access token even after a refresh: check that the cloud matches the tenant (the token audience must be this cloud's Graph).".into(),
            Outcome::Failed,
        ),
        (403, "ErrorSendAsDenied") => (
            Status::PermissionDenied,
            format!("The app may send as {mailbox} only through that mailbox's own URL; make 'from' the mailbox you send from, or grant Send As."),
            Outcome::Failed,
        ),
        (403, _) if step.needs_read_write() => (
            Status::PermissionDenied,
            format!(
                "Attachments of 3 MiB or more (and very large messages) need a draft and upload sessions, which need the Mail.ReadWrite application permission with admin consent. Or an Application Access Policy / RBAC scope excludes {mailbox}."
            ),
            Outcome::Failed,
        ),
        (403, _) => (
            Status::PermissionDenied,
            format!(
                "Grant the Microsoft Graph application permission Mail.Send with admin consent; if it is granted, an Exchange Application Access Policy or RBAC for Applications scope excludes the mailbox {mailbox}."
            ),
            Outcome::Failed,
        ),
        (404, "ErrorInvalidUser" | "ResourceNotFound") => (
            Status::GraphError,
            format!("The mailbox {mailbox} does not exist in this tenant: check the from address (the user principal name or primary SMTP address)."),
            Outcome::Failed,
        ),
        (404, "MailboxNotEnabledForRESTAPI") => (
            Status::GraphError,
            format!("The mailbox {mailbox} is inactive, soft-deleted, hosted on-premises or has no Exchange Online license."),
            Outcome::Failed,
        ),
        (413, _) | (_, "RequestEntityTooLarge") => (
            Status::RequestTooLarge,
            "Graph (or a proxy or gateway on the way) refused the request as too large. Graph accepts at most 4 MiB per request, and pmp-mail keeps below that (attachments of 3 MiB or more go in upload ranges of 3.75 MiB), so a proxy or gateway with a lower request-size limit is the likely cause: raise its limit or bypass it for graph.microsoft.com (http.proxy, http.noProxy). Nothing was sent.".into(),
            Outcome::Failed,
        ),
        (_, "ErrorMessageSizeExceeded") => (
            Status::Attachment,
            "The message is too large for Graph or for the mailbox's size limit (35 MB by default, up to 150 MB): send smaller attachments or raise the mailbox's MaxSendSize.".into(),
            Outcome::Failed,
        ),
        (400, "ErrorInvalidRecipients") => (
            Status::GraphError,
            "Check the recipient addresses.".into(),
            Outcome::Failed,
        ),
        (400, "InvalidInternetMessageHeader" | "InvalidInternetMessageHeaderCollection") => (
            Status::GraphError,
            "Custom headers must start with x- and there may be at most 5.".into(),
            Outcome::Failed,
        ),
        (500..=599, _) if step.is_send() => (
            Status::OutcomeUnknown,
            "Graph failed after receiving the message, which may still be sent: check the sender's Sent Items before sending again. retry.retryUnknownOutcome: true retries such sends automatically, at the risk of a duplicate.".into(),
            Outcome::Unknown,
        ),
        (500..=599, _) => (
            Status::GraphError,
            "Graph is having trouble; nothing was sent. Try again later.".into(),
            Outcome::Failed,
        ),
        _ => (
            Status::GraphError,
            "See Graph's error code and message.".into(),
            Outcome::Failed,
        ),
    };
    // An unknown outcome must not read as a refusal: that wording invites the resend that
    // delivers the message twice.
    let message = if outcome == Outcome::Unknown {
        format!(
            "Graph may have accepted the {} request and sent the message: it answered {described}, which does not say whether it went out. Sending it again can deliver it twice.",
            step.describe()
        )
    } else {
        format!("Graph refused the {} request: {described}", step.describe())
    };
    let mut e = Error::new(kind, message)
        .with_remedy(remedy)
        .with_outcome(outcome);
    e.http_status = Some(status);
    e.graph_code = (!code.is_empty()).then_some(code);
    e.request_id = response.request_id.clone();
    e.client_request_id = Some(response.client_request_id.clone());
    e.attempts = Some(response.attempts);
    e.retry_after_seconds = response.retry_after.map(|d| d.as_secs());
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_url_is_reused_only_for_its_mailbox() {
        let root = Url::parse("https://graph.microsoft.com").unwrap();
        let last = LastUrl::default();
        let made = std::cell::Cell::new(0);
        let url_of = |mailbox: &str| {
            last.get_or_make(mailbox, || {
                made.set(made.get() + 1);
                user_target(&root, mailbox, "sendMail")
            })
        };
        for (mailbox, builds) in [
            ("a@x.com", 1),
            ("a@x.com", 1),
            ("b@x.com", 2),
            ("a@x.com", 3),
        ] {
            assert_eq!(
                url_of(mailbox).as_str(),
                format!("https://graph.microsoft.com/v1.0/users/{mailbox}/sendMail")
            );
            assert_eq!(made.get(), builds, "{mailbox}");
        }
    }

    #[test]
    fn user_target_is_the_parsed_user_url() {
        for root in [
            "https://graph.microsoft.com",
            "https://dod-graph.microsoft.us",
            "https://127.0.0.1:4443",
            "https://proxy.example/graph/prefix",
            "https://bücher.example",
        ] {
            let parsed = Url::parse(root).unwrap();
            for mailbox in [
                "alerts@contoso.onmicrosoft.com",
                "first.last+tag@contoso.com",
                "o'brien@contoso.com",
                "a b?c#d%41/e@contoso.com",
                "jürgen@bücher.example",
                "11111111-2222-3333-4444-555555555555",
            ] {
                for path in ["sendMail", "messages", "messages/AAMk=/send"] {
                    let text = user_url(root, mailbox, path);
                    assert_eq!(
                        user_target(&parsed, mailbox, path).as_str(),
                        Url::parse(&text).unwrap().as_str(),
                        "{root} {mailbox} {path}"
                    );
                }
            }
        }
    }

    #[test]
    fn segments_keep_at_and_encode_the_rest() {
        assert_eq!(encode_segment("alerts@contoso.com"), "alerts@contoso.com");
        assert_eq!(encode_segment("jörg@x.de"), "j%C3%B6rg@x.de");
        assert_eq!(encode_segment("a/b?c"), "a%2Fb%3Fc");
    }
}
