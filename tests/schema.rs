//! The committed JSON Schemas in docs/schema match the Rust types.
//! `PMP_UPDATE_SCHEMA=1 cargo test --test schema` (or `cargo run --example gen-schema`)
//! rewrites them.

#[test]
fn schema_is_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema");
    let update = std::env::var("PMP_UPDATE_SCHEMA").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for (name, text) in pmp_mail::schema::all() {
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale schema files {stale:?}: run `PMP_UPDATE_SCHEMA=1 cargo test -p pmp-mail --test schema`"
    );
}
