//! The one way a JSON document from a host becomes a Rust value: a size limit, serde with
//! unknown fields rejected (by the types), and an error that never echoes a string value.

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Parses the `what` document ("config", "message", "options"), at most `limit` bytes.
pub fn parse<T: DeserializeOwned>(text: &str, what: &str, limit: usize) -> Result<T> {
    if text.len() > limit {
        return Err(Error::invalid_argument(format!(
            "the {what} document is {} bytes; the limit is {limit}",
            text.len()
        )));
    }
    serde_json::from_str(text).map_err(|e| {
        Error::invalid_argument(format!("{what} document: {}", sanitize_serde_error(&e)))
    })
}

/// serde_json messages quote offending string values (`invalid type: string "…"`). A secret
/// pasted into the wrong field must not come back in an error, so quoted values are dropped.
pub(crate) fn sanitize_serde_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(pos) = rest.find("string \"") {
        out.push_str(&rest[..pos + "string ".len()]);
        let after = &rest[pos + "string \"".len()..];
        match after.find("\", expected").or_else(|| after.find('"')) {
            Some(end) => {
                out.push_str("(value hidden)");
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("(value hidden)");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        count: u32,
    }

    #[test]
    fn names_the_document_and_hides_string_values() {
        let e = parse::<Doc>(r#"{"count":"hunter2"}"#, "options", 100).unwrap_err();
        assert_eq!(e.status, crate::Status::InvalidArgument);
        assert!(e.message.starts_with("options document: "), "{}", e.message);
        assert!(!e.message.contains("hunter2"), "{}", e.message);
        let e = parse::<Doc>(r#"{"count":1,"cuont":2}"#, "options", 100).unwrap_err();
        assert!(e.message.contains("cuont"), "{}", e.message);
        let e = parse::<Doc>(r#"{"count":1}"#, "config", 5).unwrap_err();
        assert_eq!(e.message, "the config document is 11 bytes; the limit is 5");
        assert_eq!(
            parse::<Doc>(r#"{"count":7}"#, "config", 100).unwrap().count,
            7
        );
    }
}
