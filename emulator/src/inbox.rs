//! `GET /_emulator/` — a plain HTML inbox of accepted messages. Everything is escaped.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};

use crate::records::Recipient;
use crate::state::AppState;
use crate::util::html_escape as e;

fn people(rs: &[Recipient]) -> String {
    rs.iter()
        .map(|r| match &r.name {
            Some(n) => format!("{} &lt;{}&gt;", e(n), e(&r.address)),
            None => e(&r.address),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) async fn page(State(st): State<Arc<AppState>>) -> Response {
    let msgs = st.records.messages();
    let c = st.records.counters();
    let mut rows = String::new();
    for m in msgs.iter().rev() {
        let atts = m
            .attachments
            .iter()
            .map(|a| format!("{} ({} bytes)", e(&a.name), a.size))
            .collect::<Vec<_>>()
            .join("<br>");
        let body = if m.body.chars().count() > 2000 {
            m.body.chars().take(2000).collect::<String>() + "…"
        } else {
            m.body.clone()
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><b>{}</b><pre>{}</pre></td><td>{}</td><td>{}</td></tr>\n",
            e(&m.received_at),
            e(&m.mailbox),
            people(&m.to),
            e(&m.via),
            e(&m.subject),
            e(&body),
            atts,
            e(&m.id),
        ));
    }
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>pmp-graph-emulator inbox</title>\
<style>body{{font-family:sans-serif}}td{{vertical-align:top;border-top:1px solid #ccc;padding:4px}}pre{{white-space:pre-wrap;max-width:50em}}</style></head>\
<body><h1>pmp-graph-emulator</h1><p>{} messages accepted, {} tokens issued, {} requests. \
Control API: <code>{}/_emulator/api/messages</code></p>\
<table><tr><th>Received</th><th>Mailbox</th><th>To</th><th>Via</th><th>Subject / body</th><th>Attachments</th><th>Id</th></tr>\n{}</table></body></html>",
        c.messages_accepted,
        c.tokens_issued,
        c.requests,
        e(&st.base_url),
        rows
    ))
    .into_response()
}
