//! `POST /users/{id}/sendMail` (JSON or MIME), and the checks every send path applies.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::ctx::{Ctx, invalid_json, parse_json};
use super::message;
use super::mime;
use crate::directory::Mailbox;
use crate::errors::GraphError;
use crate::records::ParsedMessage;

/// `POST /users/{id}/sendMail` — JSON or MIME.
pub(super) fn send_mail(
    ctx: &Ctx,
    content_type: &str,
    body: &[u8],
) -> Result<Response, GraphError> {
    ctx.caller.require("Mail.Send")?;
    let mailbox = ctx.mailbox()?;
    let (msg, save) = if content_type.starts_with("text/plain") {
        (mime::parse_mime(body)?, true)
    } else {
        json_action(body)?
    };
    validate_for_send(&mailbox, &msg)?;
    ctx.record(&mailbox, "sendMail", msg, save);
    Ok(StatusCode::ACCEPTED.into_response())
}

/// The JSON action body `{"message":{…},"saveToSentItems":…}`: the message and whether to save
/// it to Sent Items (default true).
fn json_action(body: &[u8]) -> Result<(ParsedMessage, bool), GraphError> {
    let v = parse_json(body)?;
    let obj = v.as_object().ok_or_else(invalid_json)?;
    // OData action parameter names match case-insensitively: the Graph .NET SDK (Kiota)
    // sends `{"Message":…,"SaveToSentItems":…}`, the docs show `message`/`saveToSentItems`.
    let param = |name: &str| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    for k in obj.keys() {
        if !k.eq_ignore_ascii_case("message")
            && !k.eq_ignore_ascii_case("saveToSentItems")
            && !k.starts_with("@odata.")
        {
            return Err(message::body_read(format!(
                "The parameter '{k}' in the request payload is not a valid parameter for the operation 'sendMail'."
            )));
        }
    }
    let save_param: Map<String, Value> = param("saveToSentItems")
        .map(|s| ("saveToSentItems".to_string(), s.clone()))
        .into_iter()
        .collect();
    let save = message::opt_bool(&save_param, "saveToSentItems")?.unwrap_or(true);
    let m = match param("message") {
        Some(m) if m.as_object().is_some_and(|o| !o.is_empty()) => m,
        _ => {
            return Err(GraphError::bad_request(
                "ErrorInvalidParameter",
                "The value of the parameter 'Message' is empty.",
            ));
        }
    };
    Ok((message::parse_message(m)?, save))
}

/// Checks every send path applies: headers, recipients, Send As.
pub(super) fn validate_for_send(mailbox: &Mailbox, msg: &ParsedMessage) -> Result<(), GraphError> {
    message::check_headers(&msg.headers)?;
    if let Some(from) = &msg.from
        && !from.address.is_empty()
        && !from.address.eq_ignore_ascii_case(&mailbox.address)
    {
        return Err(GraphError::new(
            StatusCode::FORBIDDEN,
            "ErrorSendAsDenied",
            "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message.",
        ));
    }
    message::check_recipients(msg)
}
