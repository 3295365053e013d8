//! Strict reading of Graph `message` JSON, with OData's error wording for unknown or
//! mistyped properties (Graph answers 400 `RequestBodyRead`).

use serde_json::{Map, Value};

use crate::errors::GraphError;
use crate::records::{Header, ParsedMessage, Recipient, RecordedAttachment};
use crate::util::{b64, b64_decode_lenient, sha256_hex};

/// Properties of `microsoft.graph.message` that the emulator accepts (and mostly ignores).
const MESSAGE_PROPS: &[&str] = &[
    "subject",
    "body",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "from",
    "sender",
    "importance",
    "internetMessageHeaders",
    "attachments",
    "bodyPreview",
    "categories",
    "changeKey",
    "conversationId",
    "conversationIndex",
    "createdDateTime",
    "flag",
    "hasAttachments",
    "id",
    "inferenceClassification",
    "internetMessageId",
    "isDeliveryReceiptRequested",
    "isDraft",
    "isRead",
    "isReadReceiptRequested",
    "lastModifiedDateTime",
    "parentFolderId",
    "receivedDateTime",
    "sentDateTime",
    "uniqueBody",
    "webLink",
    "extensions",
    "multiValueExtendedProperties",
    "singleValueExtendedProperties",
];
const FILE_ATTACHMENT_PROPS: &[&str] = &[
    "name",
    "contentType",
    "contentBytes",
    "contentId",
    "contentLocation",
    "isInline",
    "size",
    "id",
    "lastModifiedDateTime",
];
const BASE_ATTACHMENT_PROPS: &[&str] = &[
    "name",
    "contentType",
    "isInline",
    "size",
    "id",
    "lastModifiedDateTime",
];

pub(crate) fn body_read(message: impl Into<String>) -> GraphError {
    GraphError::bad_request("RequestBodyRead", message)
}

fn unknown_property(name: &str, ty: &str) -> GraphError {
    body_read(format!(
        "The property '{name}' does not exist on type '{ty}'. Make sure to only use property names that are defined by the type or mark the type as open type."
    ))
}

fn literal(v: &Value, ty: &str) -> GraphError {
    let shown = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    body_read(format!(
        "Cannot convert the literal '{shown}' to the expected type '{ty}'."
    ))
}

/// Rejects properties not in `allowed`; `@odata.*` annotations are allowed.
pub(crate) fn check_props(
    obj: &Map<String, Value>,
    allowed: &[&str],
    ty: &str,
) -> Result<(), GraphError> {
    for k in obj.keys() {
        if k.starts_with("@odata.") || allowed.contains(&k.as_str()) {
            continue;
        }
        return Err(unknown_property(k, ty));
    }
    Ok(())
}

fn as_object<'a>(v: &'a Value, ty: &str) -> Result<&'a Map<String, Value>, GraphError> {
    v.as_object().ok_or_else(|| {
        body_read(format!(
            "An unexpected '{}' node was found when reading a value of type '{ty}'.",
            node(v)
        ))
    })
}

fn node(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "StartObject",
        Value::Array(_) => "StartArray",
        _ => "PrimitiveValue",
    }
}

fn opt_str(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, GraphError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(literal(other, "Edm.String")),
    }
}

pub(crate) fn opt_bool(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>, GraphError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        // Graph's own sendMail sample sends "false" as a string; OData accepts it.
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(literal(other, "Edm.Boolean")),
    }
}

fn recipient(v: &Value) -> Result<Recipient, GraphError> {
    let obj = as_object(v, "microsoft.graph.recipient")?;
    check_props(obj, &["emailAddress"], "microsoft.graph.recipient")?;
    let Some(ea) = obj.get("emailAddress").filter(|v| !v.is_null()) else {
        return Ok(Recipient {
            address: String::new(),
            name: None,
        });
    };
    let ea = as_object(ea, "microsoft.graph.emailAddress")?;
    check_props(ea, &["address", "name"], "microsoft.graph.emailAddress")?;
    Ok(Recipient {
        address: opt_str(ea, "address")?.unwrap_or_default(),
        name: opt_str(ea, "name")?.filter(|n| !n.is_empty()),
    })
}

fn recipients(obj: &Map<String, Value>, key: &str) -> Result<Vec<Recipient>, GraphError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(recipient).collect(),
        Some(other) => Err(body_read(format!(
            "An unexpected '{}' node was found when reading from the JSON reader. A 'StartArray' node was expected.",
            node(other)
        ))),
    }
}

/// Parses one `fileAttachment` object (inside a message or posted to `/attachments`).
pub(crate) fn attachment(v: &Value) -> Result<RecordedAttachment, GraphError> {
    let obj = as_object(v, "microsoft.graph.attachment")?;
    let odata_type = obj.get("@odata.type").and_then(Value::as_str).unwrap_or("");
    let t = odata_type.trim_start_matches('#').to_ascii_lowercase();
    if t.is_empty() || t == "microsoft.graph.attachment" {
        // Without a type OData reads the abstract base type, which has no contentBytes.
        check_props(obj, BASE_ATTACHMENT_PROPS, "microsoft.graph.attachment")?;
        return Err(body_read(
            "A type named 'microsoft.graph.attachment' is abstract; the attachment needs '@odata.type': '#microsoft.graph.fileAttachment'.",
        ));
    }
    if t != "microsoft.graph.fileattachment" {
        return Err(GraphError::bad_request(
            "ErrorInvalidRequest",
            format!("The attachment type '{odata_type}' is not supported by this emulator."),
        ));
    }
    check_props(obj, FILE_ATTACHMENT_PROPS, "microsoft.graph.fileAttachment")?;
    let bytes = match obj.get("contentBytes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => {
            b64_decode_lenient(s).ok_or_else(|| literal(&Value::String(s.clone()), "Edm.Binary"))?
        }
        Some(other) => return Err(literal(other, "Edm.Binary")),
    };
    let content_id = opt_str(obj, "contentId")?.filter(|c| !c.is_empty());
    Ok(RecordedAttachment {
        name: opt_str(obj, "name")?.unwrap_or_default(),
        content_type: opt_str(obj, "contentType")?
            .unwrap_or_else(|| "application/octet-stream".to_string()),
        size: bytes.len() as u64,
        is_inline: opt_bool(obj, "isInline")?.unwrap_or(false),
        content_id,
        content_base64: b64(&bytes),
        sha256: sha256_hex(&bytes),
    })
}

pub(crate) fn parse_message(v: &Value) -> Result<ParsedMessage, GraphError> {
    let obj = as_object(v, "microsoft.graph.message")?;
    check_props(obj, MESSAGE_PROPS, "microsoft.graph.message")?;
    let mut m = ParsedMessage {
        subject: opt_str(obj, "subject")?.unwrap_or_default(),
        body_content_type: "text".to_string(),
        importance: "normal".to_string(),
        ..Default::default()
    };
    if let Some(body) = obj.get("body").filter(|b| !b.is_null()) {
        let b = as_object(body, "microsoft.graph.itemBody")?;
        check_props(b, &["contentType", "content"], "microsoft.graph.itemBody")?;
        if let Some(ct) = obj_get_str(b, "contentType")? {
            m.body_content_type = match ct.to_ascii_lowercase().as_str() {
                "text" => "text".to_string(),
                "html" => "html".to_string(),
                _ => return Err(literal(&Value::String(ct), "microsoft.graph.bodyType")),
            };
        }
        m.body = opt_str(b, "content")?.unwrap_or_default();
    }
    m.to = recipients(obj, "toRecipients")?;
    m.cc = recipients(obj, "ccRecipients")?;
    m.bcc = recipients(obj, "bccRecipients")?;
    m.reply_to = recipients(obj, "replyTo")?;
    if let Some(f) = obj.get("from").filter(|f| !f.is_null()) {
        m.from = Some(recipient(f)?);
    }
    if let Some(imp) = opt_str(obj, "importance")? {
        m.importance = match imp.to_ascii_lowercase().as_str() {
            "low" => "low".to_string(),
            "normal" => "normal".to_string(),
            "high" => "high".to_string(),
            _ => return Err(literal(&Value::String(imp), "microsoft.graph.importance")),
        };
    }
    match obj.get("internetMessageHeaders") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for h in items {
                let ho = as_object(h, "microsoft.graph.internetMessageHeader")?;
                check_props(
                    ho,
                    &["name", "value"],
                    "microsoft.graph.internetMessageHeader",
                )?;
                m.headers.push(Header {
                    name: opt_str(ho, "name")?.unwrap_or_default(),
                    value: opt_str(ho, "value")?.unwrap_or_default(),
                });
            }
        }
        Some(other) => {
            return Err(literal(
                other,
                "Collection(microsoft.graph.internetMessageHeader)",
            ));
        }
    }
    match obj.get("attachments") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for a in items {
                m.attachments.push(attachment(a)?);
            }
        }
        Some(other) => return Err(literal(other, "Collection(microsoft.graph.attachment)")),
    }
    Ok(m)
}

fn obj_get_str(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, GraphError> {
    opt_str(obj, key)
}

/// Exchange's rules for custom headers (protocol.md C1).
pub(crate) fn check_headers(headers: &[Header]) -> Result<(), GraphError> {
    if headers.len() > 5 {
        return Err(GraphError::bad_request(
            "InvalidInternetMessageHeaderCollection",
            "Maximum number of headers in one message should be less than or equal to 5.",
        ));
    }
    for h in headers {
        let lower = h.name.to_ascii_lowercase();
        if !lower.starts_with("x-") {
            return Err(GraphError::bad_request(
                "InvalidInternetMessageHeader",
                format!(
                    "The internet message header name '{}' should start with 'x-' or 'X-'.",
                    h.name
                ),
            ));
        }
    }
    Ok(())
}

/// Checks recipients the way transport submission does: there must be some, and each must
/// look like an address.
pub(crate) fn check_recipients(m: &ParsedMessage) -> Result<(), GraphError> {
    let all = m.to.iter().chain(&m.cc).chain(&m.bcc);
    let mut any = false;
    for r in all {
        any = true;
        if !valid_address(&r.address) {
            let shown = if r.address.is_empty() {
                r.name.clone().unwrap_or_default()
            } else {
                r.address.clone()
            };
            return Err(GraphError::bad_request(
                "ErrorInvalidRecipients",
                format!(
                    "At least one recipient isn't valid., Recipient '{shown}' isn't resolved. All recipients must be resolved before a message can be submitted."
                ),
            ));
        }
    }
    if !any {
        return Err(GraphError::bad_request(
            "ErrorInvalidRecipients",
            "At least one recipient isn't valid., A message can't be sent because it contains no recipients.",
        ));
    }
    Ok(())
}

fn valid_address(a: &str) -> bool {
    match a.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !a.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
        }
        None => false,
    }
}
