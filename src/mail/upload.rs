//! The draft path for large messages: create a draft, attach small files (inline in the draft
//! JSON when it fits, else one `POST .../attachments` each), upload each attachment of 3 MiB or
//! more through an upload session in ordered chunks, then send the draft.
//!
//! All or nothing: if any step fails, the draft is deleted (retried within the wait budget: a
//! DELETE is idempotent) and the send fails — a message never goes out without all its
//! attachments. A draft that cannot be deleted is named in the error.
//!
//! Lost answers. Each draft carries a marker (a GUID in a named extended property,
//! [`SEND_MARKER_PROPERTY`]): when the answer to creating it is lost, the draft is looked up by
//! the marker and used, so none is orphaned. When a chunk's answer is lost, the upload session
//! is asked (`GET` on the upload URL: `nextExpectedRanges`) before anything is sent again, so a
//! chunk Graph already holds is never sent twice. When the draft send's answer is lost, the
//! outcome is unknown and the draft stays (it may be the sent message).

use std::time::{Duration, Instant};

use reqwest::Method;

use crate::cancel::cancellable_sleep;
use crate::error::{Error, Outcome, Result, Status};
use crate::http::{HttpFailure, HttpResponse, Idempotency};
use crate::logging::OpLog;
use crate::mail::graph::{
    Answer, GraphSession, LARGE_ATTACHMENT_BYTES, MAX_REQUEST_BYTES, Step, encode_segment,
    graph_error,
};
use crate::mail::message::SendResult;
use crate::mail::prepare::{PreparedAttachment, PreparedMessage};
use crate::mail::wire::{
    AttachmentList, CreatedDraft, FileAttachment, GraphMessage, MessageList, SEND_MARKER_PROPERTY,
    UploadProgress, UploadSession, UploadSessionRequest, to_body,
};

/// Upload chunk size: a multiple of 320 KiB below 4 MiB (12 x 320 KiB = 3.75 MiB), as the Graph
/// SDKs' large-file upload does.
pub const UPLOAD_CHUNK_BYTES: usize = 12 * 320 * 1024;

pub(crate) async fn send_via_draft(
    session: &GraphSession,
    message: &PreparedMessage,
    log: &mut OpLog,
) -> Result<SendResult> {
    let mailbox = &message.from.address;
    let messages_url = session.user_url(mailbox, "messages");
    let (large, small): (Vec<&PreparedAttachment>, Vec<&PreparedAttachment>) = message
        .attachments
        .iter()
        .partition(|a| a.bytes.len() >= LARGE_ATTACHMENT_BYTES);

    // Small attachments ride in the draft JSON when the whole request stays under the limit.
    let send_id = uuid::Uuid::new_v4().to_string();
    let draft_json = |attachments: &[&PreparedAttachment]| {
        to_body(
            &GraphMessage::new(message, attachments).with_send_marker(&send_id),
            "the draft",
        )
    };
    let with_small = draft_json(&small)?;
    let (draft_body, small_separately) = if with_small.len() < MAX_REQUEST_BYTES {
        (with_small, Vec::new())
    } else {
        (draft_json(&[])?, small)
    };
    if !message.save_to_sent_items {
        log.info("note: a draft that is sent is always kept in Sent Items (saveToSentItems=false applies to sendMail only)");
    }

    let draft_id = create_draft(session, mailbox, &messages_url, draft_body, &send_id, log).await?;
    let draft_url = format!("{messages_url}/{}", encode_segment(&draft_id));

    let outcome = fill_and_send(session, message, &draft_url, &small_separately, &large, log).await;
    match outcome {
        Ok(result) => Ok(result),
        Err(mut e) if e.outcome == Some(Outcome::Unknown) => {
            log.warn(format!("the draft is left in place: the send's outcome is unknown, so it may now be the sent message (draft id {draft_id})"));
            e.message = format!(
                "{}; the draft {draft_id} is left in place (if it was not sent, it is in the sender's Drafts folder)",
                e.message
            );
            Err(e)
        }
        Err(e) => {
            let mut e = e.with_outcome(Outcome::Failed);
            if let Err(reason) = delete_draft(session, &draft_url, log).await {
                e.message = format!(
                    "{}; the incomplete draft {draft_id} could not be deleted ({reason}) and is left in the sender's Drafts folder, unsent",
                    e.message
                );
                e.remedy = Some(
                    format!(
                        "{} Delete the unsent draft {draft_id} from the sender's Drafts folder.",
                        e.remedy.as_deref().unwrap_or("")
                    )
                    .trim_start()
                    .to_owned(),
                );
            }
            Err(e)
        }
    }
}

/// Between the draft's steps (nothing in flight, nothing sent yet) a cancel stops the send; the
/// caller then deletes the draft.
fn stop_if_cancelled(log: &OpLog, what: &str) -> Result<()> {
    match log.cancel() {
        Some(cancel) if cancel.is_cancelled() => {
            Err(Error::cancelled(what).with_outcome(Outcome::Failed))
        }
        _ => Ok(()),
    }
}

/// `POST …/messages` with the marked draft; the draft's id. When the answer is lost (or Graph
/// answers 5xx, which may come after the draft was saved), the draft is looked up by its marker:
/// found, it is used; not found, nothing was created.
async fn create_draft(
    session: &GraphSession,
    mailbox: &str,
    messages_url: &str,
    body: Vec<u8>,
    send_id: &str,
    log: &mut OpLog,
) -> Result<String> {
    let answer = session
        .graph_call_answer(
            Step::CreateDraft,
            log,
            Method::POST,
            messages_url,
            Some(body.into()),
        )
        .await?;
    let lost = match answer {
        Answer::Response(created) if created.is_success() => {
            let draft: CreatedDraft = serde_json::from_slice(&created.body).map_err(|_| {
                Error::new(
                    Status::GraphError,
                    "Graph created a draft but its answer has no message id",
                )
                .with_outcome(Outcome::Failed)
            })?;
            log.info(format!(
                "draft created (client-request-id {})",
                created.client_request_id
            ));
            if created.attempts > 1 {
                // An earlier attempt may have created a draft too (retry.retryUnknownOutcome
                // repeats a POST whose answer was lost): keep only this one.
                remove_twins(session, messages_url, send_id, &draft.id, log).await;
            }
            return Ok(draft.id);
        }
        Answer::Response(refused) if refused.status < 500 => {
            return Err(graph_error(Step::CreateDraft, &refused, mailbox));
        }
        Answer::Response(failed) => graph_error(Step::CreateDraft, &failed, mailbox),
        Answer::Lost(e) => e,
    };
    log.info(format!(
        "{}; looking for the draft by its marker (pmp-mail send id {send_id})",
        lost.message
    ));
    let mut found = Err(lost.clone());
    for pause in [Duration::ZERO, Duration::from_secs(1)] {
        if cancellable_sleep(log.cancel(), pause).await.is_err() {
            found = Err(Error::cancelled("looking for the draft").with_outcome(Outcome::Failed));
            break;
        }
        found = find_drafts(session, messages_url, send_id, log).await;
        if !matches!(&found, Ok(ids) if ids.is_empty()) {
            break;
        }
    }
    match found {
        Ok(ids) if !ids.is_empty() => {
            let (keep, twins) = ids
                .split_first()
                .map(|(k, t)| (k.clone(), t.to_vec()))
                .unwrap_or_default();
            log.info(format!(
                "found the draft {keep} that Graph created; going on with it"
            ));
            for twin in twins {
                let url = format!("{messages_url}/{}", encode_segment(&twin));
                if let Err(reason) = delete_draft(session, &url, log).await {
                    log.warn(format!("a second draft {twin} with this send's marker could not be deleted ({reason})"));
                }
            }
            Ok(keep)
        }
        Ok(_) => {
            let mut e = lost;
            e.message = format!(
                "{}; no draft carrying this send's marker exists, so nothing was created or sent",
                e.message
            );
            Err(e.with_outcome(Outcome::Failed))
        }
        Err(find) => {
            let mut e = lost;
            if find.status == Status::Cancelled {
                e.status = Status::Cancelled;
            }
            e.message = format!(
                "{}; looking for the draft failed ({}): a draft carrying pmp-mail send id {send_id} may be left in the sender's Drafts folder, unsent",
                e.message, find.message
            );
            Err(e.with_outcome(Outcome::Failed))
        }
    }
}

/// The drafts that carry `send_id` (normally none or one).
async fn find_drafts(
    session: &GraphSession,
    messages_url: &str,
    send_id: &str,
    log: &mut OpLog,
) -> Result<Vec<String>> {
    let filter = format!(
        "singleValueExtendedProperties/any(ep: ep/id eq '{SEND_MARKER_PROPERTY}' and ep/value eq '{send_id}')"
    );
    let url = format!(
        "{messages_url}?$filter={}&$select=id,isDraft",
        percent_encoding::utf8_percent_encode(&filter, percent_encoding::NON_ALPHANUMERIC)
    );
    let response = session
        .graph_call(Step::FindDraft, log, Method::GET, &url, None)
        .await?;
    let list: MessageList = json_answer(Step::FindDraft, &response, "", "a message list")?;
    Ok(list
        .value
        .into_iter()
        .filter(|m| m.is_draft != Some(false))
        .map(|m| m.id)
        .collect())
}

/// Deletes drafts with this send's marker other than `keep`.
async fn remove_twins(
    session: &GraphSession,
    messages_url: &str,
    send_id: &str,
    keep: &str,
    log: &mut OpLog,
) {
    match find_drafts(session, messages_url, send_id, log).await {
        Ok(ids) => {
            for twin in ids.iter().filter(|id| *id != keep) {
                let url = format!("{messages_url}/{}", encode_segment(twin));
                match delete_draft(session, &url, log).await {
                    Ok(()) => log.info(format!("a second draft {twin} from a repeated request was deleted")),
                    Err(reason) => log.warn(format!(
                        "a second draft {twin} from a repeated request could not be deleted ({reason}); it stays in the Drafts folder, unsent"
                    )),
                }
            }
        }
        Err(e) => log.warn(format!(
            "could not check for a second draft from a repeated request ({})",
            e.message
        )),
    }
}

async fn fill_and_send(
    session: &GraphSession,
    message: &PreparedMessage,
    draft_url: &str,
    small: &[&PreparedAttachment],
    large: &[&PreparedAttachment],
    log: &mut OpLog,
) -> Result<SendResult> {
    let mailbox = &message.from.address;
    for attachment in small {
        stop_if_cancelled(log, "adding the attachments")?;
        let body = to_body(&FileAttachment::new(attachment), "an attachment")?;
        if body.len() >= MAX_REQUEST_BYTES {
            // prepare() refuses these sizes before any request (the ~3 MiB seam); reaching this
            // is a bug, and sending an oversized request would only earn a 413.
            return Err(Error::internal(format!(
                "attachment '{}' makes a {}-byte request, over the 4 MiB limit, after the size checks passed it",
                attachment.name,
                body.len()
            )));
        }
        let response = session
            .graph_call(
                Step::AddAttachment,
                log,
                Method::POST,
                &format!("{draft_url}/attachments"),
                Some(body.into()),
            )
            .await?;
        if !response.is_success() {
            return Err(graph_error(Step::AddAttachment, &response, mailbox));
        }
        log.info(format!(
            "attachment '{}' added to the draft",
            attachment.name
        ));
    }
    for (i, attachment) in large.iter().enumerate() {
        // Uploads before this one with the same name and size: for telling whether this one
        // attached its file when the answer to its last range was lost.
        let twins_before = large[..i]
            .iter()
            .filter(|a| a.name == attachment.name && a.bytes.len() == attachment.bytes.len())
            .count();
        stop_if_cancelled(log, "uploading the attachments")?;
        upload_attachment(session, mailbox, draft_url, attachment, twins_before, log).await?;
    }
    stop_if_cancelled(log, "sending the draft")?;
    let response = session
        .graph_call(
            Step::SendDraft,
            log,
            Method::POST,
            &format!("{draft_url}/send"),
            None,
        )
        .await?;
    if !response.is_success() {
        return Err(graph_error(Step::SendDraft, &response, mailbox));
    }
    log.info(format!(
        "draft sent (HTTP {}, client-request-id {}, request-id {})",
        response.status,
        response.client_request_id,
        response.request_id.as_deref().unwrap_or("-")
    ));
    Ok(SendResult::sent(&response, !large.is_empty()))
}

async fn upload_attachment(
    session: &GraphSession,
    mailbox: &str,
    draft_url: &str,
    attachment: &PreparedAttachment,
    twins_before: usize,
    log: &mut OpLog,
) -> Result<()> {
    let session_body = to_body(&UploadSessionRequest::new(attachment), "an upload session")?;
    let response = session
        .graph_call(
            Step::CreateUploadSession,
            log,
            Method::POST,
            &format!("{draft_url}/attachments/createUploadSession"),
            Some(session_body.into()),
        )
        .await?;
    let upload: UploadSession = json_answer(
        Step::CreateUploadSession,
        &response,
        mailbox,
        "an upload session with an uploadUrl",
    )?;
    session.http().check_server_url(&upload.upload_url)?;
    let url = upload.upload_url.as_str();

    let name = &attachment.name;
    let total = attachment.bytes.len();
    let policy = session.retry_policy();
    let started = Instant::now();
    // `offset` is what Graph holds, as its last answer said: bytes 0..offset.
    let mut offset = 0usize;
    let mut chunks = 0;
    let mut stalls = 0u32;
    loop {
        if offset > 0 {
            stop_if_cancelled(log, "uploading an attachment")?;
        }
        let end = (offset + UPLOAD_CHUNK_BYTES).min(total);
        let chunk = bytes::Bytes::copy_from_slice(&attachment.bytes[offset..end]);
        let range = format!("bytes {offset}-{}/{total}", end - 1);
        // Why Graph must be asked before going on, and how long to wait first (the HTTP
        // layer has waited already when it wanted to send the range again).
        let mut pause = Duration::ZERO;
        let cause: Error = match put_chunk(session, url, &range, chunk, log).await {
            Chunk::Answered(response) if response.is_success() => {
                chunks += 1;
                if response.status == 201 {
                    if end < total {
                        return Err(Error::new(
                            Status::Attachment,
                            format!(
                                "Graph finished the upload of '{name}' at byte {end} of {total}"
                            ),
                        )
                        .with_outcome(Outcome::Failed));
                    }
                    break;
                }
                let next = next_expected(&response.body).unwrap_or(end).min(total);
                if next > offset {
                    stalls = 0;
                } else {
                    stalls += 1;
                    if stalls >= 3 {
                        return Err(upload_failed(
                            Error::new(Status::Attachment, "no progress after three ranges"),
                            name,
                            offset,
                            total,
                        ));
                    }
                }
                offset = next;
                if offset >= total {
                    return Err(upload_failed(
                        Error::new(
                            Status::Attachment,
                            "Graph took every byte but did not close the upload session",
                        ),
                        name,
                        offset,
                        total,
                    ));
                }
                continue;
            }
            Chunk::Answered(response) if matches!(response.status, 404 | 416 | 500..=599) => {
                // 416: Graph expects another range; 404: the session is gone (finished by a
                // range whose answer was lost?); 5xx: it may or may not have stored the range.
                pause = backoff(stalls);
                chunk_error(&response, mailbox)
            }
            Chunk::Answered(response) => {
                return Err(upload_failed(
                    chunk_error(&response, mailbox),
                    name,
                    offset,
                    total,
                ));
            }
            // The HTTP layer would have sent the range again (after its wait): ask first.
            Chunk::Failed(e) if e.status == Status::Cancelled => {
                return Err(upload_failed(e, name, offset, total));
            }
            Chunk::AskFirst(e) | Chunk::Failed(e) => e,
        };
        stalls += 1;
        if stalls > policy.max_attempts || started.elapsed() + pause > policy.max_total_wait {
            return Err(upload_failed(cause, name, offset, total));
        }
        if cancellable_sleep(log.cancel(), pause).await.is_err() {
            return Err(upload_failed(
                Error::cancelled(&format!(
                    "{}: {}",
                    Step::UploadChunk.describe(),
                    cause.message
                )),
                name,
                offset,
                total,
            ));
        }
        log.info(format!(
            "{}: '{name}': {}; not sent again before asking the upload session where to go on",
            Step::UploadChunk.describe(),
            cause.message
        ));
        match upload_status(session, url, log).await {
            Ok(Some(next)) => {
                if next > offset {
                    log.info(format!(
                        "the upload session holds {next} of {total} bytes; going on from there"
                    ));
                    stalls = 0;
                }
                offset = next.min(total);
                if offset >= total {
                    // Every byte is held but the session is open: Graph has not closed it.
                    return Err(upload_failed(cause, name, offset, total));
                }
            }
            Ok(None) if end == total => {
                // The session is gone after its last range was sent: finished, if the draft
                // has the file.
                let note = match attached(
                    session,
                    mailbox,
                    draft_url,
                    attachment,
                    twins_before,
                    log,
                )
                .await
                {
                    Ok(true) => {
                        log.info(format!(
                            "the upload session of '{name}' is closed and the draft has the file: the answer to the last range was lost"
                        ));
                        break;
                    }
                    Ok(false) => {
                        "the upload session is gone and the draft has no such file".to_owned()
                    }
                    Err(e) => format!(
                        "the upload session is gone and listing the draft's attachments failed ({})",
                        e.message
                    ),
                };
                return Err(upload_failed(cause.with_note(&note), name, offset, total));
            }
            Ok(None) => {
                return Err(upload_failed(
                    cause.with_note("the upload session is gone"),
                    name,
                    offset,
                    total,
                ));
            }
            Err(status) if status.status == Status::Cancelled => {
                return Err(upload_failed(status, name, offset, total));
            }
            Err(status) => {
                return Err(upload_failed(
                    cause.with_note(&format!(
                        "asking the upload session how far it got failed too ({})",
                        status.message
                    )),
                    name,
                    offset,
                    total,
                ));
            }
        }
    }
    log.info(format!(
        "attachment '{name}' uploaded ({total} bytes in {chunks} chunk(s))"
    ));
    Ok(())
}

/// What one upload range came to.
enum Chunk {
    Answered(HttpResponse),
    /// The first attempt failed in a way the HTTP layer would retry (a lost answer, a
    /// 502/503/504, a 429): Graph may already hold the range, so it is not sent again blindly.
    AskFirst(Error),
    /// No answer, and the retry policy gives up.
    Failed(Error),
}

/// One `PUT {uploadUrl}` with a range, sent at most once. The upload URL carries its own
/// authorization: no bearer token is sent.
async fn put_chunk(
    session: &GraphSession,
    url: &str,
    range: &str,
    chunk: bytes::Bytes,
    log: &mut OpLog,
) -> Chunk {
    // ResumeFirst: the HTTP layer retries only what sent nothing or what Graph asked to have
    // repeated; a lost answer comes back here, and the session is asked where to resume.
    let result = session
        .http()
        .execute(
            Step::UploadChunk.describe(),
            Idempotency::ResumeFirst,
            log,
            |client| {
                client
                    .put(url)
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .header(reqwest::header::CONTENT_RANGE, range)
                    .body(chunk.clone())
            },
        )
        .await;
    match result {
        Ok(response) => Chunk::Answered(response),
        Err(HttpFailure::Transport(lost)) if lost.maybe_delivered => Chunk::AskFirst(Error::new(
            Status::Network,
            format!("the answer to range {range} was lost ({})", lost.message),
        )),
        Err(failure) => Chunk::Failed(failure.into_error("upload chunk")),
    }
}

/// `GET {uploadUrl}` (no bearer token): where Graph wants the next range to start; `None` when
/// the session is gone (404: finished or expired).
async fn upload_status(
    session: &GraphSession,
    url: &str,
    log: &mut OpLog,
) -> Result<Option<usize>> {
    let response = session
        .http()
        .execute(
            Step::UploadStatus.describe(),
            Idempotency::Idempotent,
            log,
            |client| client.get(url),
        )
        .await
        .map_err(|f| f.into_error("ask upload session"))?;
    match response.status {
        200..=299 => next_expected(&response.body).map(Some).ok_or_else(|| {
            Error::new(
                Status::GraphError,
                "the upload session's status names no next expected range",
            )
        }),
        404 => Ok(None),
        _ => Err(graph_error(Step::UploadStatus, &response, "")),
    }
}

/// The start of the first `nextExpectedRanges` entry (`"4096"` or `"4096-"` or `"4096-8191"`).
fn next_expected(body: &[u8]) -> Option<usize> {
    serde_json::from_slice::<UploadProgress>(body)
        .ok()?
        .next_expected_ranges
        .first()
        .and_then(|r| r.split('-').next())
        .and_then(|s| s.trim().parse::<usize>().ok())
}

/// Whether the draft holds this attachment (by name and size) — one more than `twins_before`.
async fn attached(
    session: &GraphSession,
    mailbox: &str,
    draft_url: &str,
    attachment: &PreparedAttachment,
    twins_before: usize,
    log: &mut OpLog,
) -> Result<bool> {
    let response = session
        .graph_call(
            Step::ListAttachments,
            log,
            Method::GET,
            &format!("{draft_url}/attachments?$select=name,size"),
            None,
        )
        .await?;
    let list: AttachmentList = json_answer(
        Step::ListAttachments,
        &response,
        mailbox,
        "a list of attachments",
    )?;
    let same = list
        .value
        .iter()
        .filter(|a| a.name == attachment.name && a.size == attachment.bytes.len() as u64)
        .count();
    Ok(same > twins_before)
}

/// "holds bytes 0-4095 of 8192 (next expected range 4096-)", or "holds none of its 8192 bytes".
fn holds(offset: usize, total: usize) -> String {
    if offset == 0 {
        format!("holds none of its {total} bytes")
    } else {
        format!(
            "holds bytes 0-{} of {total} (next expected range {offset}-)",
            offset - 1
        )
    }
}

/// Graph's refusal of a range. A 413 stays a request-size error; others are upload failures.
fn chunk_error(response: &HttpResponse, mailbox: &str) -> Error {
    let mut e = graph_error(Step::UploadChunk, response, mailbox);
    if e.status == Status::GraphError && response.status != 413 {
        e.status = Status::Attachment;
    }
    e
}

/// The upload has failed for good: the error says how far Graph got (`offset`, from its own
/// answers) and why.
fn upload_failed(cause: Error, name: &str, offset: usize, total: usize) -> Error {
    let mut e = cause;
    e.message = format!(
        "uploading '{name}' failed: Graph {}: {}",
        holds(offset, total),
        e.message
    );
    if matches!(e.status, Status::Network | Status::Internal) {
        e.status = Status::Attachment;
    }
    if e.remedy.is_none() {
        e.remedy = Some("Nothing was sent; try again.".into());
    }
    e.with_outcome(Outcome::Failed)
}

/// Between tries of a range Graph refused with a 5xx or 416: ~0.5 s doubling, at most 8 s.
fn backoff(tries: u32) -> Duration {
    Duration::from_millis(500u64 << tries.min(4))
}

trait WithNote {
    fn with_note(self, note: &str) -> Self;
}

impl WithNote for Error {
    fn with_note(mut self, note: &str) -> Error {
        self.message = format!("{}; {note}", self.message);
        self
    }
}

/// Deletes a draft, retrying within the wait budget (a DELETE of a draft is idempotent; 404
/// means it is gone already). On failure, why.
async fn delete_draft(
    session: &GraphSession,
    draft_url: &str,
    log: &mut OpLog,
) -> std::result::Result<(), String> {
    let policy = session.retry_policy();
    let started = Instant::now();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let (reason, retry_after) = match session
            .graph_call(Step::DeleteDraft, log, Method::DELETE, draft_url, None)
            .await
        {
            Ok(response) if response.is_success() || response.status == 404 => {
                log.info("the incomplete draft was deleted");
                return Ok(());
            }
            Ok(response) if response.status == 429 || response.status >= 500 => {
                (format!("HTTP {}", response.status), response.retry_after)
            }
            Ok(response) => {
                let reason = format!("HTTP {}", response.status);
                log.warn(format!(
                    "could not delete the incomplete draft ({reason}); it stays in the Drafts folder, unsent"
                ));
                return Err(reason);
            }
            Err(e) if e.status == Status::Network => (e.message.clone(), None),
            Err(e) => {
                log.warn(format!(
                    "could not delete the incomplete draft ({}); it stays in the Drafts folder, unsent",
                    e.message
                ));
                return Err(e.message.clone());
            }
        };
        let wait = retry_after.unwrap_or_else(|| backoff(attempt - 1));
        if attempt >= policy.max_attempts || started.elapsed() + wait > policy.max_total_wait {
            log.warn(format!(
                "could not delete the incomplete draft ({reason}, {attempt} attempt(s)); it stays in the Drafts folder, unsent"
            ));
            return Err(reason);
        }
        log.info(format!(
            "delete draft: {reason}; trying again in {} ms",
            wait.as_millis()
        ));
        if cancellable_sleep(log.cancel(), wait).await.is_err() {
            log.warn("could not delete the incomplete draft (cancelled while waiting to try again); it stays in the Drafts folder, unsent");
            return Err("cancelled while waiting to try again".into());
        }
    }
}

/// A step's success answer as the JSON document `T`: a refusal is the step's Graph error, an
/// answer of another shape a Graph error that says what was expected.
fn json_answer<T: serde::de::DeserializeOwned>(
    step: Step,
    response: &HttpResponse,
    mailbox: &str,
    expected: &str,
) -> Result<T> {
    if !response.is_success() {
        return Err(graph_error(step, response, mailbox));
    }
    serde_json::from_slice(&response.body).map_err(|_| {
        Error::new(
            Status::GraphError,
            format!("Graph's answer to {} is not {expected}", step.describe()),
        )
    })
}
