//! The built-in demo tenant used by `serve --demo` (docs/contracts.md section 6).

use std::path::Path;

use crate::directory::{
    App, Certificate, Cloud, Directory, Mailbox, ManagedIdentity, ManagedIdentityKind, Secret,
    Tenant,
};
use crate::tls::{DemoCertificate, demo_certificate};
use crate::workspace::{
    Delegation, GMAIL_SEND_SCOPE, GoogleProject, GoogleWorkspace, ServiceAccount,
    ServiceAccountKey, WorkspaceDomain, WorkspaceUser,
};

pub const DEMO_TENANT_ID: &str = "11111111-1111-1111-1111-111111111111";
pub const DEMO_TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";
pub const DEMO_CLIENT_ID: &str = "22222222-2222-2222-2222-222222222222";
pub const DEMO_SECRET: &str = "demo-secret-value";
pub const DEMO_MAILBOX: &str = "alerts@contoso.onmicrosoft.com";
pub const DEMO_PFX_PASSWORD: &str = "demo";
/// The demo host's system-assigned managed identity (Mail.Send).
pub const DEMO_MI_CLIENT_ID: &str = "33333333-3333-3333-3333-333333333333";
pub const DEMO_MI_OBJECT_ID: &str = "33333333-0000-0000-0000-000000000001";
/// The demo's App Service `IDENTITY_HEADER` (unless the directory file sets one).
pub const DEMO_IDENTITY_HEADER: &str = "demo-identity-header";

/// The demo's Google Workspace: a project with the Gmail API on, a service account whose key
/// file `serve --demo` writes as `demo-google-sa.json`, and `fabrikam.example` with one user
/// and a domain-wide delegation of `gmail.send` to that service account.
pub const DEMO_GOOGLE_PROJECT: &str = "pmp-mail-demo";
pub const DEMO_GOOGLE_CLIENT_EMAIL: &str = "pmp-mail-demo@pmp-mail-demo.iam.gserviceaccount.com";
pub const DEMO_GOOGLE_CLIENT_ID: &str = "104200000000000000001";
pub const DEMO_GOOGLE_DOMAIN: &str = "fabrikam.example";
pub const DEMO_GOOGLE_USER: &str = "alerts@fabrikam.example";
pub const DEMO_GOOGLE_KEY_FILE: &str = "demo-google-sa.json";

/// Adds the demo Google Workspace (unless the directory has a `[google]` section already) and
/// returns the service account's new key; its public half is registered in `dir`. The caller
/// writes `key.to_json(<the emulator's /token>)` once the address is known.
pub fn add_google_demo(dir: &mut Directory) -> Result<Option<ServiceAccountKey>, String> {
    if dir.google.is_some() {
        return Ok(None);
    }
    let key = ServiceAccountKey::generate(
        DEMO_GOOGLE_PROJECT,
        DEMO_GOOGLE_CLIENT_EMAIL,
        DEMO_GOOGLE_CLIENT_ID,
    )?;
    dir.google = Some(GoogleWorkspace {
        projects: vec![GoogleProject {
            id: DEMO_GOOGLE_PROJECT.to_string(),
            number: None,
            gmail_api_enabled: true,
        }],
        service_accounts: vec![ServiceAccount {
            project: DEMO_GOOGLE_PROJECT.to_string(),
            client_email: DEMO_GOOGLE_CLIENT_EMAIL.to_string(),
            client_id: DEMO_GOOGLE_CLIENT_ID.to_string(),
            display_name: "pmp-mail demo sender".to_string(),
            disabled: false,
            keys: vec![key.entry()],
        }],
        domains: vec![WorkspaceDomain {
            name: DEMO_GOOGLE_DOMAIN.to_string(),
            users: vec![WorkspaceUser {
                address: DEMO_GOOGLE_USER.to_string(),
                mail_enabled: true,
                send_as: Vec::new(),
                throttling: None,
            }],
            delegations: vec![Delegation {
                client_id: DEMO_GOOGLE_CLIENT_ID.to_string(),
                scopes: vec![GMAIL_SEND_SCOPE.to_string()],
            }],
        }],
        throttling: None,
    });
    Ok(Some(key))
}

/// Adds the demo tenant, app, system-assigned managed identity and mailbox (those not already declared) to `dir`, and writes
/// `demo-app.pfx` (password `demo`), `demo-app.crt` and `demo-app.key` into `state_dir`.
pub fn add_demo(dir: &mut Directory, state_dir: &Path) -> Result<DemoCertificate, String> {
    let cert = demo_certificate()?;
    std::fs::create_dir_all(state_dir).map_err(|e| format!("{}: {e}", state_dir.display()))?;
    let write = |name: &str, data: &[u8]| {
        std::fs::write(state_dir.join(name), data)
            .map_err(|e| format!("{}: {e}", state_dir.join(name).display()))
    };
    write("demo-app.pfx", &cert.pfx)?;
    write("demo-app.crt", cert.cert_pem.as_bytes())?;
    write("demo-app.key", cert.key_pem.as_bytes())?;
    restrict(&state_dir.join("demo-app.key"));
    restrict(&state_dir.join("demo-app.pfx"));

    if dir.find_tenant(DEMO_TENANT_ID).is_none() {
        dir.tenants.push(Tenant {
            id: DEMO_TENANT_ID.to_string(),
            domains: vec![DEMO_TENANT_DOMAIN.to_string()],
            cloud: Cloud::Global,
        });
    }
    if !dir
        .apps
        .iter()
        .any(|a| a.client_id.eq_ignore_ascii_case(DEMO_CLIENT_ID))
    {
        dir.apps.push(App {
            tenant: DEMO_TENANT_ID.to_string(),
            client_id: DEMO_CLIENT_ID.to_string(),
            display_name: "pmp-mail demo app".to_string(),
            enabled: true,
            roles: vec!["Mail.Send".to_string(), "Mail.ReadWrite".to_string()],
            unconsented_roles: Vec::new(),
            conditional_access_blocked: false,
            secrets: vec![Secret {
                value: DEMO_SECRET.to_string(),
                expires: None,
            }],
            certificates: vec![Certificate {
                pem: Some(cert.cert_pem.clone()),
                path: None,
            }],
            object_id: None,
            federated_credentials: Vec::new(),
        });
    }
    let has_system_mi = dir
        .managed_identities
        .iter()
        .any(|m| m.kind == ManagedIdentityKind::System);
    if !has_system_mi
        && !dir
            .managed_identities
            .iter()
            .any(|m| m.client_id.eq_ignore_ascii_case(DEMO_MI_CLIENT_ID))
    {
        dir.managed_identities.push(ManagedIdentity {
            tenant: DEMO_TENANT_ID.to_string(),
            kind: ManagedIdentityKind::System,
            client_id: DEMO_MI_CLIENT_ID.to_string(),
            object_id: Some(DEMO_MI_OBJECT_ID.to_string()),
            resource_id: Some(
                "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/demo/providers/Microsoft.Web/sites/pmp-mail-demo"
                    .to_string(),
            ),
            display_name: "pmp-mail-demo".to_string(),
            roles: vec!["Mail.Send".to_string()],
            federated_credentials: Vec::new(),
        });
    }
    if dir.identity_header.is_none() {
        dir.identity_header = Some(DEMO_IDENTITY_HEADER.to_string());
    }
    if !dir
        .mailboxes
        .iter()
        .any(|m| m.address.eq_ignore_ascii_case(DEMO_MAILBOX))
    {
        dir.mailboxes.push(Mailbox {
            tenant: DEMO_TENANT_ID.to_string(),
            address: DEMO_MAILBOX.to_string(),
            id: None,
            display_name: Some("Alerts".to_string()),
            exists: true,
            rest_enabled: true,
            access_policy_allowed_apps: Vec::new(),
        });
    }
    Ok(cert)
}

#[cfg(unix)]
fn restrict(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict(_p: &Path) {}
