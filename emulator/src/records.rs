//! What the emulator remembers: accepted messages, issued tokens (claims only), requests, counters;
//! and `ParsedMessage`, the message a request carries before it is accepted.

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    pub address: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RecordedAttachment {
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub is_inline: bool,
    pub content_id: Option<String>,
    pub content_base64: String,
    pub sha256: String,
}

/// A message as parsed from JSON (or MIME), before it gets ids and a time: what a draft holds
/// and what an accepted message is recorded from (`graph::message`, `graph::mime` build it).
#[derive(Debug, Clone, Default)]
pub(crate) struct ParsedMessage {
    pub subject: String,
    pub body_content_type: String,
    pub body: String,
    pub from: Option<Recipient>,
    pub to: Vec<Recipient>,
    pub cc: Vec<Recipient>,
    pub bcc: Vec<Recipient>,
    pub reply_to: Vec<Recipient>,
    pub importance: String,
    pub headers: Vec<Header>,
    pub attachments: Vec<RecordedAttachment>,
}

/// One accepted message, exactly as it arrived (docs/contracts.md section 6).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RecordedMessage {
    pub id: String,
    pub mailbox: String,
    /// The app's client id (Graph) or the service account's e-mail (Gmail).
    pub app_id: String,
    /// `sendMail`, `draft` or `mime` (Graph); `gmail:raw`, `gmail:media`, `gmail:multipart`
    /// or `gmail:resumable` (Gmail).
    pub via: String,
    /// `gmail` for messages sent through the Gmail API; absent for Graph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub from: Recipient,
    pub to: Vec<Recipient>,
    pub cc: Vec<Recipient>,
    pub bcc: Vec<Recipient>,
    pub reply_to: Vec<Recipient>,
    pub subject: String,
    /// `text` or `html`.
    pub body_content_type: String,
    pub body: String,
    pub importance: String,
    pub save_to_sent_items: bool,
    pub headers: Vec<Header>,
    pub attachments: Vec<RecordedAttachment>,
    pub request_id: String,
    pub client_request_id: String,
    pub received_at: String,
}

/// An issued access token: its claims, never the token itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    pub tenant_id: String,
    pub app_id: String,
    /// `secret`, `certificate`, `federated`, `managedIdentity:appService`,
    /// `managedIdentity:imds` or `managedIdentity:arc`.
    pub credential: String,
    pub issued_at: String,
    pub claims: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub request_id: String,
    pub client_request_id: String,
    pub at: String,
    /// The request's headers in arrival order; credentials (`Authorization`) keep only their
    /// scheme, so tests can see that one was sent without the log holding it.
    #[serde(default)]
    pub headers: Vec<Header>,
    /// The fault plan's action on this request (`status 503`, `delay 200 ms`), if any.
    #[serde(default)]
    pub fault: Option<String>,
    /// A 429 from the emulator's throttling limits (not an injected one).
    #[serde(default)]
    pub throttled: bool,
}

impl RequestRecord {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// Headers as recorded: values of credential headers reduced to their scheme.
    pub(crate) fn redacted_headers(headers: &axum::http::HeaderMap) -> Vec<Header> {
        headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes());
                let value = if name == axum::http::header::AUTHORIZATION
                    || name == axum::http::header::PROXY_AUTHORIZATION
                {
                    let scheme = value.split_whitespace().next().unwrap_or("");
                    format!("{scheme} <redacted>")
                } else if name.as_str() == "x-identity-header" {
                    // The App Service managed-identity secret.
                    "<redacted>".to_string()
                } else {
                    value.into_owned()
                };
                Header {
                    name: name.as_str().to_owned(),
                    value,
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    pub token_requests: u64,
    pub tokens_issued: u64,
    pub send_mail_requests: u64,
    pub messages_accepted: u64,
    pub requests: u64,
    /// Connections closed by a `dropBeforeAccept` / `dropAfterAccept` fault. Other requests on
    /// the same connection die with it and are not counted here.
    #[serde(default)]
    pub dropped_before_accept: u64,
    #[serde(default)]
    pub dropped_after_accept: u64,
}

#[derive(Debug, Default)]
pub(crate) struct AtomicCounters {
    pub token_requests: AtomicU64,
    pub tokens_issued: AtomicU64,
    pub send_mail_requests: AtomicU64,
    pub messages_accepted: AtomicU64,
    pub requests: AtomicU64,
    pub dropped_before_accept: AtomicU64,
    pub dropped_after_accept: AtomicU64,
}

impl AtomicCounters {
    pub fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
    fn snapshot(&self) -> Counters {
        Counters {
            token_requests: self.token_requests.load(Ordering::Relaxed),
            tokens_issued: self.tokens_issued.load(Ordering::Relaxed),
            send_mail_requests: self.send_mail_requests.load(Ordering::Relaxed),
            messages_accepted: self.messages_accepted.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            dropped_before_accept: self.dropped_before_accept.load(Ordering::Relaxed),
            dropped_after_accept: self.dropped_after_accept.load(Ordering::Relaxed),
        }
    }
    fn clear(&self) {
        for c in [
            &self.token_requests,
            &self.tokens_issued,
            &self.send_mail_requests,
            &self.messages_accepted,
            &self.requests,
            &self.dropped_before_accept,
            &self.dropped_after_accept,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// Keeps the last this-many requests; the log is for debugging, not an archive.
const MAX_REQUEST_LOG: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct Records {
    pub counters: AtomicCounters,
    messages: Mutex<Vec<RecordedMessage>>,
    tokens: Mutex<Vec<TokenRecord>>,
    requests: Mutex<std::collections::VecDeque<RequestRecord>>,
    /// Bumped whenever the message list changes, so the inbox page polls cheaply.
    messages_version: AtomicU64,
}

impl Records {
    pub fn add_message(&self, m: RecordedMessage) {
        AtomicCounters::bump(&self.counters.messages_accepted);
        self.messages.lock().push(m);
        AtomicCounters::bump(&self.messages_version);
    }

    pub fn add_token(&self, t: TokenRecord) {
        AtomicCounters::bump(&self.counters.tokens_issued);
        self.tokens.lock().push(t);
    }

    pub fn add_request(&self, r: RequestRecord) {
        let mut q = self.requests.lock();
        if q.len() >= MAX_REQUEST_LOG {
            q.pop_front();
        }
        q.push_back(r);
    }

    pub fn messages(&self) -> Vec<RecordedMessage> {
        self.messages.lock().clone()
    }

    pub fn message(&self, id: &str) -> Option<RecordedMessage> {
        self.messages.lock().iter().find(|m| m.id == id).cloned()
    }

    pub fn clear_messages(&self) {
        self.messages.lock().clear();
        AtomicCounters::bump(&self.messages_version);
    }

    /// Removes one message; false when there is none with that id.
    pub fn delete_message(&self, id: &str) -> bool {
        let mut msgs = self.messages.lock();
        let before = msgs.len();
        msgs.retain(|m| m.id != id);
        let removed = msgs.len() != before;
        drop(msgs);
        if removed {
            AtomicCounters::bump(&self.messages_version);
        }
        removed
    }

    /// Changes whenever a message is added or removed.
    pub fn messages_version(&self) -> u64 {
        self.messages_version.load(Ordering::Relaxed)
    }

    pub fn tokens(&self) -> Vec<TokenRecord> {
        self.tokens.lock().clone()
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.requests.lock().iter().cloned().collect()
    }

    pub fn counters(&self) -> Counters {
        self.counters.snapshot()
    }

    pub fn reset(&self) {
        self.messages.lock().clear();
        AtomicCounters::bump(&self.messages_version);
        self.tokens.lock().clear();
        self.requests.lock().clear();
        self.counters.clear();
    }
}
