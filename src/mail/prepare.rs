//! From the message document to a [`PreparedMessage`]: addresses parsed and checked, header
//! rules applied, attachments loaded. The only file I/O of the mail code (attachment paths) is
//! here, so everything after this step works on bytes in memory.

use base64::Engine;

use crate::error::{Error, Result};
use crate::mail::message::{AttachmentInput, HeaderInput, Importance, Message, RecipientInput};

/// Graph's limit for one upload-session attachment.
pub const MAX_ATTACHMENT_BYTES: usize = 150 * 1024 * 1024;
/// Graph allows at most 5 custom internet headers.
pub const MAX_HEADERS: usize = 5;
/// Exchange Online's recipients-per-message limit.
pub const MAX_RECIPIENTS: usize = 500;

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
    /// Validates everything and loads the attachments.
    pub(crate) fn prepare(&self) -> Result<PreparedMessage> {
        let from = parse_mailbox(&self.from).map_err(|why| {
            Error::invalid_argument(format!("from: {why}"))
                .with_remedy("from must be the sending mailbox's address, e.g. alerts@contoso.com")
        })?;
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
        if recipients > MAX_RECIPIENTS {
            return Err(Error::invalid_argument(format!(
                "the message has {recipients} recipients; Exchange Online allows {MAX_RECIPIENTS}"
            )));
        }
        let headers = validate_headers(&self.headers)?;
        let attachments = self
            .attachments
            .iter()
            .enumerate()
            .map(|(i, a)| load_attachment(i, a))
            .collect::<Result<Vec<_>>>()?;
        Ok(PreparedMessage {
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
            attachments,
        })
    }
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

fn load_attachment(index: usize, input: &AttachmentInput) -> Result<PreparedAttachment> {
    let field = format!("attachments[{index}]");
    let (bytes, default_name) = match (&input.path, &input.content_base64) {
        (Some(path), None) => {
            let bytes = std::fs::read(path)
                .map_err(|e| Error::attachment(format!("{field}: cannot read '{path}' ({e})")))?;
            let name = std::path::Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            (bytes, name)
        }
        (None, Some(b64)) => {
            let cleaned: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(cleaned.as_bytes())
                .map_err(|e| {
                    Error::invalid_argument(format!(
                        "{field}.contentBase64 is not valid base64 ({e})"
                    ))
                })?;
            (bytes, None)
        }
        _ => {
            return Err(Error::invalid_argument(format!(
                "{field}: give exactly one of path or contentBase64"
            )));
        }
    };
    let name = input
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .or(default_name)
        .ok_or_else(|| {
            Error::invalid_argument(format!("{field}: name is required with contentBase64"))
        })?;
    if bytes.len() > MAX_ATTACHMENT_BYTES {
        return Err(Error::attachment(format!(
            "{field} '{name}' is {} bytes; Graph accepts at most {MAX_ATTACHMENT_BYTES} bytes (150 MB) per attachment",
            bytes.len()
        )));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
