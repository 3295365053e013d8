//! Drafts and their attachments: create, read, delete, attach, send (protocol.md C4). Large
//! attachments reach a draft through an upload session (`upload.rs`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ctx::{Ctx, json_response, new_item_id, parse_json};
use super::message;
use super::send_mail::validate_for_send;
use crate::errors::GraphError;
use crate::records::Recipient;
use crate::state::Draft;
use crate::util::{now, rfc3339};

fn recipients_json(rs: &[Recipient]) -> Value {
    Value::Array(
        rs.iter()
            .map(|r| json!({"emailAddress": {"name": r.name.clone().unwrap_or_else(|| r.address.clone()), "address": r.address}}))
            .collect(),
    )
}

fn message_json(ctx: &Ctx, d: &Draft) -> Value {
    let m = &d.msg;
    let from = m.from.clone().unwrap_or(Recipient {
        address: d.mailbox.clone(),
        name: None,
    });
    let created = rfc3339(d.created);
    json!({
        "@odata.context": format!("{}/v1.0/$metadata#users('{}')/messages/$entity", ctx.st.base_url, d.mailbox),
        "@odata.etag": "W/\"CQAAABYAAAAA\"",
        "id": d.id,
        "createdDateTime": created,
        "lastModifiedDateTime": created,
        "changeKey": "CQAAABYAAAAA",
        "categories": [],
        "receivedDateTime": created,
        "sentDateTime": null,
        "hasAttachments": !d.attachment_ids.is_empty(),
        "internetMessageId": format!("<{}@pmp-graph-emulator>", d.id.get(6..30).unwrap_or("x")),
        "subject": m.subject,
        "bodyPreview": m.body.chars().take(255).collect::<String>(),
        "importance": m.importance,
        "parentFolderId": "drafts",
        "conversationId": d.id,
        "isDeliveryReceiptRequested": false,
        "isReadReceiptRequested": false,
        "isRead": true,
        "isDraft": true,
        "webLink": format!("{}/_emulator/", ctx.st.base_url),
        "inferenceClassification": "focused",
        "body": {"contentType": m.body_content_type, "content": m.body},
        "sender": null,
        "from": {"emailAddress": {"name": from.name.clone().unwrap_or_else(|| from.address.clone()), "address": from.address}},
        "toRecipients": recipients_json(&m.to),
        "ccRecipients": recipients_json(&m.cc),
        "bccRecipients": recipients_json(&m.bcc),
        "replyTo": recipients_json(&m.reply_to),
        "flag": {"flagStatus": "notFlagged"},
    })
}

/// Looks a draft up for this caller + mailbox; anything else is "not found", like Exchange.
pub(super) fn with_draft<T>(
    ctx: &Ctx,
    mailbox: &str,
    id: &str,
    f: impl FnOnce(&mut Draft) -> T,
) -> Result<T, GraphError> {
    let mut drafts = ctx.st.drafts.lock();
    let d = drafts
        .get_mut(id)
        .filter(|d| d.tenant_id == ctx.caller.tenant_id && d.mailbox.eq_ignore_ascii_case(mailbox))
        .ok_or_else(GraphError::item_not_found)?;
    Ok(f(d))
}

/// `POST /users/{id}/messages` → 201 + message (Mail.ReadWrite).
pub(super) fn create(ctx: &Ctx, body: &[u8]) -> Result<Response, GraphError> {
    ctx.caller.require("Mail.ReadWrite")?;
    let mailbox = ctx.mailbox()?;
    let v = parse_json(body)?;
    let msg = message::parse_message(&v)?;
    message::check_headers(&msg.headers)?;
    let d = Draft {
        id: new_item_id(),
        tenant_id: ctx.caller.tenant_id.clone(),
        mailbox: mailbox.address.clone(),
        msg,
        attachment_ids: Vec::new(),
        created: now(),
    };
    let mut d = d;
    d.attachment_ids = d.msg.attachments.iter().map(|_| new_item_id()).collect();
    let out = message_json(ctx, &d);
    ctx.st.drafts.lock().insert(d.id.clone(), d);
    Ok(json_response(StatusCode::CREATED, &out))
}

/// `GET /users/{id}/messages/{msgId}` (drafts only).
pub(super) fn get(ctx: &Ctx, id: &str) -> Result<Response, GraphError> {
    if !ctx.caller.roles.iter().any(|r| {
        ["Mail.ReadWrite", "Mail.Read", "Mail.ReadBasic.All"]
            .iter()
            .any(|x| x.eq_ignore_ascii_case(r))
    }) {
        return Err(GraphError::access_denied());
    }
    let mailbox = ctx.mailbox()?;
    let out = with_draft(ctx, &mailbox.address, id, |d| d.clone())?;
    Ok(json_response(StatusCode::OK, &message_json(ctx, &out)))
}

/// `DELETE /users/{id}/messages/{msgId}` → 204.
pub(super) fn delete(ctx: &Ctx, id: &str) -> Result<Response, GraphError> {
    ctx.caller.require("Mail.ReadWrite")?;
    let mailbox = ctx.mailbox()?;
    with_draft(ctx, &mailbox.address, id, |_| ())?;
    ctx.st.drafts.lock().remove(id);
    ctx.st.uploads.lock().retain(|_, s| s.draft_id != id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /users/{id}/messages/{msgId}/attachments` → 201 + fileAttachment.
pub(super) fn add_attachment(ctx: &Ctx, id: &str, body: &[u8]) -> Result<Response, GraphError> {
    ctx.caller.require("Mail.ReadWrite")?;
    let mailbox = ctx.mailbox()?;
    let v = parse_json(body)?;
    let a = message::attachment(&v)?;
    let att_id = new_item_id();
    let (aid, a2) = (att_id.clone(), a.clone());
    with_draft(ctx, &mailbox.address, id, move |d| {
        d.msg.attachments.push(a2);
        d.attachment_ids.push(aid);
    })?;
    let out = json!({
        "@odata.context": format!("{}/v1.0/$metadata#users('{}')/messages('{id}')/attachments/$entity", ctx.st.base_url, mailbox.address),
        "@odata.type": "#microsoft.graph.fileAttachment",
        "@odata.mediaContentType": a.content_type,
        "id": att_id,
        "lastModifiedDateTime": rfc3339(now()),
        "name": a.name,
        "contentType": a.content_type,
        "size": a.size,
        "isInline": a.is_inline,
        "contentId": a.content_id,
        "contentLocation": null,
        "contentBytes": a.content_base64,
    });
    Ok(json_response(StatusCode::CREATED, &out))
}

/// `POST /users/{id}/messages/{msgId}/send` → 202; the draft is gone afterwards.
pub(super) fn send(ctx: &Ctx, id: &str) -> Result<Response, GraphError> {
    ctx.caller.require("Mail.Send")?;
    let mailbox = ctx.mailbox()?;
    let draft = with_draft(ctx, &mailbox.address, id, |d| d.clone())?;
    validate_for_send(&mailbox, &draft.msg)?;
    // Remove under the lock so two concurrent sends cannot both succeed.
    if ctx.st.drafts.lock().remove(id).is_none() {
        return Err(GraphError::item_not_found());
    }
    ctx.st.uploads.lock().retain(|_, s| s.draft_id != id);
    ctx.record(&mailbox, "draft", draft.msg, true);
    Ok(StatusCode::ACCEPTED.into_response())
}
