//! The generated files that are committed: the JSON Schemas in docs/schema match the Rust types,
//! and include/pmp_mail.h matches what cbindgen makes of src/ffi with cbindgen.toml.
//!
//! `PMP_UPDATE_GENERATED=1 cargo test -p pmp-mail --test it generated` rewrites both.

use std::path::{Path, PathBuf};

/// The one switch that rewrites every generated file instead of comparing it.
const UPDATE_VARIABLE: &str = "PMP_UPDATE_GENERATED";
const UPDATE_COMMAND: &str = "PMP_UPDATE_GENERATED=1 cargo test -p pmp-mail --test it generated";

fn update_requested() -> bool {
    std::env::var(UPDATE_VARIABLE).is_ok_and(|v| v == "1")
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Writes `text` to `path` when an update was requested; otherwise returns whether the file
/// already holds exactly `text`.
fn write_or_compare(path: &PathBuf, text: &str) -> bool {
    if update_requested() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        true
    } else {
        std::fs::read_to_string(path).ok().as_deref() == Some(text)
    }
}

#[test]
fn schema_is_current() {
    let dir = manifest_dir().join("docs/schema");
    let mut stale = Vec::new();
    for (name, text) in pmp_mail::schema::all() {
        if !write_or_compare(&dir.join(name), &text) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale schema files {stale:?}: run `{UPDATE_COMMAND}`"
    );
}

/// The header is generated here, not by a build script, so `cargo build` never writes into the
/// source tree; the rust-tests suite fails when src/ffi changed and the header was not updated.
#[test]
fn header_is_current() {
    let crate_dir = manifest_dir();
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    // cbindgen parses the whole crate (core modules are `cbindgen:ignore`d in lib.rs).
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header from src/ffi");
    let mut text = Vec::new();
    bindings.write(&mut text);
    let text = String::from_utf8(text).expect("the header is UTF-8");
    assert!(
        text.contains("pmp_client_new"),
        "cbindgen found no exports:\n{text}"
    );
    assert!(
        write_or_compare(&crate_dir.join("include/pmp_mail.h"), &text),
        "include/pmp_mail.h is stale (src/ffi or cbindgen.toml changed): run `{UPDATE_COMMAND}`"
    );
}
