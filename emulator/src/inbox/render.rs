//! What the inbox shows of a message body: its HTML with `cid:` links pointed at the message's
//! own inline attachments, a plain-text body as escaped HTML, and the text of an HTML body.

use crate::util::html_escape;

/// `cid:<id>` (in `src`, `url(...)`, anywhere) becomes `<prefix><percent-encoded id>`, so the
/// sandboxed frame loads inline images from the emulator instead of failing on an unknown scheme.
pub(crate) fn rewrite_cid(html: &str, prefix: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let bytes = html.as_bytes();
    let mut i = 0;
    let mut copied = 0;
    while i + 4 <= bytes.len() {
        if bytes[i..i + 4].eq_ignore_ascii_case(b"cid:") {
            let start = i + 4;
            let end = html[start..]
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ')' | '>' | '<'))
                .map_or(html.len(), |n| start + n);
            if end > start {
                out.push_str(&html[copied..i]);
                out.push_str(prefix);
                let id = html[start..end]
                    .trim_start_matches('<')
                    .trim_end_matches('>');
                out.push_str(
                    &percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC)
                        .to_string(),
                );
                copied = end;
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&html[copied..]);
    out
}

/// A text body as a document the frame can show: escaped, wrapped, nothing interpreted.
pub(crate) fn text_document(text: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><style>body{{margin:8px}}\
pre{{white-space:pre-wrap;font:14px/1.4 ui-monospace,monospace}}</style></head><body><pre>{}</pre></body></html>",
        html_escape(text)
    )
}

/// The readable text of an HTML body: tags dropped (script and style with their content),
/// block ends as line breaks, the common entities decoded.
pub(crate) fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else {
            rest = "";
            break;
        };
        let tag = after[..gt].trim().to_ascii_lowercase();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        rest = &after[gt + 1..];
        if !tag.starts_with('/') && (name == "script" || name == "style") {
            let close = format!("</{name}");
            rest = match rest.to_ascii_lowercase().find(&close) {
                Some(n) => rest[n..].find('>').map_or("", |g| &rest[n + g + 1..]),
                None => "",
            };
            continue;
        }
        let block = matches!(
            name.as_str(),
            "br" | "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "table"
        );
        if block && (name == "br" || tag.starts_with('/')) {
            out.push('\n');
        }
    }
    out.push_str(rest);
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let mut text = String::with_capacity(decoded.len());
    let mut blank = 0;
    for line in decoded.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        text.push_str(line.trim_start());
        text.push('\n');
    }
    text.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_links_point_at_the_message_route() {
        let html =
            r#"<img src="cid:logo@x"><div style="background:url(cid:bg)"></div><p>cid: alone</p>"#;
        assert_eq!(
            rewrite_cid(html, "/m/1/cid/"),
            r#"<img src="/m/1/cid/logo%40x"><div style="background:url(/m/1/cid/bg)"></div><p>cid: alone</p>"#
        );
        assert_eq!(rewrite_cid("CID:A'", "/p/"), "/p/A'");
    }

    #[test]
    fn text_bodies_are_escaped() {
        let doc = text_document("<img src=x onerror=alert(1)> & co");
        assert!(doc.contains("&lt;img src=x onerror=alert(1)&gt; &amp; co"));
        assert!(!doc.contains("<img"));
    }

    #[test]
    fn html_text_drops_tags_and_scripts() {
        let text = html_to_text(
            "<h1>Patch report</h1><script>document.title='x<b>'</script><p>2 &amp; 3<br>done</p><style>p{}</style>",
        );
        assert_eq!(text, "Patch report\n2 & 3\ndone");
    }
}
