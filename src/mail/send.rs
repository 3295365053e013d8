//! sendMail, and the size policy that decides whether a message goes that way.
//!
//! Size policy: when every attachment is below 3 MiB and the sendMail JSON is below 4 MiB, one
//! `POST /users/{from}/sendMail`. Otherwise the draft path (`upload.rs`): a draft, attachments
//! below 3 MiB added inline or one `POST .../attachments` each, an upload session per
//! attachment of 3 MiB or more, then `POST .../send`.

use reqwest::Method;

use crate::error::Result;
use crate::logging::OpLog;
use crate::mail::graph::{
    GraphSession, LARGE_ATTACHMENT_BYTES, MAX_REQUEST_BYTES, Step, graph_error,
};
use crate::mail::message::SendResult;
use crate::mail::prepare::PreparedMessage;
use crate::mail::wire::{SendMailBody, to_body};

/// How a message goes out.
pub(crate) enum Route {
    /// One sendMail request with this body.
    SendMail(Vec<u8>),
    /// Draft + attachments (+ upload sessions) + send.
    Draft,
}

/// The size policy.
pub(crate) fn route(message: &PreparedMessage, log: &mut OpLog) -> Result<Route> {
    let has_large = message
        .attachments
        .iter()
        .any(|a| a.bytes.len() >= LARGE_ATTACHMENT_BYTES);
    if has_large {
        log.info("an attachment is 3 MiB or more: using a draft with upload sessions");
        return Ok(Route::Draft);
    }
    let body = to_body(&SendMailBody::new(message), "the message")?;
    if body.len() >= MAX_REQUEST_BYTES {
        log.info(format!(
            "the sendMail request would be {} bytes (limit {MAX_REQUEST_BYTES}): using a draft and adding attachments one by one",
            body.len()
        ));
        return Ok(Route::Draft);
    }
    Ok(Route::SendMail(body))
}

/// `POST /users/{from}/sendMail` with the body [`route`] made.
pub(crate) async fn send_mail(
    session: &GraphSession,
    message: &PreparedMessage,
    body: Vec<u8>,
    log: &mut OpLog,
) -> Result<SendResult> {
    let url = session.send_mail_target(&message.from.address);
    let response = session
        .graph_call(Step::SendMail, log, Method::POST, &url, Some(body.into()))
        .await?;
    if response.status != 202 && !response.is_success() {
        return Err(graph_error(
            Step::SendMail,
            &response,
            &message.from.address,
        ));
    }
    log.info(format!(
        "sendMail accepted (HTTP {}, client-request-id {}, request-id {})",
        response.status,
        response.client_request_id,
        response.request_id.as_deref().unwrap_or("-")
    ));
    Ok(SendResult::sent(&response, false))
}
