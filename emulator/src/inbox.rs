//! `GET /_emulator/`: the inbox page (message list, one message rendered in a sandboxed frame,
//! the request and token log), a static page whose script reads the control API. Its assets are
//! compiled in, so it works offline; `api` has the calls it uses beyond the basic control API.

pub(crate) mod api;
mod render;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("inbox/index.html");

/// The assets under `/_emulator/assets/`: name, content type, bytes.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "inbox.js",
        "text/javascript; charset=utf-8",
        include_str!("inbox/inbox.js"),
    ),
    (
        "inbox.css",
        "text/css; charset=utf-8",
        include_str!("inbox/inbox.css"),
    ),
    ("icon.svg", "image/svg+xml", include_str!("inbox/icon.svg")),
    ("clip.svg", "image/svg+xml", include_str!("inbox/clip.svg")),
];

/// The page runs only its own script: even if some message text escaped into the markup, an
/// inline handler (`onerror=`) would not run. Frames only from the emulator (the body route).
pub(crate) const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

fn with_headers(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

pub(crate) async fn page() -> Response {
    with_headers(INDEX, "text/html; charset=utf-8")
}

pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => with_headers(body, content_type),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page script must build the DOM from text, never parse message data as HTML.
    #[test]
    fn the_script_never_parses_html() {
        let js = ASSETS[0].2;
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "srcdoc",
        ] {
            assert!(!js.contains(sink), "inbox.js uses {sink}");
        }
        assert!(js.contains("textContent"));
    }

    /// The message frame is sandboxed without scripts.
    #[test]
    fn the_frame_is_sandboxed_without_scripts() {
        let frame = INDEX
            .split("<iframe")
            .nth(1)
            .and_then(|s| s.split('>').next())
            .expect("an iframe");
        assert!(frame.contains(" sandbox"), "{frame}");
        assert!(!frame.contains("allow-scripts"), "{frame}");
        assert!(!frame.contains("allow-same-origin"), "{frame}");
    }
}
