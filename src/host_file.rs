//! Files a host names (attachments, certificates, keys), read without trusting them: regular
//! files only, sizes checked before the first byte, reads bounded.

use crate::error::{Error, Result};

/// Reads a file a host named (an attachment, a certificate or key) without trusting it: the
/// type and size come from metadata before anything is opened, so a directory, a FIFO (which
/// would block the open forever), a device such as `/dev/zero` (which never ends) or a file over
/// `limit` bytes is refused without reading; then at most `limit + 1` bytes are read, so a file
/// that grows or lies about its size is still bounded. `error` makes the error of the caller's
/// kind from a message; `too_large` the one for a size over `limit`, given the size in words
/// ("2147483648 bytes"). Messages name `field` and `path`, never the content.
pub(crate) fn read_host_file(
    field: &str,
    path: &str,
    limit: u64,
    error: impl Fn(String) -> Error,
    too_large: impl Fn(&str) -> Error,
) -> Result<Vec<u8>> {
    use std::io::Read;

    let metadata = std::fs::metadata(path).map_err(|e| {
        if has_wildcard(path) {
            error(format!(
                "{field}: '{path}' was not found: wildcards are not expanded: pass each file"
            ))
            .with_remedy(
                "Expand the pattern first (PowerShell: (Get-ChildItem <pattern>).FullName) and pass each file by its own path.",
            )
        } else {
            open_error(field, path, &e, &error)
        }
    })?;
    check_regular(field, path, &metadata, &error)?;
    if metadata.len() > limit {
        return Err(too_large(&format!("{} bytes", metadata.len())));
    }
    let file = std::fs::File::open(path).map_err(|e| open_error(field, path, &e, &error))?;
    // The path may have been replaced since the check: look again at what was opened.
    let opened = file
        .metadata()
        .map_err(|e| open_error(field, path, &e, &error))?;
    check_regular(field, path, &opened, &error)?;
    if opened.len() > limit {
        return Err(too_large(&format!("{} bytes", opened.len())));
    }
    // Room for the whole file and the one byte that tells a grown file: no reallocation (and so
    // no stray copy of a key) while reading.
    let mut bytes = Vec::with_capacity(usize::try_from(opened.len()).unwrap_or(0) + 1);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| {
        error(format!("{field}: cannot read '{path}' ({e})"))
            .with_remedy("Check that this process may read the file.")
    })?;
    if bytes.len() as u64 > limit {
        return Err(too_large(&format!(
            "more than {limit} bytes (it reported {} bytes: it grew while being read, or does not report its size)",
            opened.len()
        )));
    }
    Ok(bytes)
}

/// `*` or `?` in a path that does not exist: an unexpanded wildcard (the `\\?\` prefix of a
/// Windows long path is not one).
fn has_wildcard(path: &str) -> bool {
    let rest = path
        .strip_prefix(r"\\?\")
        .or_else(|| path.strip_prefix("//?/"))
        .unwrap_or(path);
    rest.contains(['*', '?'])
}

fn open_error(
    field: &str,
    path: &str,
    e: &std::io::Error,
    error: &impl Fn(String) -> Error,
) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => {
            let cwd = std::env::current_dir()
                .map(|d| format!(" (relative paths start at {})", d.display()))
                .unwrap_or_default();
            error(format!("{field}: '{path}' does not exist"))
                .with_remedy(format!("Check the path{cwd}."))
        }
        std::io::ErrorKind::PermissionDenied => error(format!(
            "{field}: '{path}' cannot be read: permission denied"
        ))
        .with_remedy("Give the account this process runs as read access to the file."),
        _ => error(format!("{field}: cannot read '{path}' ({e})"))
            .with_remedy("Check the path and that this process may read the file."),
    }
}

/// Only regular files are read: directories get their own message, and pipes, devices and
/// sockets are refused because reading them can block forever or never end.
fn check_regular(
    field: &str,
    path: &str,
    metadata: &std::fs::Metadata,
    error: &impl Fn(String) -> Error,
) -> Result<()> {
    let file_type = metadata.file_type();
    if file_type.is_file() {
        return Ok(());
    }
    if file_type.is_dir() {
        return Err(
            error(format!("{field}: '{path}' is a directory, not a file"))
                .with_remedy("Pass each file by its own path; a directory is not expanded."),
        );
    }
    Err(error(format!(
        "{field}: '{path}' is a {}, not a regular file",
        special_kind(&file_type)
    ))
    .with_remedy(
        "Pass a regular file: save the data to a file first (pipes and devices are not read: they can block or never end).",
    ))
}

#[cfg(unix)]
fn special_kind(file_type: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() {
        "named pipe (FIFO)"
    } else if file_type.is_char_device() {
        "character device"
    } else if file_type.is_block_device() {
        "block device"
    } else if file_type.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> &'static str {
    "special file"
}
