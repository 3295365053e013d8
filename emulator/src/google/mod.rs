//! Google Workspace: the OAuth 2.0 token endpoint for service accounts with domain-wide
//! delegation (`token`), Gmail's `users.messages.send` as JSON `raw` (`gmail`) and through the
//! media upload endpoint (`upload`), Google's error shapes (`errors`), and the control API's
//! Google part (`control`). Stands on `state`, `records` and `workspace`; borrows the RFC 5322
//! reader from `graph::mime` so both services record messages alike.

pub(crate) mod control;
pub(crate) mod errors;
pub(crate) mod gmail;
pub(crate) mod token;
pub(crate) mod upload;

use crate::state::AppState;
use crate::workspace::{RuntimeKey, ServiceAccountKey, rsa_public_key_from_pem};

/// Google's token endpoint paths (`/token`; `/o/oauth2/token` is the old `token_uri`).
pub(crate) fn is_token_path(path: &str) -> bool {
    path == "/token" || path == "/o/oauth2/token"
}

/// Gmail's send paths, including resumable session URIs.
pub(crate) fn is_gmail_path(path: &str) -> bool {
    path.starts_with("/gmail/v1/")
        || path.starts_with("/upload/gmail/v1/")
        || path.starts_with("/resumable/upload/gmail/v1/")
}

/// Any path that answers in Google's shapes.
pub(crate) fn is_google_path(path: &str) -> bool {
    is_token_path(path) || is_gmail_path(path)
}

/// A new key for a declared service account, registered with the running emulator.
pub(crate) fn register_new_key(
    st: &AppState,
    client_email: &str,
) -> Result<ServiceAccountKey, String> {
    let sa = st
        .dir
        .google
        .as_ref()
        .and_then(|g| g.service_account(client_email))
        .ok_or_else(|| format!("no service account '{client_email}' in the directory"))?;
    let key = ServiceAccountKey::generate(&sa.project, &sa.client_email, &sa.client_id)?;
    let rsa_public_key = rsa_public_key_from_pem(&key.public_key_pem)?;
    st.google.runtime_keys.lock().push(RuntimeKey {
        client_email: sa.client_email.clone(),
        id: key.private_key_id.clone(),
        rsa_public_key,
    });
    Ok(key)
}
