//! Writes the JSON Schemas of the public documents to docs/schema/.

fn main() -> std::io::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema");
    std::fs::create_dir_all(&dir)?;
    for (name, text) in pmp_mail::schema::all() {
        std::fs::write(dir.join(name), text)?;
        println!("wrote docs/schema/{name}");
    }
    Ok(())
}
