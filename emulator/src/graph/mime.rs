//! sendMail's MIME variant: `Content-Type: text/plain`, body = base64 of an RFC 5322 message.

use mail_parser::{Address, MessageParser, MimeHeaders};

use crate::errors::GraphError;
use crate::records::{Header, ParsedMessage, Recipient, RecordedAttachment};
use crate::util::{b64, b64_decode_lenient, sha256_hex};

fn invalid_base64() -> GraphError {
    // Observed without innerError (protocol.md C1).
    GraphError::bad_request(
        "ErrorMimeContentInvalidBase64String",
        "Invalid base64 string for MIME content.",
    )
    .without_inner()
}

fn addrs(a: Option<&Address<'_>>) -> Vec<Recipient> {
    a.map(|a| {
        a.iter()
            .map(|x| Recipient {
                address: x.address().unwrap_or_default().to_string(),
                name: x.name().map(str::to_string).filter(|n| !n.is_empty()),
            })
            .collect()
    })
    .unwrap_or_default()
}

pub(crate) fn parse_mime(body: &[u8]) -> Result<ParsedMessage, GraphError> {
    let text = std::str::from_utf8(body).map_err(|_| invalid_base64())?;
    if text.trim().is_empty() {
        return Err(invalid_base64());
    }
    let raw = b64_decode_lenient(text).ok_or_else(invalid_base64)?;
    parse_rfc5322(&raw).ok_or_else(|| {
        GraphError::bad_request("ErrorMimeContentInvalid", "The MIME content is invalid.")
            .without_inner()
    })
}

/// An RFC 5322 message as the emulator records it (Graph's MIME sendMail and Gmail share it);
/// `None` when `mail-parser` finds no message in the bytes.
pub(crate) fn parse_rfc5322(raw: &[u8]) -> Option<ParsedMessage> {
    let msg = MessageParser::default().parse(raw)?;
    let mut m = ParsedMessage {
        subject: msg.subject().unwrap_or_default().to_string(),
        from: addrs(msg.from()).into_iter().next(),
        to: addrs(msg.to()),
        cc: addrs(msg.cc()),
        bcc: addrs(msg.bcc()),
        reply_to: addrs(msg.reply_to()),
        importance: "normal".to_string(),
        ..Default::default()
    };
    let has_html_part = msg.parts.iter().any(|p| {
        p.content_type().is_some_and(|c| {
            c.ctype().eq_ignore_ascii_case("text")
                && c.subtype().is_some_and(|s| s.eq_ignore_ascii_case("html"))
        })
    });
    if has_html_part && let Some(html) = msg.body_html(0) {
        // Prefer HTML when the message has an HTML part, as Outlook shows it.
        m.body_content_type = "html".to_string();
        m.body = html.into_owned();
    } else {
        m.body_content_type = "text".to_string();
        m.body = msg.body_text(0).map(|c| c.into_owned()).unwrap_or_default();
    }
    let raw_msg = msg.raw_message();
    for h in msg.headers() {
        let name = h.name();
        let lower = name.to_ascii_lowercase();
        if lower == "importance" {
            let start = h.offset_start() as usize;
            let end = (h.offset_end() as usize).min(raw_msg.len());
            let v = String::from_utf8_lossy(raw_msg.get(start..end).unwrap_or_default())
                .trim()
                .to_ascii_lowercase();
            if matches!(v.as_str(), "low" | "normal" | "high") {
                m.importance = v;
            }
        }
        if lower.starts_with("x-") {
            let start = h.offset_start() as usize;
            let end = (h.offset_end() as usize).min(raw_msg.len());
            let v = String::from_utf8_lossy(raw_msg.get(start..end).unwrap_or_default());
            m.headers.push(Header {
                name: name.to_string(),
                value: v.trim().replace("\r\n", "").to_string(),
            });
        }
    }
    for part in msg.attachments() {
        let bytes = part.contents();
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(st) => format!("{}/{}", ct.ctype(), st),
                None => ct.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".to_string());
        let content_id = part
            .content_id()
            .map(|c| c.trim_matches(['<', '>']).to_string());
        m.attachments.push(RecordedAttachment {
            name: part.attachment_name().unwrap_or_default().to_string(),
            content_type,
            size: bytes.len() as u64,
            is_inline: part.content_disposition().is_some_and(|d| d.is_inline())
                && content_id.is_some(),
            content_id,
            content_base64: b64(bytes),
            sha256: sha256_hex(bytes),
        });
    }
    Some(m)
}
