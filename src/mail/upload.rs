//! The draft path for large messages: create a draft, attach small files (inline in the draft
//! JSON when it fits, else one `POST .../attachments` each), upload each attachment of 3 MiB or
//! more through an upload session in ordered chunks, then send the draft.
//!
//! All or nothing: if any step fails, the draft is deleted (best effort, logged) and the send
//! fails — a message never goes out without all its attachments.

use reqwest::Method;

use crate::error::{Error, Outcome, Result, Status};
use crate::http::Idempotency;
use crate::logging::OpLog;
use crate::mail::graph::{
    GraphSession, LARGE_ATTACHMENT_BYTES, MAX_REQUEST_BYTES, Step, encode_segment, graph_error,
};
use crate::mail::message::SendResult;
use crate::mail::prepare::{PreparedAttachment, PreparedMessage};
use crate::mail::wire::{
    CreatedDraft, FileAttachment, GraphMessage, UploadProgress, UploadSession,
    UploadSessionRequest, to_body,
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
    let with_small = to_body(&GraphMessage::new(message, &small), "the draft")?;
    let (draft_body, small_separately) = if with_small.len() < MAX_REQUEST_BYTES {
        (with_small, Vec::new())
    } else {
        let bare = to_body(&GraphMessage::new(message, &[]), "the draft")?;
        (bare, small)
    };
    if !message.save_to_sent_items {
        log.info("note: a draft that is sent is always kept in Sent Items (saveToSentItems=false applies to sendMail only)");
    }

    let created = session
        .graph_call(
            Step::CreateDraft,
            log,
            Method::POST,
            &messages_url,
            Some(draft_body.into()),
        )
        .await?;
    if !created.is_success() {
        return Err(graph_error(Step::CreateDraft, &created, mailbox));
    }
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
    let draft_url = format!("{messages_url}/{}", encode_segment(&draft.id));

    let outcome = fill_and_send(session, message, &draft_url, &small_separately, &large, log).await;
    match outcome {
        Ok(result) => Ok(result),
        Err(e) if e.outcome == Some(Outcome::Unknown) => {
            log.warn("the draft is left in place: the send's outcome is unknown, so it may now be the sent message");
            Err(e)
        }
        Err(e) => {
            delete_draft(session, &draft_url, log).await;
            Err(e.with_outcome(Outcome::Failed))
        }
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
        let body = to_body(&FileAttachment::new(attachment), "an attachment")?;
        if body.len() >= MAX_REQUEST_BYTES {
            return Err(Error::attachment(format!(
                "attachment '{}' ({} bytes) is just under 3 MB: too large for one request once base64-encoded, too small for an upload session",
                attachment.name,
                attachment.bytes.len()
            ))
            .with_remedy("Compress it, or pad it to 3 MB or more."));
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
    for attachment in large {
        upload_attachment(session, mailbox, draft_url, attachment, log).await?;
    }
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
    if !response.is_success() {
        return Err(graph_error(Step::CreateUploadSession, &response, mailbox));
    }
    let upload: UploadSession = serde_json::from_slice(&response.body).map_err(|_| {
        Error::new(
            Status::GraphError,
            "Graph created an upload session without an uploadUrl",
        )
    })?;
    session.http().check_server_url(&upload.upload_url)?;

    let total = attachment.bytes.len();
    let mut offset = 0usize;
    let mut stalls = 0;
    let mut chunks = 0;
    while offset < total {
        let end = (offset + UPLOAD_CHUNK_BYTES).min(total);
        let chunk = bytes::Bytes::copy_from_slice(&attachment.bytes[offset..end]);
        let range = format!("bytes {offset}-{}/{total}", end - 1);
        // The upload URL carries its own authorization: no bearer token is sent.
        let result = session
            .http()
            .execute(
                Step::UploadChunk.describe(),
                Idempotency::Idempotent,
                log,
                |client| {
                    client
                        .put(&upload.upload_url)
                        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                        .header(reqwest::header::CONTENT_RANGE, &range)
                        .body(chunk.clone())
                },
            )
            .await;
        let response = result.map_err(|f| {
            Error::new(
                Status::Attachment,
                format!(
                    "uploading '{}' failed at byte {offset} of {total}",
                    attachment.name
                ),
            )
            .with_remedy("Nothing was sent; try again.")
            .with_outcome(Outcome::Failed)
            .merge_transport(f.into_error("upload"))
        })?;
        if !response.is_success() {
            let mut e = graph_error(Step::UploadChunk, &response, mailbox);
            e.status = Status::Attachment;
            e.message = format!(
                "uploading '{}' failed at byte {offset} of {total}: {}",
                attachment.name, e.message
            );
            return Err(e);
        }
        chunks += 1;
        let next = if response.status == 201 {
            total
        } else {
            serde_json::from_slice::<UploadProgress>(&response.body)
                .unwrap_or_default()
                .next_expected_ranges
                .first()
                .and_then(|r| r.split('-').next())
                .and_then(|s| s.trim().parse::<usize>().ok())
                .unwrap_or(end)
        };
        if next <= offset {
            stalls += 1;
            if stalls >= 3 {
                return Err(Error::new(
                    Status::Attachment,
                    format!(
                        "uploading '{}' made no progress at byte {offset} of {total}",
                        attachment.name
                    ),
                ));
            }
        } else {
            stalls = 0;
        }
        offset = next.min(total);
        if response.status == 201 && end < total {
            return Err(Error::new(
                Status::Attachment,
                format!(
                    "Graph finished the upload of '{}' at byte {end} of {total}",
                    attachment.name
                ),
            ));
        }
    }
    log.info(format!(
        "attachment '{}' uploaded ({total} bytes in {chunks} chunk(s))",
        attachment.name
    ));
    Ok(())
}

async fn delete_draft(session: &GraphSession, draft_url: &str, log: &mut OpLog) {
    match session
        .graph_call(Step::DeleteDraft, log, Method::DELETE, draft_url, None)
        .await
    {
        Ok(response) if response.is_success() || response.status == 404 => {
            log.info("the incomplete draft was deleted");
        }
        Ok(response) => log.warn(format!(
            "could not delete the incomplete draft (HTTP {}); it stays in the Drafts folder, unsent",
            response.status
        )),
        Err(e) => log.warn(format!(
            "could not delete the incomplete draft ({}); it stays in the Drafts folder, unsent",
            e.message
        )),
    }
}
