//! `.json` + `.eml` copies of accepted messages in `<state-dir>/messages/`.

use std::path::Path;

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;

use crate::records::{Recipient, RecordedMessage};
use crate::util::b64_decode_lenient;

/// Best effort: a failing disk must not fail the Graph call that was already accepted.
/// `raw`: the message as it arrived (Gmail), written as is instead of a rebuilt one.
pub(crate) fn write_files(dir: &Path, m: &RecordedMessage, raw: Option<&[u8]>) {
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("pmp-graph-emulator: cannot create {}: {e}", dir.display());
        return;
    }
    let json = serde_json::to_vec_pretty(m).unwrap_or_default();
    if let Err(e) = std::fs::write(dir.join(format!("{}.json", m.id)), json) {
        eprintln!("pmp-graph-emulator: cannot write message json: {e}");
    }
    let built = match raw {
        Some(r) => Ok(r.to_vec()),
        None => to_eml(m),
    };
    match built {
        Ok(bytes) => {
            if let Err(e) = std::fs::write(dir.join(format!("{}.eml", m.id)), bytes) {
                eprintln!("pmp-graph-emulator: cannot write message eml: {e}");
            }
        }
        Err(e) => eprintln!("pmp-graph-emulator: cannot build eml: {e}"),
    }
}

fn addr(r: &Recipient) -> Address<'_> {
    Address::new_address(r.name.as_deref(), r.address.as_str())
}

fn list(rs: &[Recipient]) -> Address<'_> {
    Address::new_list(rs.iter().map(addr).collect())
}

pub(crate) fn to_eml(m: &RecordedMessage) -> std::io::Result<Vec<u8>> {
    let mut b = MessageBuilder::new()
        .from(addr(&m.from))
        .subject(m.subject.as_str())
        .message_id(format!("{}@pmp-graph-emulator", m.id));
    if !m.to.is_empty() {
        b = b.to(list(&m.to));
    }
    if !m.cc.is_empty() {
        b = b.cc(list(&m.cc));
    }
    if !m.bcc.is_empty() {
        b = b.bcc(list(&m.bcc));
    }
    if !m.reply_to.is_empty() {
        b = b.reply_to(list(&m.reply_to));
    }
    for h in &m.headers {
        b = b.header(
            h.name.clone(),
            mail_builder::headers::raw::Raw::new(h.value.clone()),
        );
    }
    b = if m.body_content_type == "html" {
        b.html_body(m.body.as_str())
    } else {
        b.text_body(m.body.as_str())
    };
    for a in &m.attachments {
        let bytes = b64_decode_lenient(&a.content_base64).unwrap_or_default();
        b = match (&a.content_id, a.is_inline) {
            (Some(cid), true) => b.inline(a.content_type.clone(), cid.clone(), bytes),
            _ => b.attachment(a.content_type.clone(), a.name.clone(), bytes),
        };
    }
    b.write_to_vec()
}
