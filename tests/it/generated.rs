//! The generated files that are committed: the JSON Schemas in docs/schema match the Rust types,
//! and include/pmp_mail.h matches what cbindgen makes of src/ffi with cbindgen.toml plus the
//! version macros made here from the crate version ([workspace.package] version in Cargo.toml).
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
    let text = generate_header();
    assert!(
        write_or_compare(&manifest_dir().join("include/pmp_mail.h"), &text),
        "include/pmp_mail.h is stale (src/ffi, cbindgen.toml or the version changed): run `{UPDATE_COMMAND}`"
    );
}

/// include/pmp_mail.h as cbindgen makes it from src/ffi with cbindgen.toml and the version macros.
fn generate_header() -> String {
    let crate_dir = manifest_dir();
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    assert!(
        config.after_includes.is_none(),
        "cbindgen.toml must not set after_includes: the version macros go there (tests/it/generated.rs)"
    );
    // cbindgen parses the whole crate (core modules are `cbindgen:ignore`d in lib.rs).
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .with_after_include(version_macros())
        .generate()
        .expect("cbindgen generates the header from src/ffi");
    let mut text = Vec::new();
    bindings.write(&mut text);
    let text = String::from_utf8(text).expect("the header is UTF-8");
    assert!(
        text.contains("pmp_client_new"),
        "cbindgen found no exports:\n{text}"
    );
    text
}

/// The header's version macros (rustls-ffi style), made from the crate version at test time so
/// they cannot drift from Cargo.toml: a C host checks at compile time what it is built against,
/// and compares with `pmp_version()` (the library it loaded) at run time.
fn version_macros() -> String {
    format!(
        "\n/*\n The version of pmp-mail this header belongs to (Cargo.toml [workspace.package] version).\n \
         pmp_version() returns the version of the library loaded at run time.\n */\n\
         #define PMP_VERSION_MAJOR {}\n\
         #define PMP_VERSION_MINOR {}\n\
         #define PMP_VERSION_PATCH {}\n\
         #define PMP_VERSION_STRING \"{}\"",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION"),
    )
}

/// The committed header's version macros are the library's version (what `pmp_version()` returns).
/// header_is_current fails too when they are stale; this names the version that disagrees.
#[test]
fn header_version_is_the_library_version() {
    // While header_is_current rewrites the file (PMP_UPDATE_GENERATED=1), check what it writes.
    let header = if update_requested() {
        generate_header()
    } else {
        std::fs::read_to_string(manifest_dir().join("include/pmp_mail.h"))
            .expect("include/pmp_mail.h exists")
    };
    let define = |name: &str| -> String {
        let prefix = format!("#define {name} ");
        header
            .lines()
            .find_map(|line| line.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("include/pmp_mail.h has no {name}: run `{UPDATE_COMMAND}`"))
            .trim()
            .to_owned()
    };
    // SAFETY: pmp_version returns a static NUL-terminated string.
    let loaded = unsafe { std::ffi::CStr::from_ptr(pmp_mail::ffi::pmp_version()) }
        .to_str()
        .expect("the version is UTF-8");
    let from_macros = format!(
        "{}.{}.{}",
        define("PMP_VERSION_MAJOR"),
        define("PMP_VERSION_MINOR"),
        define("PMP_VERSION_PATCH")
    );
    assert_eq!(
        define("PMP_VERSION_STRING"),
        format!("\"{loaded}\""),
        "include/pmp_mail.h's PMP_VERSION_STRING is not pmp_version(): run `{UPDATE_COMMAND}`"
    );
    // MAJOR.MINOR.PATCH is the version without a pre-release or build suffix.
    assert_eq!(
        from_macros,
        loaded.split(['-', '+']).next().unwrap(),
        "include/pmp_mail.h's PMP_VERSION_MAJOR/MINOR/PATCH are not pmp_version(): run `{UPDATE_COMMAND}`"
    );
}
