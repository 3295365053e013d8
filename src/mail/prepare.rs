//! From the message document to a [`PreparedMessage`]: addresses parsed and checked, header
//! rules applied, attachments loaded. The only file I/O of the mail code (attachment paths) is
//! here, so everything after this step works on bytes in memory. Host buffers (`"buffer": n`)
//! are copied here too, once: the prepared message owns its bytes and outlives the borrow.
//!
//! Every refusal that needs only sizes is made here too, before any token or Graph request: a
//! message too large for any request below 4 MiB (in practice, its body), and an attachment in the seam
//! (under the 3 MiB an upload session needs, yet 4 MiB or more as one request). The request
//! sizes are computed exactly, byte for byte as `wire.rs` serialises them (a test compares).

use base64::Engine;

use crate::authorized::Service;
use crate::error::{Error, Result};
use crate::host_file::read_host_file;
use crate::mail::graph::{LARGE_ATTACHMENT_BYTES, MAX_REQUEST_BYTES};
use crate::mail::message::{AttachmentInput, HeaderInput, Importance, Message, RecipientInput};

/// Graph's limit for one upload-session attachment (150 MiB).
pub const MAX_ATTACHMENT_BYTES: usize = 150 * 1024 * 1024;
/// Graph allows at most 5 custom internet headers.
pub const MAX_HEADERS: usize = 5;
/// Exchange Online's recipients-per-message limit.
pub const MAX_RECIPIENTS: usize = 500;
/// Google Workspace's recipients-per-message limit (Gmail sending limits).
pub const GMAIL_MAX_RECIPIENTS: usize = 2_000;

/// A validated address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress {
    pub address: String,
    pub name: Option<String>,
}

/// An attachment with its bytes loaded.
#[derive(Clone, PartialEq, Eq)]
pub struct PreparedAttachment {
    pub name: String,
    pub content_type: String,
    pub content_id: Option<String>,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for PreparedAttachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedAttachment")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("content_id", &self.content_id)
            .field("size", &self.bytes.len())
            .finish()
    }
}

impl PreparedAttachment {
    pub fn is_inline(&self) -> bool {
        self.content_id.is_some()
    }
}

/// A message ready to go: addresses checked, attachments loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedMessage {
    pub from: EmailAddress,
    pub to: Vec<EmailAddress>,
    pub cc: Vec<EmailAddress>,
    pub bcc: Vec<EmailAddress>,
    pub reply_to: Vec<EmailAddress>,
    pub subject: String,
    pub body: String,
    pub body_as_html: bool,
    pub importance: Importance,
    pub save_to_sent_items: bool,
    pub headers: Vec<(String, String)>,
    pub attachments: Vec<PreparedAttachment>,
}

impl Message {
    /// The sending mailbox, parsed from `from`.
    pub(crate) fn sending_mailbox(&self) -> Result<EmailAddress> {
        parse_mailbox(&self.from).map_err(|why| {
            Error::invalid_argument(format!("from: {why}"))
                .with_remedy("from must be the sending mailbox's address, e.g. alerts@contoso.com")
        })
    }

    /// Validates everything and loads the attachments; a `buffer` attachment is an error (no
    /// buffers given).
    #[cfg(test)]
    pub(crate) fn prepare(&self) -> Result<PreparedMessage> {
        self.prepare_with_buffers(&[])
    }

    /// Validates everything and loads the attachments; `"buffer": n` attachments take their
    /// bytes from `buffers[n]` (copied: the result borrows nothing). Buffers no attachment names
    /// are ignored. The one place a send (single or batched) turns a document into bytes.
    #[cfg(test)]
    pub(crate) fn prepare_with_buffers(&self, buffers: &[&[u8]]) -> Result<PreparedMessage> {
        self.prepare_for(Service::Graph, buffers)
    }

    /// [`Message::prepare_with_buffers`] under the size rules of `service`: Graph's request
    /// limits (4 MiB requests, the upload seam, 150 MiB per attachment), or Gmail's (one
    /// RFC 5322 message of at most 35 MiB, checked once it is built).
    pub(crate) fn prepare_for(
        &self,
        service: Service,
        buffers: &[&[u8]],
    ) -> Result<PreparedMessage> {
        let from = self.sending_mailbox()?;
        let to = parse_list("to", &self.to)?;
        let cc = parse_list("cc", &self.cc)?;
        let bcc = parse_list("bcc", &self.bcc)?;
        let reply_to = parse_list("replyTo", &self.reply_to)?;
        let recipients = to.len() + cc.len() + bcc.len();
        if recipients == 0 {
            return Err(Error::invalid_argument(
                "the message has no recipients: give at least one of to, cc or bcc",
            ));
        }
        let max_recipients = match service {
            Service::Graph => MAX_RECIPIENTS,
            Service::Gmail => GMAIL_MAX_RECIPIENTS,
        };
        if recipients > max_recipients {
            let limit = match service {
                Service::Graph => format!("Exchange Online allows {MAX_RECIPIENTS}"),
                Service::Gmail => format!(
                    "Google Workspace allows {GMAIL_MAX_RECIPIENTS} (at most 500 outside your domain)"
                ),
            };
            return Err(Error::invalid_argument(format!(
                "the message has {recipients} recipients; {limit}: split it into several messages"
            )));
        }
        let headers = validate_headers(&self.headers)?;
        let mut prepared = PreparedMessage {
            from,
            to,
            cc,
            bcc,
            reply_to,
            subject: self.subject.clone(),
            body: self.body.clone(),
            body_as_html: self.body_as_html,
            importance: self.importance.unwrap_or_default(),
            save_to_sent_items: self.save_to_sent_items.unwrap_or(true),
            headers,
            attachments: Vec::new(),
        };
        // Before any attachment is read: the body alone may already be too large.
        if service == Service::Graph {
            check_message_size(&prepared, !self.attachments.is_empty())?;
        }
        let mut total = 0usize;
        prepared.attachments = Vec::with_capacity(self.attachments.len());
        for (i, input) in self.attachments.iter().enumerate() {
            let attachment = load_attachment(i, input, buffers, service)?;
            total += attachment.bytes.len();
            // Gmail: stop reading once the attachments alone pass the message limit.
            if total > service.max_attachment_bytes() {
                return Err(Error::attachment(format!(
                    "the attachments add up to more than {} bytes, more than {} accepts in one message",
                    service.max_attachment_bytes(),
                    service.name()
                ))
                .with_remedy("Send fewer or smaller attachments, or a link to the files (e.g. Google Drive) instead."));
            }
            prepared.attachments.push(attachment);
        }
        if service == Service::Graph {
            for (i, attachment) in prepared.attachments.iter().enumerate() {
                check_seam(i, attachment)?;
            }
        }
        Ok(prepared)
    }
}

/// The size rules a message is prepared under.
impl Service {
    /// The most attachment bytes one attachment (Graph) or all together (Gmail) may have.
    fn max_attachment_bytes(self) -> usize {
        match self {
            Service::Graph => usize::MAX,
            Service::Gmail => GMAIL_MAX_MESSAGE_BYTES,
        }
    }

    fn max_one_attachment(self) -> usize {
        match self {
            Service::Graph => MAX_ATTACHMENT_BYTES,
            Service::Gmail => GMAIL_MAX_MESSAGE_BYTES,
        }
    }
}

/// Gmail's limit for one message (`mediaUpload.maxSize` of `users.messages.send`: 35 MiB),
/// headers and encoding included.
pub const GMAIL_MAX_MESSAGE_BYTES: usize = 36_700_160;

/// The message must fit in some request below Graph's 4 MiB: the sendMail request (with every
/// attachment inline), or else the draft path's `POST /messages` (at its smallest: no
/// attachments, plus the send marker). Checked before any attachment is read: with attachments
/// the sendMail request is always the larger one (one attachment's JSON outweighs the draft's
/// marker; a test checks), so the draft's size decides, and it needs no attachment.
fn check_message_size(message: &PreparedMessage, has_attachments: bool) -> Result<()> {
    let draft = draft_json_len(message);
    let size = if has_attachments {
        draft
    } else {
        send_mail_json_len(message).min(draft)
    };
    if size < MAX_REQUEST_BYTES {
        return Ok(());
    }
    Err(Error::invalid_argument(format!(
        "the message is too large for Graph: its smallest form is a {size}-byte request (the body is {} bytes); Graph accepts at most 4 MiB ({MAX_REQUEST_BYTES} bytes) per request",
        message.body.len()
    ))
    .with_remedy(
        "Shorten the body, or send the large content as an attachment (a file of 3 MiB or more goes through an upload session).",
    ))
}

/// An attachment under 3 MiB goes inline or in a request of its own; when even that request
/// is 4 MiB or more, no way is left (an upload session needs 3 MiB or more).
fn check_seam(index: usize, attachment: &PreparedAttachment) -> Result<()> {
    let size = attachment.bytes.len();
    if size >= LARGE_ATTACHMENT_BYTES {
        return Ok(());
    }
    let request = attachment_json_len(attachment);
    if request < MAX_REQUEST_BYTES {
        return Ok(());
    }
    Err(Error::attachment(format!(
        "attachments[{index}] '{}' is {size} bytes: too large for one request once base64-encoded (a {request}-byte request; Graph's limit is 4 MiB, {MAX_REQUEST_BYTES} bytes) and too small for an upload session (Graph's minimum is 3 MiB, {LARGE_ATTACHMENT_BYTES} bytes)",
        attachment.name
    ))
    .with_remedy("Compress it (e.g. into a .zip) or split it into files of at most 3,000,000 bytes each."))
}

/// Counts the bytes serde_json writes.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The length of `text` as a JSON string (quotes and escapes included), as serde_json writes it.
fn json_str_len(text: &str) -> usize {
    let mut counter = ByteCounter(0);
    // Writing to a counter cannot fail, and a string always serialises.
    let _ = serde_json::to_writer(&mut counter, text);
    counter.0
}

fn recipient_json_len(address: &EmailAddress) -> usize {
    r#"{"emailAddress":{"address":"#.len()
        + json_str_len(&address.address)
        + address
            .name
            .as_deref()
            .map_or(0, |name| r#","name":"#.len() + json_str_len(name))
        + "}}".len()
}

fn recipients_json_len(list: &[EmailAddress]) -> usize {
    "[]".len() + list.iter().map(recipient_json_len).sum::<usize>() + list.len().saturating_sub(1)
}

/// The Graph `message` JSON of `wire::GraphMessage` without attachments, in bytes.
fn bare_message_json_len(m: &PreparedMessage) -> usize {
    let importance = match m.importance {
        Importance::Low => "Low",
        Importance::Normal => "Normal",
        Importance::High => "High",
    };
    let mut len = r#"{"subject":"#.len()
        + json_str_len(&m.subject)
        + r#","body":{"contentType":"#.len()
        + json_str_len(if m.body_as_html { "HTML" } else { "Text" })
        + r#","content":"#.len()
        + json_str_len(&m.body)
        + "}".len()
        + r#","from":"#.len()
        + recipient_json_len(&m.from)
        + r#","toRecipients":"#.len()
        + recipients_json_len(&m.to)
        + r#","ccRecipients":"#.len()
        + recipients_json_len(&m.cc)
        + r#","bccRecipients":"#.len()
        + recipients_json_len(&m.bcc)
        + r#","importance":"#.len()
        + json_str_len(importance);
    if !m.reply_to.is_empty() {
        len += r#","replyTo":"#.len() + recipients_json_len(&m.reply_to);
    }
    if !m.headers.is_empty() {
        len += r#","internetMessageHeaders":"#.len()
            + "[]".len()
            + m.headers
                .iter()
                .map(|(name, value)| {
                    r#"{"name":"#.len()
                        + json_str_len(name)
                        + r#","value":"#.len()
                        + json_str_len(value)
                        + "}".len()
                })
                .sum::<usize>()
            + (m.headers.len() - 1);
    }
    len + "}".len()
}

/// What `wire::GraphMessage::with_send_marker` adds to a draft: the marker property with a
/// hyphenated UUID (36 characters) as its value.
const DRAFT_MARKER_JSON_BYTES: usize = r#","singleValueExtendedProperties":[{"id":"String {b7a3f0de-5c1e-4d6b-9a51-7f3e2c8d4a10} Name pmpMailSendId","value":"00000000-0000-0000-0000-000000000000"}]"#.len();

/// The draft path's smallest `POST /messages` (no attachments inline), in bytes.
fn draft_json_len(m: &PreparedMessage) -> usize {
    bare_message_json_len(m) + DRAFT_MARKER_JSON_BYTES
}

/// The sendMail request (`wire::SendMailBody`: the message with every attachment inline), in
/// bytes.
fn send_mail_json_len(m: &PreparedMessage) -> usize {
    let attachments = if m.attachments.is_empty() {
        0
    } else {
        r#","attachments":"#.len()
            + "[]".len()
            + m.attachments.iter().map(attachment_json_len).sum::<usize>()
            + (m.attachments.len() - 1)
    };
    r#"{"message":"#.len()
        + bare_message_json_len(m)
        + attachments
        + r#","saveToSentItems":"#.len()
        + if m.save_to_sent_items {
            "true"
        } else {
            "false"
        }
        .len()
        + "}".len()
}

/// The `fileAttachment` JSON of `wire::FileAttachment` (the body of `POST .../attachments`),
/// in bytes.
fn attachment_json_len(a: &PreparedAttachment) -> usize {
    r##"{"@odata.type":"#microsoft.graph.fileAttachment","name":"##.len()
        + json_str_len(&a.name)
        + r#","contentType":"#.len()
        + json_str_len(&a.content_type)
        + r#","contentBytes":""#.len()
        + a.bytes.len().div_ceil(3) * 4
        + r#"","isInline":"#.len()
        + if a.is_inline() { "true" } else { "false" }.len()
        + a.content_id
            .as_deref()
            .map_or(0, |id| r#","contentId":"#.len() + json_str_len(id))
        + "}".len()
}

fn parse_list(field: &str, inputs: &[RecipientInput]) -> Result<Vec<EmailAddress>> {
    inputs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let parsed = match r {
                RecipientInput::Text(s) => parse_mailbox(s),
                RecipientInput::Object(o) => {
                    check_address(o.address.trim()).map(|address| EmailAddress {
                        address,
                        name: o
                            .name
                            .as_ref()
                            .map(|n| n.trim().to_owned())
                            .filter(|n| !n.is_empty()),
                    })
                }
            };
            parsed.map_err(|why| Error::invalid_argument(format!("{field}[{i}]: {why}")))
        })
        .collect()
}

/// `addr` or `Name <addr>` or `"Last, First" <addr>`.
pub fn parse_mailbox(text: &str) -> std::result::Result<EmailAddress, String> {
    let text = text.trim();
    if let Some(open) = text.rfind('<')
        && text.ends_with('>')
    {
        let address = check_address(text[open + 1..text.len() - 1].trim())?;
        let name = text[..open].trim().trim_matches('"').trim();
        return Ok(EmailAddress {
            address,
            name: (!name.is_empty()).then(|| name.to_owned()),
        });
    }
    Ok(EmailAddress {
        address: check_address(text)?,
        name: None,
    })
}

/// A pragmatic address check (what Exchange would accept), with a reason on failure. Written
/// here rather than taken from an RFC 5322 crate because the rule is Exchange's: Unicode local
/// parts and internationalised domains pass, quoted local parts and IP literals do not.
fn check_address(address: &str) -> std::result::Result<String, String> {
    let show = || format!("'{address}'");
    if address.is_empty() {
        return Err("the address is empty".into());
    }
    if address.chars().count() > 254 {
        return Err(format!("{} is longer than 254 characters", show()));
    }
    let Some(at) = address.rfind('@') else {
        return Err(format!("{} is not an email address (no @)", show()));
    };
    let (local, domain) = (&address[..at], &address[at + 1..]);
    if local.is_empty() || local.chars().count() > 64 {
        return Err(format!("{} has an empty or too long local part", show()));
    }
    let forbidden = |c: char| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\@".contains(c);
    if local.chars().any(forbidden)
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
    {
        return Err(format!(
            "{} has an invalid character or dot in its local part",
            show()
        ));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(format!("{} has an invalid domain", show()));
    }
    Ok(address.to_owned())
}

fn validate_headers(headers: &[HeaderInput]) -> Result<Vec<(String, String)>> {
    if headers.len() > MAX_HEADERS {
        return Err(Error::invalid_argument(format!(
            "{} custom headers given; Graph allows at most {MAX_HEADERS}",
            headers.len()
        )));
    }
    headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let name = h.name.trim();
            if !name.to_ascii_lowercase().starts_with("x-") || name.len() < 3 {
                return Err(Error::invalid_argument(format!(
                    "headers[{i}]: the header name '{name}' must start with 'x-' (Graph only accepts custom x- headers)"
                )));
            }
            if !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
                return Err(Error::invalid_argument(format!(
                    "headers[{i}]: the header name '{name}' has characters not allowed in a header name"
                )));
            }
            if h.value.contains(['\r', '\n']) {
                return Err(Error::invalid_argument(format!(
                    "headers[{i}]: the value of '{name}' contains a line break"
                )));
            }
            Ok((name.to_owned(), h.value.clone()))
        })
        .collect()
}

fn load_attachment(
    index: usize,
    input: &AttachmentInput,
    buffers: &[&[u8]],
    service: Service,
) -> Result<PreparedAttachment> {
    let max = service.max_one_attachment();
    let field = format!("attachments[{index}]");
    let given_name = input
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    let too_large = |name: &str, size: &str| {
        match service {
        Service::Graph => Error::attachment(format!(
            "{field} '{name}' is {size}; Graph accepts at most {MAX_ATTACHMENT_BYTES} bytes (150 MiB) per attachment"
        ))
        .with_remedy("Compress or split it, or send a link to it (e.g. OneDrive or SharePoint) instead."),
        Service::Gmail => Error::attachment(format!(
            "{field} '{name}' is {size}; Gmail accepts messages of at most {GMAIL_MAX_MESSAGE_BYTES} bytes (35 MiB) in all"
        ))
        .with_remedy("Compress or split it, or send a link to it (e.g. Google Drive) instead."),
    }
    };
    let (bytes, name) = match (&input.path, &input.content_base64, input.buffer) {
        (Some(path), None, None) => {
            let name = given_name
                .or_else(|| {
                    std::path::Path::new(path)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                })
                .unwrap_or_else(|| path.clone());
            let bytes = read_host_file(&field, path, max as u64, Error::attachment, |size| {
                too_large(&name, size)
            })?;
            (bytes, name)
        }
        (None, Some(b64), None) => {
            let name = given_name.ok_or_else(|| {
                Error::invalid_argument(format!("{field}: name is required with contentBase64"))
            })?;
            let cleaned: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(cleaned.as_bytes())
                .map_err(|e| {
                    Error::invalid_argument(format!(
                        "{field}.contentBase64 is not valid base64 ({e})"
                    ))
                })?;
            if bytes.len() > max {
                return Err(too_large(&name, &format!("{} bytes", bytes.len())));
            }
            (bytes, name)
        }
        (None, None, Some(buffer)) => {
            let name = given_name.ok_or_else(|| {
                Error::invalid_argument(format!("{field}: name is required with buffer"))
            })?;
            let Some(bytes) = buffers.get(buffer) else {
                return Err(buffer_out_of_range(&field, buffer, buffers.len()));
            };
            // Checked before the copy, so an oversized buffer costs nothing.
            if bytes.len() > max {
                return Err(too_large(&name, &format!("{} bytes", bytes.len())));
            }
            (bytes.to_vec(), name)
        }
        _ => {
            return Err(Error::invalid_argument(format!(
                "{field}: give exactly one of path, contentBase64 or buffer"
            )));
        }
    };
    let content_type = match input.content_type.as_deref().map(str::trim) {
        Some(ct) if !ct.is_empty() => ct.to_owned(),
        _ => mime_guess::from_path(&name)
            .first_or_octet_stream()
            .essence_str()
            .to_owned(),
    };
    let content_id = input.content_id.as_deref().map(|id| {
        id.trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned()
    });
    if content_id.as_deref() == Some("") {
        return Err(Error::invalid_argument(format!(
            "{field}.contentId is empty"
        )));
    }
    Ok(PreparedAttachment {
        name,
        content_type,
        content_id,
        bytes,
    })
}

/// A `buffer` index that names no buffer of the call.
fn buffer_out_of_range(field: &str, index: usize, given: usize) -> Error {
    let error = Error::invalid_argument(format!(
        "{field}.buffer is {index}, but the call has {given} buffer{}",
        if given == 1 { "" } else { "s" }
    ));
    if given == 0 {
        error.with_remedy(
            "Pass the attachment's bytes with pmp_send_mail_with_buffers (Client::send_mail_with_buffers), or give path or contentBase64 instead.",
        )
    } else {
        error.with_remedy("buffer is a 0-based index into the buffers passed with the message.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With any attachment, sendMail is larger than the bare draft, so the draft's size alone
    /// decides whether a message with attachments fits (`check_message_size`).
    #[test]
    fn with_an_attachment_the_draft_is_the_smallest_request() {
        let smallest = Message::from_json(
            r#"{"from":"a@b.com","to":["c@d.com"],"saveToSentItems":false,
                "attachments":[{"name":"a","contentType":"x","contentBase64":""}]}"#,
        )
        .unwrap()
        .prepare()
        .unwrap();
        assert!(send_mail_json_len(&smallest) > draft_json_len(&smallest));
    }

    /// The size model must agree with what `wire.rs` really sends, to the byte: escapes,
    /// non-ASCII, names, optional fields, every base64 padding.
    #[test]
    fn request_sizes_match_the_wire_exactly() {
        use crate::mail::wire::{FileAttachment, GraphMessage, SendMailBody, to_body};
        let documents = [
            serde_json::json!({"from": "a@b.com", "to": ["c@d.com"]}),
            serde_json::json!({
                "from": "\"Doe, Jörg\" <j@contoso.com>", "to": ["x@y.com", {"address": "z@y.com", "name": "Zoë \"Z\""}],
                "cc": ["Ann <ann@contoso.com>"], "bcc": ["b@c.com"], "replyTo": ["r@c.com", "s@c.com"],
                "subject": "tab\there, quote \" and \\ and \u{1} and 日本", "body": "<p>line\r\nnext</p>\u{7f}\u{2028}",
                "bodyAsHtml": true, "importance": "high", "saveToSentItems": false,
                "headers": [{"name": "x-a", "value": "1"}, {"name": "X-Run-Id", "value": "é\"/"}],
                "attachments": [
                    {"name": "a \"b\".txt", "contentBase64": "AA=="},
                    {"name": "logo.png", "contentBase64": "AAAA", "contentId": "<logo@x>"},
                    {"name": "ü", "contentBase64": "AAAAAA==", "contentType": "text/plain; charset=\"utf-8\""},
                    {"name": "empty", "contentBase64": ""},
                ],
            }),
            serde_json::json!({"from": "a@b.com", "bcc": ["c@d.com"], "importance": "low", "headers": [{"name": "x-only", "value": ""}]}),
        ];
        for document in documents {
            let prepared = Message::from_json(&document.to_string())
                .unwrap()
                .prepare()
                .unwrap();
            let bare = to_body(&GraphMessage::new(&prepared, &[]), "test").unwrap();
            assert_eq!(bare_message_json_len(&prepared), bare.len(), "{document}");
            let send_id = uuid::Uuid::new_v4().to_string();
            let draft = GraphMessage::new(&prepared, &[]).with_send_marker(&send_id);
            let draft = to_body(&draft, "test").unwrap();
            assert_eq!(draft_json_len(&prepared), draft.len(), "{document}");
            let send_mail = to_body(&SendMailBody::new(&prepared), "test").unwrap();
            assert_eq!(send_mail_json_len(&prepared), send_mail.len(), "{document}");
            for attachment in &prepared.attachments {
                let wire = to_body(&FileAttachment::new(attachment), "test").unwrap();
                assert_eq!(
                    attachment_json_len(attachment),
                    wire.len(),
                    "{attachment:?}"
                );
            }
        }
    }

    /// `"buffer": n` takes the bytes of the call's n-th buffer, exactly; every other shape is
    /// refused naming the attachment and what is wrong.
    #[test]
    fn buffer_attachments() {
        let doc = |attachments: serde_json::Value| {
            Message::from_json(
                &serde_json::json!({"from": "a@b.com", "to": ["c@d.com"], "attachments": attachments})
                    .to_string(),
            )
            .unwrap()
        };
        let first = [1u8, 2, 3];
        let second = [0u8; 0];
        let prepared = doc(serde_json::json!([
            {"name": "b.bin", "buffer": 1},
            {"name": "a.txt", "buffer": 0, "contentId": "x"},
            {"name": "c.bin", "contentBase64": "AA=="},
        ]))
        .prepare_with_buffers(&[&first, &second, b"unused"])
        .unwrap();
        let a = &prepared.attachments;
        assert_eq!(
            (a[0].name.as_str(), a[0].bytes.as_slice()),
            ("b.bin", &[][..])
        );
        assert_eq!(
            (a[1].name.as_str(), a[1].bytes.as_slice()),
            ("a.txt", &first[..])
        );
        assert_eq!(a[1].content_type, "text/plain");
        assert_eq!(a[2].bytes, [0]);

        let refused = [
            (
                serde_json::json!([{"name": "a", "buffer": 0}]),
                0,
                "attachments[0].buffer is 0, but the call has 0 buffers",
            ),
            (
                serde_json::json!([{"name": "a", "buffer": 2}]),
                2,
                "attachments[0].buffer is 2, but the call has 2 buffers",
            ),
            (
                serde_json::json!([{"name": "a", "buffer": 1}]),
                1,
                "attachments[0].buffer is 1, but the call has 1 buffer",
            ),
            (
                serde_json::json!([{"buffer": 0}]),
                1,
                "attachments[0]: name is required with buffer",
            ),
            (
                serde_json::json!([{"name": "a", "buffer": 0, "contentBase64": "AA=="}]),
                1,
                "exactly one of path, contentBase64 or buffer",
            ),
            (
                serde_json::json!([{"path": "/x", "buffer": 0}]),
                1,
                "exactly one of path, contentBase64 or buffer",
            ),
            (
                serde_json::json!([{"name": "a"}]),
                1,
                "exactly one of path, contentBase64 or buffer",
            ),
        ];
        for (attachments, given, expected) in refused {
            let buffers = vec![&first[..]; given];
            let e = doc(attachments.clone())
                .prepare_with_buffers(&buffers)
                .unwrap_err();
            assert_eq!(e.status, crate::Status::InvalidArgument, "{attachments}");
            assert!(e.message.contains(expected), "{attachments}: {}", e.message);
        }
        let e = Message::from_json(
            r#"{"from":"a@b.com","to":["c@d.com"],"attachments":[{"name":"a","buffer":-1}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.status, crate::Status::InvalidArgument);
    }

    #[test]
    fn recipient_limits_are_the_services() {
        let message = |count: usize| {
            let to: Vec<String> = (0..count).map(|i| format!("r{i}@example.com")).collect();
            Message::from_json(&serde_json::json!({"from": "a@b.com", "to": to}).to_string())
                .unwrap()
        };
        assert!(message(500).prepare_for(Service::Graph, &[]).is_ok());
        let e = message(501).prepare_for(Service::Graph, &[]).unwrap_err();
        assert!(
            e.message
                .contains("501 recipients; Exchange Online allows 500"),
            "{}",
            e.message
        );
        assert!(message(2000).prepare_for(Service::Gmail, &[]).is_ok());
        let e = message(2001).prepare_for(Service::Gmail, &[]).unwrap_err();
        assert!(
            e.message
                .contains("2001 recipients; Google Workspace allows 2000"),
            "{}",
            e.message
        );
    }

    #[test]
    fn mailbox_forms() {
        assert_eq!(
            parse_mailbox("Ann <ann@contoso.com>").unwrap(),
            EmailAddress {
                address: "ann@contoso.com".into(),
                name: Some("Ann".into())
            }
        );
        assert_eq!(
            parse_mailbox("\"Doe, Jörg\" <j@contoso.com>")
                .unwrap()
                .name
                .as_deref(),
            Some("Doe, Jörg")
        );
        assert!(parse_mailbox("jörg@bücher.de").is_ok());
        assert!(
            parse_mailbox("no-at-sign")
                .unwrap_err()
                .contains("no-at-sign")
        );
        assert!(parse_mailbox("a b@c.com").is_err());
        assert!(parse_mailbox("a@localhost").is_err());
    }

    #[test]
    fn rejects_bad_input_naming_it() {
        let e = Message::from_json(r#"{"from":"a@b.com","to":["ok@b.com","bad"]}"#)
            .unwrap()
            .prepare()
            .unwrap_err();
        assert!(
            e.message.contains("to[1]") && e.message.contains("'bad'"),
            "{}",
            e.message
        );
        let e = Message::from_json(
            r#"{"from":"a@b.com","to":["ok@b.com"],"headers":[{"name":"Reply","value":"1"}]}"#,
        )
        .unwrap()
        .prepare()
        .unwrap_err();
        assert!(e.message.contains("x-"), "{}", e.message);
        let e =
            Message::from_json(r#"{"from":"a@b.com","to":["ok@b.com"],"subjet":"x"}"#).unwrap_err();
        assert!(e.message.contains("subjet"), "{}", e.message);
        let e = Message::from_json(r#"{"from":"a@b.com"}"#)
            .unwrap()
            .prepare()
            .unwrap_err();
        assert!(e.message.contains("no recipients"));
    }
}
