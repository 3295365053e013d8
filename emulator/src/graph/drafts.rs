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
    let extended_properties = extended_properties(&v)?;
    let d = Draft {
        id: new_item_id(),
        tenant_id: ctx.caller.tenant_id.clone(),
        mailbox: mailbox.address.clone(),
        msg,
        attachment_ids: Vec::new(),
        extended_properties,
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
    require_read(ctx)?;
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

/// `singleValueExtendedProperties` of a new message: `[{"id": "...", "value": "..."}]`. The id
/// is `{type} {guid} Name {name}`, `{type} {guid} Id 0x{hex}` or `{type} 0x{hex}`
/// (singleValueLegacyExtendedProperty, "Outlook extended properties overview").
fn extended_properties(v: &Value) -> Result<Vec<(String, String)>, GraphError> {
    let Some(list) = v.get("singleValueExtendedProperties") else {
        return Ok(Vec::new());
    };
    let ty = "microsoft.graph.singleValueLegacyExtendedProperty";
    let items = list.as_array().ok_or_else(|| {
        message::body_read(format!(
            "An unexpected 'StartObject' node was found when reading a value of type 'Collection({ty})'."
        ))
    })?;
    let mut out = Vec::new();
    for item in items {
        let obj = item.as_object().ok_or_else(|| {
            message::body_read(format!(
                "An unexpected 'PrimitiveValue' node was found when reading a value of type '{ty}'."
            ))
        })?;
        message::check_props(obj, &["id", "value"], ty)?;
        let id = obj.get("id").and_then(Value::as_str).unwrap_or("");
        let value = obj.get("value").and_then(Value::as_str).unwrap_or("");
        if !valid_property_id(id) {
            // [UNCONFIRMED] code and text: Exchange refuses malformed property ids with a 400.
            return Err(GraphError::bad_request(
                "ErrorInvalidProperty",
                format!("The extended property id '{id}' is not valid."),
            ));
        }
        out.push((id.to_string(), value.to_string()));
    }
    Ok(out)
}

const PROPERTY_TYPES: &[&str] = &[
    "String",
    "Integer",
    "Long",
    "Boolean",
    "SystemTime",
    "Binary",
    "Double",
    "Float",
    "Short",
    "CLSID",
    "Currency",
    "ApplicationTime",
    "Object",
];

fn valid_property_id(id: &str) -> bool {
    let Some((ty, rest)) = id.split_once(' ') else {
        return false;
    };
    if !PROPERTY_TYPES.iter().any(|t| t.eq_ignore_ascii_case(ty)) {
        return false;
    }
    let hex = |s: &str| {
        s.strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
    };
    if hex(rest) {
        return true;
    }
    let Some((guid, tail)) = rest.split_once(' ') else {
        return false;
    };
    let guid_ok = guid.len() == 38
        && guid.starts_with('{')
        && guid.ends_with('}')
        && uuid::Uuid::parse_str(&guid[1..37]).is_ok();
    guid_ok
        && match tail.split_once(' ') {
            Some(("Name", name)) => !name.is_empty(),
            Some(("Id", id)) => hex(id),
            _ => false,
        }
}

/// An extended property id as Exchange compares it: type and GUID case-insensitively, the
/// string name case-sensitively (singlevaluelegacyextendedproperty-get).
fn property_key(id: &str) -> String {
    match id.split_once(" Name ") {
        Some((head, name)) => format!("{} Name {name}", head.to_ascii_lowercase()),
        None => id.to_ascii_lowercase(),
    }
}

/// The query options of a collection GET, percent-decoded.
fn query_options(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

fn option<'a>(options: &'a [(String, String)], name: &str) -> Option<&'a str> {
    options
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name) || k.eq_ignore_ascii_case(&name[1..]))
        .map(|(_, v)| v.as_str())
}

/// A `$select` list applied to an entity: `@odata.*`, `id` and the selected properties.
fn select(v: Value, selected: Option<&str>) -> Value {
    let (Some(selected), Value::Object(obj)) = (selected, &v) else {
        return v;
    };
    let keep: Vec<&str> = selected.split(',').map(str::trim).collect();
    Value::Object(
        obj.iter()
            .filter(|(k, _)| {
                k.starts_with("@odata.")
                    || *k == "id"
                    || keep.iter().any(|s| s.eq_ignore_ascii_case(k))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// The one `$filter` the emulator understands, Graph's documented way to find messages by an
/// extended property: `singleValueExtendedProperties/any(ep: ep/id eq '…' and ep/value eq '…')`.
/// Returns (id, value).
fn extended_property_filter(filter: &str) -> Option<(String, String)> {
    let f = filter.trim();
    let prefix = "singlevalueextendedproperties/any(";
    if !f.to_ascii_lowercase().starts_with(prefix) || !f.ends_with(')') {
        return None;
    }
    let inner = &f[prefix.len()..f.len() - 1];
    let (var, body) = inner.split_once(':')?;
    let var = var.trim();
    let (mut id, mut value) = (None, None);
    let mut rest = body.trim();
    while !rest.is_empty() {
        let (lhs, after) = rest.split_once(" eq ")?;
        let lhs = lhs.trim();
        let after = after.trim_start().strip_prefix('\'')?;
        // An OData string literal: '' is an escaped quote.
        let mut literal = String::new();
        let mut chars = after.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if after[i + 1..].starts_with('\'') {
                    literal.push('\'');
                    chars.next();
                } else {
                    end = Some(i + 1);
                    break;
                }
            } else {
                literal.push(c);
            }
        }
        rest = after[end?..].trim_start();
        if lhs.eq_ignore_ascii_case(&format!("{var}/id")) {
            id = Some(literal);
        } else if lhs.eq_ignore_ascii_case(&format!("{var}/value")) {
            value = Some(literal);
        } else {
            return None;
        }
        if !rest.is_empty() {
            rest = rest
                .strip_prefix("and ")
                .or_else(|| rest.strip_prefix("AND "))?
                .trim_start();
        }
    }
    Some((id?, value?))
}

fn require_read(ctx: &Ctx) -> Result<(), GraphError> {
    if ctx.caller.roles.iter().any(|r| {
        ["Mail.ReadWrite", "Mail.Read", "Mail.ReadBasic.All"]
            .iter()
            .any(|x| x.eq_ignore_ascii_case(r))
    }) {
        Ok(())
    } else {
        Err(GraphError::access_denied())
    }
}

/// `GET /users/{id}/messages[?$filter=…&$select=…]` → 200 `{"value": […]}`. The emulator's
/// mailbox holds only drafts; `$filter` supports the extended-property form only.
pub(super) fn list(ctx: &Ctx, query: &str) -> Result<Response, GraphError> {
    require_read(ctx)?;
    let mailbox = ctx.mailbox()?;
    let options = query_options(query);
    let wanted = match option(&options, "$filter") {
        None => None,
        Some(f) => Some(extended_property_filter(f).ok_or_else(|| {
            // [UNCONFIRMED] text: Graph's answer to a filter it cannot apply.
            GraphError::bad_request("ErrorInvalidUrlQueryFilter", "Invalid filter clause")
        })?),
    };
    let wanted = wanted.map(|(id, value)| (property_key(&id), value));
    let mut found: Vec<Draft> = ctx
        .st
        .drafts
        .lock()
        .values()
        .filter(|d| {
            d.tenant_id == ctx.caller.tenant_id && d.mailbox.eq_ignore_ascii_case(&mailbox.address)
        })
        .filter(|d| {
            wanted.as_ref().is_none_or(|(id, value)| {
                d.extended_properties
                    .iter()
                    .any(|(i, v)| property_key(i) == *id && v.eq_ignore_ascii_case(value))
            })
        })
        .cloned()
        .collect();
    found.sort_by_key(|d| d.created);
    let selected = option(&options, "$select");
    let value: Vec<Value> = found
        .iter()
        .map(|d| {
            let mut m = message_json(ctx, d);
            if let Value::Object(o) = &mut m {
                o.remove("@odata.context");
            }
            select(m, selected)
        })
        .collect();
    let out = json!({
        "@odata.context": format!("{}/v1.0/$metadata#users('{}')/messages", ctx.st.base_url, mailbox.address),
        "value": value,
    });
    Ok(json_response(StatusCode::OK, &out))
}

/// `GET /users/{id}/messages/{msgId}/attachments[?$select=…]` → 200 `{"value": […]}`.
pub(super) fn list_attachments(ctx: &Ctx, id: &str, query: &str) -> Result<Response, GraphError> {
    require_read(ctx)?;
    let mailbox = ctx.mailbox()?;
    let draft = with_draft(ctx, &mailbox.address, id, |d| d.clone())?;
    let options = query_options(query);
    let selected = option(&options, "$select");
    let value: Vec<Value> = draft
        .msg
        .attachments
        .iter()
        .zip(&draft.attachment_ids)
        .map(|(a, att_id)| {
            select(
                json!({
                    "@odata.type": "#microsoft.graph.fileAttachment",
                    "@odata.mediaContentType": a.content_type,
                    "id": att_id,
                    "lastModifiedDateTime": rfc3339(draft.created),
                    "name": a.name,
                    "contentType": a.content_type,
                    "size": a.size,
                    "isInline": a.is_inline,
                    "contentId": a.content_id,
                    "contentLocation": null,
                    "contentBytes": a.content_base64,
                }),
                selected,
            )
        })
        .collect();
    let out = json!({
        "@odata.context": format!("{}/v1.0/$metadata#users('{}')/messages('{id}')/attachments", ctx.st.base_url, mailbox.address),
        "value": value,
    });
    Ok(json_response(StatusCode::OK, &out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_ids() {
        assert!(valid_property_id(
            "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Color"
        ));
        assert!(valid_property_id("String 0x007D"));
        assert!(valid_property_id(
            "Integer {66f5a359-4659-4830-9070-00047ec6ac6e} Id 0x8005"
        ));
        assert!(!valid_property_id("String Color"));
        assert!(!valid_property_id(
            "Text {66f5a359-4659-4830-9070-00047ec6ac6e} Name x"
        ));
        assert!(!valid_property_id("String {66f5a359} Name x"));
    }

    #[test]
    fn extended_property_filters() {
        let f = "singleValueExtendedProperties/any(ep: ep/id eq 'String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Color' and ep/value eq 'Green''s')";
        assert_eq!(
            extended_property_filter(f),
            Some((
                "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Color".into(),
                "Green's".into()
            ))
        );
        assert_eq!(extended_property_filter("subject eq 'x'"), None);
        assert_eq!(
            extended_property_filter("singleValueExtendedProperties/any(ep: ep/id eq 'x')"),
            None
        );
        assert_eq!(
            property_key("string {66F5A359-4659-4830-9070-00047EC6AC6E} Name Color"),
            property_key("String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Color")
        );
        assert_ne!(
            property_key("String {66f5a359-4659-4830-9070-00047ec6ac6e} Name color"),
            property_key("String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Color")
        );
    }
}
