//! Generates `include/pmp_mail.h` from `src/ffi` with cbindgen. The header is committed; CI
//! regenerates it and fails when `git diff` shows it changed.

fn main() {
    // cbindgen parses the whole crate (core modules are `cbindgen:ignore`d in lib.rs).
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let config = cbindgen::Config::from_file(format!("{crate_dir}/cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            bindings.write_to_file(format!("{crate_dir}/include/pmp_mail.h"));
        }
        // A half-edited source tree should still give rustc's own, better error messages.
        Err(e) => println!("cargo:warning=cbindgen could not generate the header: {e}"),
    }
}
