//! Graph's JSON, both ways, as typed structs: the `message` resource with its recipients,
//! headers and `fileAttachment`s, the sendMail and createUploadSession bodies, and the few
//! answers the draft path reads (protocol C1). Field names follow Graph's camelCase; a
//! `skip_serializing_if` marks what Graph gets only when there is something to say.

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::mail::message::Importance;
use crate::mail::prepare::{EmailAddress, PreparedAttachment, PreparedMessage};

/// A request body as bytes; `what` names it in the (never expected) error.
pub(crate) fn to_body<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::internal(format!("cannot serialise {what} ({e})")))
}

/// The body of `POST /users/{from}/sendMail`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SendMailBody<'a> {
    message: GraphMessage<'a>,
    save_to_sent_items: bool,
}

impl<'a> SendMailBody<'a> {
    /// The message with all its attachments inline.
    pub(crate) fn new(message: &'a PreparedMessage) -> SendMailBody<'a> {
        let all: Vec<&PreparedAttachment> = message.attachments.iter().collect();
        SendMailBody {
            message: GraphMessage::new(message, &all),
            save_to_sent_items: message.save_to_sent_items,
        }
    }
}

/// The Graph `message` resource (a sendMail message or a draft).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphMessage<'a> {
    subject: &'a str,
    body: ItemBody<'a>,
    from: Recipient<'a>,
    to_recipients: Vec<Recipient<'a>>,
    cc_recipients: Vec<Recipient<'a>>,
    bcc_recipients: Vec<Recipient<'a>>,
    importance: GraphImportance,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reply_to: Vec<Recipient<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    internet_message_headers: Vec<InternetMessageHeader<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<FileAttachment<'a>>,
    /// Drafts only: the send's marker, so a draft whose creation answer was lost can be found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    single_value_extended_properties: Vec<ExtendedProperty<'a>>,
}

/// The named string property that marks a draft with its send's id (a GUID per send). A named
/// property in pmp-mail's own property set: Graph's `singleValueLegacyExtendedProperty` id
/// format `String {guid} Name {name}`; found again with
/// `$filter=singleValueExtendedProperties/any(ep: ep/id eq '…' and ep/value eq '…')`.
pub(crate) const SEND_MARKER_PROPERTY: &str =
    "String {b7a3f0de-5c1e-4d6b-9a51-7f3e2c8d4a10} Name pmpMailSendId";

/// A `singleValueLegacyExtendedProperty`: `{"id", "value"}`.
#[derive(Serialize)]
struct ExtendedProperty<'a> {
    id: &'static str,
    value: &'a str,
}

impl<'a> GraphMessage<'a> {
    /// The draft form: marked with `send_id` ([`SEND_MARKER_PROPERTY`]).
    pub(crate) fn with_send_marker(mut self, send_id: &'a str) -> GraphMessage<'a> {
        self.single_value_extended_properties = vec![ExtendedProperty {
            id: SEND_MARKER_PROPERTY,
            value: send_id,
        }];
        self
    }

    /// The message with the given attachments inline.
    pub(crate) fn new(
        message: &'a PreparedMessage,
        attachments: &[&'a PreparedAttachment],
    ) -> GraphMessage<'a> {
        let list = |v: &'a [EmailAddress]| v.iter().map(Recipient::new).collect();
        GraphMessage {
            subject: &message.subject,
            body: ItemBody {
                content_type: if message.body_as_html { "HTML" } else { "Text" },
                content: &message.body,
            },
            from: Recipient::new(&message.from),
            to_recipients: list(&message.to),
            cc_recipients: list(&message.cc),
            bcc_recipients: list(&message.bcc),
            importance: message.importance.into(),
            reply_to: list(&message.reply_to),
            internet_message_headers: message
                .headers
                .iter()
                .map(|(name, value)| InternetMessageHeader { name, value })
                .collect(),
            attachments: attachments.iter().map(|a| FileAttachment::new(a)).collect(),
            single_value_extended_properties: Vec::new(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemBody<'a> {
    /// `Text` or `HTML`.
    content_type: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
enum GraphImportance {
    Low,
    Normal,
    High,
}

impl From<Importance> for GraphImportance {
    fn from(importance: Importance) -> GraphImportance {
        match importance {
            Importance::Low => GraphImportance::Low,
            Importance::Normal => GraphImportance::Normal,
            Importance::High => GraphImportance::High,
        }
    }
}

/// A `recipient`: `{"emailAddress": {"address", "name"}}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Recipient<'a> {
    email_address: GraphEmailAddress<'a>,
}

impl<'a> Recipient<'a> {
    fn new(address: &'a EmailAddress) -> Recipient<'a> {
        Recipient {
            email_address: GraphEmailAddress {
                address: &address.address,
                name: address.name.as_deref(),
            },
        }
    }
}

#[derive(Serialize)]
struct GraphEmailAddress<'a> {
    address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

#[derive(Serialize)]
struct InternetMessageHeader<'a> {
    name: &'a str,
    value: &'a str,
}

/// A `fileAttachment`: inline in a message, or the body of `POST .../attachments`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileAttachment<'a> {
    #[serde(rename = "@odata.type")]
    odata_type: &'static str,
    name: &'a str,
    content_type: &'a str,
    /// Base64, written straight into the request body (no second copy of the attachment).
    #[serde(serialize_with = "base64_bytes")]
    content_bytes: &'a [u8],
    is_inline: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_id: Option<&'a str>,
}

impl<'a> FileAttachment<'a> {
    pub(crate) fn new(attachment: &'a PreparedAttachment) -> FileAttachment<'a> {
        FileAttachment {
            odata_type: "#microsoft.graph.fileAttachment",
            name: &attachment.name,
            content_type: &attachment.content_type,
            content_bytes: &attachment.bytes,
            is_inline: attachment.is_inline(),
            content_id: attachment.content_id.as_deref(),
        }
    }
}

fn base64_bytes<S: Serializer>(
    bytes: &&[u8],
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.collect_str(&Base64Display::new(bytes, &STANDARD))
}

/// The body of `POST .../attachments/createUploadSession`.
#[derive(Serialize)]
pub(crate) struct UploadSessionRequest<'a> {
    #[serde(rename = "AttachmentItem")]
    attachment_item: AttachmentItem<'a>,
}

impl<'a> UploadSessionRequest<'a> {
    pub(crate) fn new(attachment: &'a PreparedAttachment) -> UploadSessionRequest<'a> {
        UploadSessionRequest {
            attachment_item: AttachmentItem {
                attachment_type: "file",
                name: &attachment.name,
                size: attachment.bytes.len(),
                content_type: &attachment.content_type,
                is_inline: attachment.is_inline(),
                content_id: attachment.content_id.as_deref(),
            },
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AttachmentItem<'a> {
    attachment_type: &'static str,
    name: &'a str,
    size: usize,
    content_type: &'a str,
    is_inline: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_id: Option<&'a str>,
}

/// The answer to creating a draft: only its id is read.
#[derive(Deserialize)]
pub(crate) struct CreatedDraft {
    pub id: String,
}

/// The answer to a message list (`GET …/messages?$filter=…&$select=id,isDraft`).
#[derive(Deserialize)]
pub(crate) struct MessageList {
    #[serde(default)]
    pub value: Vec<ListedMessage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListedMessage {
    pub id: String,
    #[serde(default)]
    pub is_draft: Option<bool>,
}

/// The answer to `GET …/messages/{id}/attachments?$select=name,size`.
#[derive(Deserialize)]
pub(crate) struct AttachmentList {
    #[serde(default)]
    pub value: Vec<ListedAttachment>,
}

#[derive(Deserialize)]
pub(crate) struct ListedAttachment {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub size: u64,
}

/// The answer to createUploadSession.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UploadSession {
    pub upload_url: String,
}

/// The answer to an upload chunk that is not the last.
#[derive(Deserialize, Default)]
pub(crate) struct UploadProgress {
    #[serde(rename = "nextExpectedRanges", alias = "NextExpectedRanges", default)]
    pub next_expected_ranges: Vec<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::mail::message::Message;

    fn prepared(json: &str) -> PreparedMessage {
        Message::from_json(json).unwrap().prepare().unwrap()
    }

    #[test]
    fn message_to_graph() {
        let m = prepared(
            r#"{"from":"Alerts <alerts@contoso.com>","to":["a@contoso.com",{"address":"b@contoso.com","name":"B"}],
                "subject":"Grüße","body":"<b>x</b>","bodyAsHtml":true,"importance":"high",
                "headers":[{"name":"x-run-id","value":"42"}],
                "attachments":[{"name":"logo.png","contentBase64":"AAEC","contentId":"logo"}]}"#,
        );
        let body = serde_json::to_value(SendMailBody::new(&m)).unwrap();
        assert_eq!(body["message"]["subject"], "Grüße");
        assert_eq!(body["message"]["body"]["contentType"], "HTML");
        assert_eq!(body["message"]["importance"], "High");
        assert_eq!(
            body["message"]["toRecipients"][1]["emailAddress"]["name"],
            "B"
        );
        assert_eq!(
            body["message"]["attachments"][0]["contentType"],
            "image/png"
        );
        assert_eq!(body["message"]["attachments"][0]["isInline"], true);
        assert_eq!(body["message"]["attachments"][0]["contentId"], "logo");
        assert_eq!(body["saveToSentItems"], true);
    }

    /// The whole shape, so a renamed field or a `null` where Graph expects nothing shows up.
    #[test]
    fn send_mail_body_is_exactly_graphs_shape() {
        let full = prepared(
            r#"{"from":"Alerts <alerts@contoso.com>","to":["a@contoso.com"],"cc":["Cc <c@contoso.com>"],
                "bcc":["d@contoso.com"],"replyTo":["r@contoso.com"],"subject":"s","body":"b",
                "importance":"low","saveToSentItems":false,"headers":[{"name":"x-a","value":"1"}],
                "attachments":[{"name":"a.txt","contentBase64":"aGk=","contentType":"text/plain"},
                               {"name":"i.png","contentBase64":"AAEC","contentId":"<img>"}]}"#,
        );
        let expected = json!({
            "message": {
                "subject": "s",
                "body": {"contentType": "Text", "content": "b"},
                "from": {"emailAddress": {"address": "alerts@contoso.com", "name": "Alerts"}},
                "toRecipients": [{"emailAddress": {"address": "a@contoso.com"}}],
                "ccRecipients": [{"emailAddress": {"address": "c@contoso.com", "name": "Cc"}}],
                "bccRecipients": [{"emailAddress": {"address": "d@contoso.com"}}],
                "importance": "Low",
                "replyTo": [{"emailAddress": {"address": "r@contoso.com"}}],
                "internetMessageHeaders": [{"name": "x-a", "value": "1"}],
                "attachments": [
                    {"@odata.type": "#microsoft.graph.fileAttachment", "name": "a.txt",
                     "contentType": "text/plain", "contentBytes": "aGk=", "isInline": false},
                    {"@odata.type": "#microsoft.graph.fileAttachment", "name": "i.png",
                     "contentType": "image/png", "contentBytes": "AAEC", "isInline": true,
                     "contentId": "img"},
                ],
            },
            "saveToSentItems": false,
        });
        let bytes = to_body(&SendMailBody::new(&full), "the message").unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap(), expected);

        let bare = prepared(r#"{"from":"a@contoso.com","bcc":["d@contoso.com"]}"#);
        let expected = json!({
            "message": {
                "subject": "",
                "body": {"contentType": "Text", "content": ""},
                "from": {"emailAddress": {"address": "a@contoso.com"}},
                "toRecipients": [],
                "ccRecipients": [],
                "bccRecipients": [{"emailAddress": {"address": "d@contoso.com"}}],
                "importance": "Normal",
            },
            "saveToSentItems": true,
        });
        assert_eq!(
            serde_json::to_value(SendMailBody::new(&bare)).unwrap(),
            expected
        );
    }

    #[test]
    fn draft_attachment_and_upload_session_shapes() {
        let m = prepared(
            r#"{"from":"a@contoso.com","to":["b@contoso.com"],
                "attachments":[{"name":"big.bin","contentBase64":"AAECAw=="},
                               {"name":"i.png","contentBase64":"AAEC","contentId":"img"}]}"#,
        );
        let draft = serde_json::to_value(GraphMessage::new(&m, &[])).unwrap();
        assert!(draft.get("attachments").is_none(), "{draft}");
        assert!(
            draft.get("singleValueExtendedProperties").is_none(),
            "{draft}"
        );
        let marked =
            serde_json::to_value(GraphMessage::new(&m, &[]).with_send_marker("0f0e")).unwrap();
        assert_eq!(
            marked["singleValueExtendedProperties"],
            json!([{"id": SEND_MARKER_PROPERTY, "value": "0f0e"}])
        );
        let file = serde_json::to_value(FileAttachment::new(&m.attachments[0])).unwrap();
        assert_eq!(
            file,
            json!({"@odata.type": "#microsoft.graph.fileAttachment", "name": "big.bin",
                   "contentType": "application/octet-stream", "contentBytes": "AAECAw==",
                   "isInline": false})
        );
        let session = serde_json::to_value(UploadSessionRequest::new(&m.attachments[0])).unwrap();
        assert_eq!(
            session,
            json!({"AttachmentItem": {"attachmentType": "file", "name": "big.bin", "size": 4,
                   "contentType": "application/octet-stream", "isInline": false}})
        );
        let inline = serde_json::to_value(UploadSessionRequest::new(&m.attachments[1])).unwrap();
        assert_eq!(inline["AttachmentItem"]["contentId"], "img");
        assert_eq!(inline["AttachmentItem"]["isInline"], true);
    }

    #[test]
    fn reads_graphs_answers() {
        let draft: CreatedDraft = serde_json::from_str(r#"{"id":"AAMk=","subject":"x"}"#).unwrap();
        assert_eq!(draft.id, "AAMk=");
        let session: UploadSession =
            serde_json::from_str(r#"{"uploadUrl":"https://u","expirationDateTime":"x"}"#).unwrap();
        assert_eq!(session.upload_url, "https://u");
        for text in [
            r#"{"nextExpectedRanges":["10-"]}"#,
            r#"{"NextExpectedRanges":["10-"]}"#,
        ] {
            let progress: UploadProgress = serde_json::from_str(text).unwrap();
            assert_eq!(progress.next_expected_ranges, ["10-"]);
        }
        let list: MessageList =
            serde_json::from_str(r#"{"value":[{"id":"A","isDraft":true},{"id":"B"}]}"#).unwrap();
        assert_eq!(list.value[0].id, "A");
        assert_eq!(list.value[0].is_draft, Some(true));
        assert_eq!(list.value[1].is_draft, None);
        let atts: AttachmentList =
            serde_json::from_str(r#"{"value":[{"@odata.type":"x","name":"a","size":3}]}"#).unwrap();
        assert_eq!((atts.value[0].name.as_str(), atts.value[0].size), ("a", 3));
        let empty: UploadProgress = serde_json::from_str("{}").unwrap();
        assert!(empty.next_expected_ranges.is_empty());
    }
}
