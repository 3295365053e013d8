//! The message document (contract section 4) as the host writes it, and the result document of
//! a successful send. Both are published as JSON Schemas (`crate::schema`).

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::error::Result;

/// Largest accepted message document.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// A recipient: `"addr"`, `"Name <addr>"`, or `{"address": "...", "name": "..."}`.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum RecipientInput {
    Text(String),
    Object(AddressObject),
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressObject {
    pub address: String,
    pub name: Option<String>,
}

impl<'de> Deserialize<'de> for RecipientInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        match Value::deserialize(deserializer)? {
            Value::String(s) => Ok(RecipientInput::Text(s)),
            v @ Value::Object(_) => serde_json::from_value(v)
                .map(RecipientInput::Object)
                .map_err(|e| D::Error::custom(format!("recipient object: {e}"))),
            _ => Err(D::Error::custom(
                "a recipient must be an address string or an object {\"address\", \"name\"}",
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Importance {
    #[serde(alias = "Low")]
    Low,
    #[default]
    #[serde(alias = "Normal")]
    Normal,
    #[serde(alias = "High")]
    High,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderInput {
    /// Must start with `x-`.
    pub name: String,
    pub value: String,
}

/// An attachment from a file (`path`), from bytes in the document (`name` + `contentBase64`),
/// or from a buffer the host passes beside the document (`name` + `buffer`). Exactly one of
/// `path`, `contentBase64` and `buffer`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttachmentInput {
    pub path: Option<String>,
    /// The file name shown to recipients (default: the file name of `path`; required with
    /// `contentBase64` and `buffer`).
    pub name: Option<String>,
    pub content_base64: Option<String>,
    /// The index of a buffer in the call's buffer list (`pmp_send_mail_with_buffers`,
    /// `Client::send_mail_with_buffers`): the attachment's bytes, passed without base64.
    pub buffer: Option<usize>,
    /// Default: guessed from the name, else application/octet-stream.
    pub content_type: Option<String>,
    /// Makes the attachment inline, referenced from HTML as `cid:<contentId>`.
    pub content_id: Option<String>,
}

/// The message document of `pmp_send_mail` / [`crate::Client::send_mail`].
#[derive(Debug, Clone, PartialEq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "pmp-mail message")]
pub struct Message {
    /// The sending mailbox (its UPN or SMTP address); `"Name <addr>"` accepted.
    pub from: String,
    #[serde(default)]
    pub to: Vec<RecipientInput>,
    #[serde(default)]
    pub cc: Vec<RecipientInput>,
    #[serde(default)]
    pub bcc: Vec<RecipientInput>,
    #[serde(default)]
    pub reply_to: Vec<RecipientInput>,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub body_as_html: bool,
    pub importance: Option<Importance>,
    /// Default true.
    pub save_to_sent_items: Option<bool>,
    /// Custom `x-` internet headers, at most 5.
    #[serde(default)]
    pub headers: Vec<HeaderInput>,
    #[serde(default)]
    pub attachments: Vec<AttachmentInput>,
}

impl Message {
    /// Parses a message document; unknown fields are rejected.
    pub fn from_json(text: &str) -> Result<Message> {
        crate::document::parse(text, "message", MAX_MESSAGE_BYTES)
    }
}

/// The result document of a successful send.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(title = "pmp-mail send result")]
pub struct SendResult {
    /// Always `sent`.
    pub status: String,
    /// HTTP attempts of the final send request (sendMail or send).
    pub attempts: u32,
    pub duration_ms: u64,
    /// Time spent waiting on purpose rather than on Graph: for a send slot, out a throttled
    /// mailbox's pause or its send budget, and between retries.
    pub waited_ms: u64,
    /// True when the draft + upload-session path was used.
    pub upload_session: bool,
    /// The `client-request-id` of the final send request.
    pub client_request_id: String,
    /// Graph's `request-id` of the final send request.
    pub request_id: Option<String>,
    /// True when the final send request was sent again after an attempt whose outcome was
    /// unknown (only with `retry.retryUnknownOutcome`): the message may have arrived twice.
    pub possible_duplicate: bool,
    pub log: Vec<String>,
}
