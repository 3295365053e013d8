//! `users.messages.send`, and the size policy that picks its form:
//! - the message's JSON request (`{"raw": base64url}`) below 1,000,000 bytes (Gmail refuses
//!   JSON bodies over 1 MiB);
//! - else the upload endpoint, `uploadType=multipart` (JSON metadata + `message/rfc822`) for
//!   messages up to 5 MiB;
//! - else `uploadType=resumable`: a session (`POST`, its URI in `Location`), then the message in
//!   one `PUT`. A `PUT` whose answer is lost is asked about (`Content-Range: bytes */N`): a
//!   finished session means sent, an unfinished one means not sent, anything else is unknown.
//!
//! Gmail's limit, 35 MiB for the whole message, is checked before any request.

use base64::Engine;
use reqwest::Method;
use serde::Deserialize;

use super::error::gmail_error;
use super::{Answer, GmailSession, Request, Step, step};
use crate::error::{Error, Outcome, Result, Status};
use crate::http::{HttpResponse, Idempotency};
use crate::logging::OpLog;
use crate::mail::gate::SendSlot;
use crate::mail::message::SendResult;
use crate::mail::prepare::{GMAIL_MAX_MESSAGE_BYTES, PreparedMessage};

/// The largest JSON request sent to the metadata endpoint.
pub const MAX_JSON_REQUEST_BYTES: usize = 1_000_000;
/// The largest message sent with `uploadType=multipart`.
pub const MAX_MULTIPART_BYTES: usize = 5 * 1024 * 1024;

const SEND_PATH: &str = "/gmail/v1/users/me/messages/send";
const UPLOAD_PATH: &str = "/upload/gmail/v1/users/me/messages/send";

const SEND_RAW: Step = step("messages.send", true, Idempotency::NonIdempotent);
const SEND_MULTIPART: Step = step(
    "messages.send (multipart upload)",
    true,
    Idempotency::NonIdempotent,
);
// Starting a session sends nothing; a second session is harmless.
const START_RESUMABLE: Step = step("start resumable upload", false, Idempotency::Idempotent);
const SEND_RESUMABLE: Step = step(
    "messages.send (resumable upload)",
    true,
    Idempotency::NonIdempotent,
);
const ASK_SESSION: Step = step("ask upload session", false, Idempotency::Idempotent);

/// How a message goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Json,
    Multipart,
    Resumable,
}

/// The size policy, from the RFC 5322 size.
pub(crate) fn route(raw_len: usize) -> Route {
    if json_request_len(raw_len) < MAX_JSON_REQUEST_BYTES {
        Route::Json
    } else if raw_len <= MAX_MULTIPART_BYTES {
        Route::Multipart
    } else {
        Route::Resumable
    }
}

/// `{"raw":"…"}` around the padded base64url of `raw_len` bytes.
fn json_request_len(raw_len: usize) -> usize {
    r#"{"raw":""}"#.len() + raw_len.div_ceil(3) * 4
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SentMessage {
    id: Option<String>,
    thread_id: Option<String>,
}

/// Sends a prepared message as its user, in its send slot.
pub(crate) async fn send_in_slot(
    session: &GmailSession,
    message: &PreparedMessage,
    slot: &SendSlot,
    log: &mut OpLog,
) -> Result<SendResult> {
    log.set_mailbox(slot.mailbox());
    let from = &message.from.address;
    let subject = session.subject_for(from).to_owned();
    if !subject.eq_ignore_ascii_case(from) {
        log.info(format!(
            "sending as {subject} (google.impersonate); Gmail sends from {from} only if it is one of that user's send-as addresses"
        ));
    }
    if !message.save_to_sent_items {
        log.info(
            "saveToSentItems false cannot be honoured: Gmail keeps every sent message in Sent mail",
        );
    }
    let domain = from.rsplit('@').next().unwrap_or("pmp-mail.invalid");
    let message_id = format!("{}@{domain}", uuid::Uuid::new_v4().simple());
    let raw = super::mime::build(message, &message_id);
    if raw.len() > GMAIL_MAX_MESSAGE_BYTES {
        return Err(Error::new(
            Status::Attachment,
            format!(
                "the message is {} bytes as sent (attachments base64-encoded); Gmail accepts at most {GMAIL_MAX_MESSAGE_BYTES} bytes (35 MiB)",
                raw.len()
            ),
        )
        .with_remedy("Send fewer or smaller attachments (base64 makes them a third larger), or a link to the files (e.g. Google Drive) instead.")
        .with_outcome(Outcome::Failed));
    }
    let route = route(raw.len());
    log.info(format!(
        "Gmail message <{message_id}> is {} bytes: {}",
        raw.len(),
        match route {
            Route::Json => "one JSON request",
            Route::Multipart => "one multipart upload",
            Route::Resumable => "a resumable upload",
        }
    ));
    let (response, upload_session) = match route {
        Route::Json => {
            let body = format!(
                r#"{{"raw":"{}"}}"#,
                base64::engine::general_purpose::URL_SAFE.encode(&raw)
            );
            let answer = session
                .call(
                    SEND_RAW,
                    &subject,
                    log,
                    Request {
                        method: Method::POST,
                        url: (&session.url(SEND_PATH)).into(),
                        headers: &[("content-type", "application/json")],
                        body: Some(body.into()),
                    },
                )
                .await?;
            (answered(answer)?, false)
        }
        Route::Multipart => {
            let (content_type, body) = multipart(&raw);
            let answer = session
                .call(
                    SEND_MULTIPART,
                    &subject,
                    log,
                    Request {
                        method: Method::POST,
                        url: (&session.url(&format!("{UPLOAD_PATH}?uploadType=multipart"))).into(),
                        headers: &[("content-type", &content_type)],
                        body: Some(body.into()),
                    },
                )
                .await?;
            (answered(answer)?, false)
        }
        Route::Resumable => (resumable(session, &subject, raw, log).await?, true),
    };
    if !response.is_success() {
        let step = match route {
            Route::Json => SEND_RAW,
            Route::Multipart => SEND_MULTIPART,
            Route::Resumable => SEND_RESUMABLE,
        };
        return Err(gmail_error(
            step.name,
            true,
            &response,
            from,
            session.account(),
        ));
    }
    let sent: SentMessage = serde_json::from_slice(&response.body).unwrap_or_default();
    log.info(format!(
        "Gmail accepted the message (HTTP {}, id {}, thread {}, client-request-id {})",
        response.status,
        sent.id.as_deref().unwrap_or("-"),
        sent.thread_id.as_deref().unwrap_or("-"),
        response.client_request_id
    ));
    Ok(SendResult::sent(&response, upload_session))
}

fn answered(answer: Answer) -> Result<HttpResponse> {
    match answer {
        Answer::Response(response) => Ok(response),
        Answer::Lost(e) => Err(e),
    }
}

/// The `multipart/related` body of an `uploadType=multipart` request: empty metadata, then the
/// message. The boundary is random and checked against the message.
fn multipart(raw: &[u8]) -> (String, Vec<u8>) {
    let boundary = loop {
        let candidate = format!("pmp_mail_{}", uuid::Uuid::new_v4().simple());
        if !raw
            .windows(candidate.len())
            .any(|w| w == candidate.as_bytes())
        {
            break candidate;
        }
    };
    let mut body = Vec::with_capacity(raw.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{{}}\r\n--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(raw);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/related; boundary={boundary}"), body)
}

/// A resumable upload: the session, then the whole message in one `PUT`. Returns the answer
/// that finished it (a failure answer too, for the caller to map).
async fn resumable(
    session: &GmailSession,
    subject: &str,
    raw: Vec<u8>,
    log: &mut OpLog,
) -> Result<HttpResponse> {
    let total = raw.len();
    let started = session
        .call(
            START_RESUMABLE,
            subject,
            log,
            Request {
                method: Method::POST,
                url: (&session.url(&format!("{UPLOAD_PATH}?uploadType=resumable"))).into(),
                headers: &[
                    ("content-type", "application/json; charset=UTF-8"),
                    ("x-upload-content-type", "message/rfc822"),
                    ("x-upload-content-length", &total.to_string()),
                ],
                body: Some(bytes::Bytes::from_static(b"{}")),
            },
        )
        .await?;
    let started = answered(started)?;
    if !started.is_success() {
        return Err(gmail_error(
            START_RESUMABLE.name,
            false,
            &started,
            subject,
            session.account(),
        ));
    }
    let location = started.location.clone().ok_or_else(|| {
        Error::new(
            Status::GraphError,
            "Gmail started a resumable upload without a session URI (no Location header)",
        )
        .with_outcome(Outcome::Failed)
    })?;
    check_session_uri(session, &location)?;
    let body = bytes::Bytes::from(raw);
    let sent = session
        .call(
            SEND_RESUMABLE,
            subject,
            log,
            Request {
                method: Method::PUT,
                url: (&location).into(),
                headers: &[("content-type", "message/rfc822")],
                body: Some(body),
            },
        )
        .await?;
    let lost = match sent {
        Answer::Response(response) => return Ok(response),
        Answer::Lost(e) => e,
    };
    // The upload session knows whether it finished: ask it (sends nothing).
    log.info(
        "the upload's answer was lost; asking the upload session whether the message was complete",
    );
    let asked = session
        .call(
            ASK_SESSION,
            subject,
            log,
            Request {
                method: Method::PUT,
                url: (&location).into(),
                headers: &[("content-range", &format!("bytes */{total}"))],
                body: None,
            },
        )
        .await;
    match asked {
        Ok(Answer::Response(response)) if matches!(response.status, 200 | 201) => {
            log.info("the upload session says it finished: the message was sent");
            Ok(response)
        }
        Ok(Answer::Response(response)) if response.status == 308 => {
            log.info("the upload session says it is incomplete: the message was not sent");
            let mut e = Error::new(
                Status::Network,
                format!(
                    "Gmail {}: {}; the upload session says the message did not arrive whole, so it was not sent",
                    SEND_RESUMABLE.name, lost.message
                ),
            )
            .with_outcome(Outcome::Failed)
            .with_remedy("Nothing was sent; send it again.");
            e.client_request_id = lost.client_request_id.clone();
            e.attempts = lost.attempts;
            Err(e)
        }
        _ => Err(lost),
    }
}

/// The session URI Gmail handed us obeys the transport rule of the configured endpoints.
fn check_session_uri(session: &GmailSession, location: &str) -> Result<()> {
    let allow = session.http().allows_http_loopback();
    let ok = url::Url::parse(location)
        .ok()
        .is_some_and(|u| crate::config::check_transport(&u, allow).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            Status::GraphError,
            "Gmail returned an upload session URI that is not https; refusing to upload",
        )
        .with_outcome(Outcome::Failed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_policy_keeps_json_below_gmails_limit() {
        assert_eq!(route(1000), Route::Json);
        // The largest raw message whose JSON stays below the limit.
        let largest_json = (MAX_JSON_REQUEST_BYTES - 11) / 4 * 3;
        assert!(json_request_len(largest_json) < MAX_JSON_REQUEST_BYTES);
        assert_eq!(route(largest_json), Route::Json);
        assert_eq!(route(largest_json + 3), Route::Multipart);
        assert_eq!(route(MAX_MULTIPART_BYTES), Route::Multipart);
        assert_eq!(route(MAX_MULTIPART_BYTES + 1), Route::Resumable);
        let body = format!(
            r#"{{"raw":"{}"}}"#,
            base64::engine::general_purpose::URL_SAFE.encode(vec![0u8; 1001])
        );
        assert_eq!(body.len(), json_request_len(1001));
    }

    #[test]
    fn the_multipart_body_wraps_the_message_whole() {
        let raw = b"From: a@b.c\r\n\r\nbody";
        let (content_type, body) = multipart(raw);
        let boundary = content_type
            .strip_prefix("multipart/related; boundary=")
            .unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!("--{boundary}\r\nContent-Type: application/json")));
        assert!(text.contains("Content-Type: message/rfc822\r\n\r\nFrom: a@b.c\r\n\r\nbody\r\n"));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    }
}
