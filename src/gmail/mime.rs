//! The RFC 5322 message Gmail sends, built with `mail-builder` from the same prepared message as
//! Graph's JSON: addresses (Bcc included: Gmail takes the recipients from the To, Cc and Bcc
//! headers and strips Bcc from what it delivers), the body, attachments, inline images in a
//! `multipart/related` with an HTML body, importance and the custom `x-` headers. Non-ASCII
//! names, subjects and header values are RFC 2047 encoded by the builder; attachment bytes are
//! base64, so they arrive byte for byte.

use std::borrow::Cow;

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use mail_builder::mime::{BodyPart, MimePart};

use crate::mail::message::Importance;
use crate::mail::prepare::{EmailAddress, PreparedAttachment, PreparedMessage};

fn address(a: &EmailAddress) -> Address<'_> {
    Address::new_address(a.name.as_deref(), a.address.as_str())
}

fn address_list(list: &[EmailAddress]) -> Address<'_> {
    Address::new_list(list.iter().map(address).collect())
}

/// A MIME type that is safe to write as a header value; anything else is
/// `application/octet-stream` (the attachment's bytes are what matters).
fn content_type(text: &str) -> &str {
    let ok = !text.is_empty() && text.chars().all(|c| c.is_ascii_graphic() || c == ' ');
    if ok && text.contains('/') {
        text
    } else {
        "application/octet-stream"
    }
}

fn attachment_part(a: &PreparedAttachment) -> MimePart<'_> {
    let part = MimePart::new(
        ContentType::new(content_type(&a.content_type)),
        BodyPart::Binary(Cow::Borrowed(&a.bytes)),
    );
    match &a.content_id {
        Some(cid) => part
            .header(
                "Content-Disposition",
                ContentType::new("inline").attribute("filename", a.name.as_str()),
            )
            .cid(cid.as_str()),
        None => part.attachment(a.name.as_str()),
    }
}

/// The RFC 5322 bytes of `m`, with `message_id` (without angle brackets) as its Message-ID.
pub(crate) fn build(m: &PreparedMessage, message_id: &str) -> Vec<u8> {
    let mut builder = MessageBuilder::new()
        .message_id(message_id)
        .from(address(&m.from))
        .subject(m.subject.as_str());
    if !m.to.is_empty() {
        builder = builder.to(address_list(&m.to));
    }
    if !m.cc.is_empty() {
        builder = builder.cc(address_list(&m.cc));
    }
    if !m.bcc.is_empty() {
        builder = builder.bcc(address_list(&m.bcc));
    }
    if !m.reply_to.is_empty() {
        builder = builder.reply_to(address_list(&m.reply_to));
    }
    // Outlook reads Importance, most other clients X-Priority.
    let priority = match m.importance {
        Importance::High => Some(("high", "1 (Highest)")),
        Importance::Low => Some(("low", "5 (Lowest)")),
        Importance::Normal => None,
    };
    if let Some((importance, x_priority)) = priority {
        builder = builder
            .header("Importance", Raw::new(importance))
            .header("X-Priority", Raw::new(x_priority));
    }
    for (name, value) in &m.headers {
        builder = builder.header(name.as_str(), Text::new(value.as_str()));
    }
    let body = MimePart::new(
        if m.body_as_html {
            "text/html"
        } else {
            "text/plain"
        },
        BodyPart::Text(Cow::Borrowed(m.body.as_str())),
    );
    let (inline, attached): (Vec<_>, Vec<_>) = m.attachments.iter().partition(|a| a.is_inline());
    // Inline images belong with the HTML that refers to them; a text body cannot, so there
    // they are plain attachments that keep their Content-ID.
    let (body, attached) = if m.body_as_html && !inline.is_empty() {
        let mut parts = vec![body];
        parts.extend(inline.into_iter().map(attachment_part));
        (
            MimePart::new("multipart/related", BodyPart::Multipart(parts)),
            attached,
        )
    } else {
        let mut all = inline;
        all.extend(attached);
        (body, all)
    };
    let body = if attached.is_empty() {
        body
    } else {
        let mut parts = vec![body];
        parts.extend(attached.into_iter().map(attachment_part));
        MimePart::new("multipart/mixed", BodyPart::Multipart(parts))
    };
    let mut out = Vec::new();
    builder.body(body).serialize(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::message::Message;
    use mail_parser::{MessageParser, MimeHeaders};

    fn prepared(json: &str) -> PreparedMessage {
        Message::from_json(json)
            .unwrap()
            .prepare_for(crate::authorized::Service::Gmail, &[])
            .unwrap()
    }

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn addresses_subject_and_headers_survive_a_parse() {
        let m = prepared(
            r#"{"from":"Jörg Müller <joerg@example.com>",
                "to":["Ann <ann@example.com>", {"address":"b@example.com","name":"Bö, Ärger"}],
                "cc":["c@example.com"], "bcc":["hidden@example.com"], "replyTo":["r@example.com"],
                "subject":"Größenbericht – 漢字 ✓", "body":"Grüße\nzweite Zeile",
                "importance":"high",
                "headers":[{"name":"X-Run-Id","value":"42 – ü"}]}"#,
        );
        let raw = build(&m, "abc@example.com");
        let text = String::from_utf8_lossy(&raw);
        // Headers are 7-bit: the builder encoded every non-ASCII word.
        let headers_end = text.find("\r\n\r\n").unwrap();
        assert!(text[..headers_end].is_ascii(), "{}", &text[..headers_end]);
        let parsed = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(parsed.subject(), Some("Größenbericht – 漢字 ✓"));
        let from = parsed.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some("Jörg Müller"));
        assert_eq!(from.address(), Some("joerg@example.com"));
        let to: Vec<_> = parsed
            .to()
            .unwrap()
            .iter()
            .map(|a| (a.name().map(str::to_owned), a.address().unwrap().to_owned()))
            .collect();
        assert_eq!(
            to,
            vec![
                (Some("Ann".to_owned()), "ann@example.com".to_owned()),
                (Some("Bö, Ärger".to_owned()), "b@example.com".to_owned())
            ]
        );
        assert_eq!(
            parsed.cc().unwrap().first().unwrap().address(),
            Some("c@example.com")
        );
        // Gmail sends to Bcc recipients only when the header is in the message.
        assert_eq!(
            parsed.bcc().unwrap().first().unwrap().address(),
            Some("hidden@example.com")
        );
        assert_eq!(
            parsed.reply_to().unwrap().first().unwrap().address(),
            Some("r@example.com")
        );
        assert_eq!(parsed.message_id(), Some("abc@example.com"));
        assert_eq!(
            parsed.body_text(0).unwrap().replace("\r\n", "\n"),
            "Grüße\nzweite Zeile"
        );
        let header = |name: &str| {
            parsed
                .header_raw(name)
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        assert_eq!(header("Importance"), "high");
        assert_eq!(header("X-Priority"), "1 (Highest)");
        // mail-parser decodes an unknown header only when told to.
        let custom = MessageParser::new()
            .header_text(mail_parser::HeaderName::Other("X-Run-Id".into()))
            .parse(&raw)
            .unwrap();
        assert_eq!(
            custom.header("X-Run-Id").and_then(|h| h.as_text()),
            Some("42 – ü")
        );
    }

    #[test]
    fn attachments_are_byte_exact_and_inline_images_are_related_to_the_html() {
        let binary: Vec<u8> = (0..=255u8).cycle().take(70_001).collect();
        let image = b"\x89PNG\r\n\x1a\n not really a png".to_vec();
        let json = format!(
            r#"{{"from":"a@example.com","to":["b@example.com"],"subject":"s",
                "body":"<p>logo: <img src=\"cid:logo\"></p>","bodyAsHtml":true,
                "attachments":[
                  {{"name":"data ä.bin","contentBase64":"{}"}},
                  {{"name":"logo.png","contentBase64":"{}","contentId":"logo"}}]}}"#,
            b64(&binary),
            b64(&image)
        );
        let raw = build(&prepared(&json), "id@example.com");
        let parsed = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(
            parsed
                .content_type()
                .map(|c| c.ctype().to_owned() + "/" + c.subtype().unwrap()),
            Some("multipart/mixed".to_owned())
        );
        assert!(parsed.body_html(0).unwrap().contains("cid:logo"));
        let attachments: Vec<_> = parsed.attachments().collect();
        assert_eq!(attachments.len(), 2, "{}", String::from_utf8_lossy(&raw));
        let logo = attachments
            .iter()
            .find(|a| a.content_id() == Some("logo"))
            .unwrap();
        assert_eq!(logo.contents(), image.as_slice());
        assert_eq!(logo.attachment_name(), Some("logo.png"));
        let data = attachments
            .iter()
            .find(|a| a.attachment_name() == Some("data ä.bin"))
            .unwrap();
        assert_eq!(data.contents(), binary.as_slice());
        assert!(data.content_id().is_none());
        // The image sits in a multipart/related with the HTML.
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("multipart/related"), "{text}");
        // Normal importance writes neither header.
        assert!(!text.contains("X-Priority"));
    }

    #[test]
    fn a_text_body_keeps_inline_parts_as_attachments() {
        let json = format!(
            r#"{{"from":"a@example.com","to":["b@example.com"],"body":"plain",
                "importance":"low",
                "attachments":[{{"name":"i.png","contentBase64":"{}","contentId":"<i1>"}}]}}"#,
            b64(b"img")
        );
        let raw = build(&prepared(&json), "x@example.com");
        let parsed = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(parsed.body_text(0).as_deref(), Some("plain"));
        let attachment = parsed.attachments().next().unwrap();
        assert_eq!(attachment.contents(), b"img");
        assert_eq!(attachment.content_id(), Some("i1"));
        assert_eq!(
            parsed.header_raw("X-Priority").map(str::trim),
            Some("5 (Lowest)")
        );
        assert!(!String::from_utf8_lossy(&raw).contains("multipart/related"));
    }

    #[test]
    fn unsafe_content_types_become_octet_stream() {
        assert_eq!(content_type("image/png"), "image/png");
        assert_eq!(
            content_type("text/plain; charset=utf-8"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            content_type("text/plain\r\nBcc: x"),
            "application/octet-stream"
        );
        assert_eq!(content_type("nonsense"), "application/octet-stream");
    }
}
