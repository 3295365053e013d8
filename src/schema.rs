//! The JSON Schemas of the public documents, generated from the Rust types. Committed under
//! `docs/schema/`; the `schema_is_current` test fails when they are stale.

use schemars::JsonSchema;

/// (file name, pretty JSON) for every published document.
pub fn all() -> Vec<(&'static str, String)> {
    vec![
        ("config.schema.json", render::<crate::config::Config>()),
        ("message.schema.json", render::<crate::mail::Message>()),
        (
            "send-result.schema.json",
            render::<crate::mail::SendResult>(),
        ),
        (
            "permission-options.schema.json",
            render::<crate::permission::PermissionOptions>(),
        ),
        (
            "permission-report.schema.json",
            render::<crate::permission::PermissionReport>(),
        ),
        (
            "batch-options.schema.json",
            render::<crate::batch::BatchOptions>(),
        ),
        (
            "batch-result.schema.json",
            render::<crate::batch::BatchResult>(),
        ),
        ("error.schema.json", render::<crate::error::ErrorDocument>()),
    ]
}

fn render<T: JsonSchema>() -> String {
    let schema = schemars::schema_for!(T);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}
