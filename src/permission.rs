//! "Can this app send mail?": the roles in the access token, one verdict per permission, and
//! the report that puts them together with the token's facts and warnings. (Why Entra refused a
//! token is `entra_error.rs`.)

use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::MAX_CONFIG_BYTES;
use crate::credential::{CertificateInfo, Credential};
use crate::error::{ErrorDocument, Result, Status};
use crate::logging::OpLog;
use crate::time::{format_time, format_unix, unix_now};
use crate::token::{AccessToken, TokenSource};

/// Options of `pmp_test_permissions`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "pmp-mail test-permissions options")]
pub struct PermissionOptions {
    /// Bypass the token cache (newly consented permissions only appear in new tokens).
    #[serde(default)]
    pub force_refresh: bool,
    /// Provider googleWorkspace: the user whose delegation is tested (default:
    /// `google.impersonate`). Not used with microsoft365.
    pub mailbox: Option<String>,
}

impl PermissionOptions {
    /// Parses an options document; unknown fields are rejected.
    pub fn from_json(text: &str) -> Result<PermissionOptions> {
        crate::document::parse(text, "options", MAX_CONFIG_BYTES)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub enum PermissionState {
    Granted,
    Missing,
    /// The token is not a readable JWT: we do not guess.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionStatus {
    pub name: String,
    pub status: PermissionState,
    pub required: bool,
    pub needed_for: String,
}

/// The result of `pmp_test_permissions` (contract section 3).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(title = "pmp-mail permission report")]
pub struct PermissionReport {
    /// False when Entra ID rejected the credentials; `error` says why.
    pub authenticated: bool,
    pub tenant_id: Option<String>,
    pub app_id: Option<String>,
    pub app_display_name: Option<String>,
    /// RFC 3339 UTC.
    pub token_expires_on: Option<String>,
    /// endpoint | cache
    pub token_source: Option<String>,
    /// False when the access token is not a readable JWT.
    pub roles_readable: bool,
    pub roles: Vec<String>,
    pub permissions: Vec<PermissionStatus>,
    pub warnings: Vec<String>,
    pub error: Option<ErrorDocument>,
    pub log: Vec<String>,
}

pub(crate) const MAIL_SEND: &str = "Mail.Send";
pub(crate) const MAIL_READ_WRITE: &str = "Mail.ReadWrite";

/// The claims we read from an access token.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub(crate) struct TokenClaims {
    pub tid: Option<String>,
    pub appid: Option<String>,
    pub azp: Option<String>,
    pub app_displayname: Option<String>,
    pub roles: Option<Vec<String>>,
    pub exp: Option<i64>,
    /// The service principal's object id (a managed identity's principal id).
    pub oid: Option<String>,
}

/// Decodes a JWT's payload without validating it (we only report what it says). None when the
/// token is not a readable JWT, e.g. encrypted or opaque.
pub(crate) fn decode_claims(token: &str) -> Option<TokenClaims> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('=').as_bytes())
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Per-permission verdicts from the roles (None = unreadable token).
pub(crate) fn evaluate(roles: Option<&[String]>) -> Vec<PermissionStatus> {
    let state = |name: &str| match roles {
        None => PermissionState::Unknown,
        Some(r) if r.iter().any(|x| x.eq_ignore_ascii_case(name)) => PermissionState::Granted,
        Some(_) => PermissionState::Missing,
    };
    vec![
        PermissionStatus {
            name: MAIL_SEND.into(),
            status: state(MAIL_SEND),
            required: true,
            needed_for: "sending mail (sendMail)".into(),
        },
        PermissionStatus {
            name: MAIL_READ_WRITE.into(),
            status: state(MAIL_READ_WRITE),
            required: false,
            needed_for: "messages sent through a draft: an attachment of 3 MiB or more, or attachments that together make the sendMail request 4 MiB or more".into(),
        },
    ]
}

/// The warnings that go with a set of verdicts.
pub(crate) fn warnings(permissions: &[PermissionStatus]) -> Vec<String> {
    let status = |name: &str| {
        permissions
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.status)
            .unwrap_or(PermissionState::Unknown)
    };
    let mut out = Vec::new();
    match status(MAIL_SEND) {
        PermissionState::Granted => {
            out.push("The application permission Mail.Send lets this app send as ANY mailbox in the tenant unless it is scoped (Exchange Online RBAC for Applications, or an Application Access Policy).".into());
            out.push("Exchange RBAC for Applications cannot narrow a tenant-wide Entra ID grant: permissions are additive (the union of Entra ID and Exchange grants applies). To scope the app with RBAC, remove the admin consent for Mail.Send in Entra ID.".into());
        }
        PermissionState::Missing => {
            out.push("Mail.Send is not in the token: sending will fail with ErrorAccessDenied. Add the Microsoft Graph APPLICATION permission Mail.Send to the app registration and grant admin consent (then test again with forceRefresh).".into());
        }
        PermissionState::Unknown => {
            out.push("The access token is not a readable JWT, so permissions are Unknown (not guessed). Send a test message to verify.".into());
        }
    }
    if status(MAIL_READ_WRITE) == PermissionState::Missing {
        out.push("Mail.ReadWrite is missing: messages that go through a draft will fail (an attachment of 3 MiB or more, or attachments that together make the sendMail request 4 MiB or more); messages that fit one sendMail request are unaffected.".into());
    }
    out.push("The token's roles show only Entra ID grants; permissions assigned through Exchange Online RBAC for Applications are invisible here (check with Test-ServicePrincipalAuthorization or a test send).".into());
    out
}

/// The report of one permission test. `fetched` is what the token cache answered; an
/// authentication failure becomes a report with `authenticated: false`, any other failure an
/// error.
pub(crate) fn report(
    client_id: &str,
    fetched: Result<(Arc<AccessToken>, TokenSource)>,
    credential: &Credential,
    mut log: OpLog,
    started: Instant,
) -> Result<PermissionReport> {
    let (token, source) = match fetched {
        Ok(found) => found,
        Err(mut e) if e.status == Status::AuthenticationFailed => {
            e.duration_ms
                .get_or_insert(started.elapsed().as_millis() as u64);
            log.info(format!("authentication failed: {}", e.message));
            e.log = log.lines().to_vec();
            return Ok(PermissionReport {
                authenticated: false,
                tenant_id: None,
                app_id: Some(client_id.to_owned()),
                app_display_name: None,
                token_expires_on: None,
                token_source: None,
                roles_readable: false,
                roles: Vec::new(),
                permissions: evaluate(None),
                warnings: Vec::new(),
                error: Some(e.to_document()),
                log: log.into_lines(),
            });
        }
        Err(mut e) => {
            e.log = log.into_lines();
            e.duration_ms
                .get_or_insert(started.elapsed().as_millis() as u64);
            return Err(e);
        }
    };
    if source == TokenSource::Cache {
        log.info("token from cache");
    }
    let claims = decode_claims(token.token.expose());
    let roles = claims.as_ref().map(|c| c.roles.clone().unwrap_or_default());
    let permissions = evaluate(roles.as_deref());
    let mut warnings = warnings(&permissions);
    if let Credential::ManagedIdentity(mi) = credential
        && permissions[0].status == PermissionState::Missing
    {
        let remedy = managed_identity_grant(
            claims.as_ref().and_then(|c| c.oid.as_deref()),
            &mi.settings().resource,
        );
        for w in warnings.iter_mut() {
            if w.starts_with("Mail.Send is not in the token") {
                *w = remedy.clone();
            }
        }
    }
    if let Some(cert) = credential.certificate() {
        warnings.extend(certificate_warning(cert, unix_now()));
    }
    log.info(format!(
        "roles: {}",
        match &roles {
            Some(r) if r.is_empty() => "(none)".to_owned(),
            Some(r) => r.join(", "),
            None => "(token not readable)".to_owned(),
        }
    ));
    let claims = claims.unwrap_or_default();
    Ok(PermissionReport {
        authenticated: true,
        tenant_id: claims.tid,
        app_id: claims
            .appid
            .or(claims.azp)
            .or_else(|| Some(client_id.to_owned())),
        app_display_name: claims.app_displayname,
        token_expires_on: Some(format_time(token.expires_at)),
        token_source: Some(source.as_str().to_owned()),
        roles_readable: roles.is_some(),
        roles: roles.unwrap_or_default(),
        permissions,
        warnings,
        error: None,
        log: log.into_lines(),
    })
}

/// Microsoft Graph's application id (the same in every cloud).
pub(crate) const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// The id of Graph's Mail.Send APPLICATION role ("Send mail as any user").
pub(crate) const MAIL_SEND_ROLE_ID: &str = "b633e1c5-b582-4048-a93e-9f11b44c7e96";

/// What to do when a managed identity lacks Mail.Send: managed identities have no app
/// registration to consent in, so the role is assigned to the identity's service principal
/// (object id `oid`) directly. `graph_root` is the cloud's Graph (for the REST URL).
pub(crate) fn managed_identity_grant(oid: Option<&str>, graph_root: &str) -> String {
    let oid = oid.unwrap_or("<object id of the managed identity>");
    format!(
        "Mail.Send is not in the managed identity's token: sending will fail with ErrorAccessDenied. A managed identity has no app registration to consent in: an admin assigns the Graph application role Mail.Send to its service principal (object id {oid}). \
Microsoft Graph PowerShell (Connect-MgGraph -Scopes AppRoleAssignment.ReadWrite.All,Application.Read.All): \
$graph = Get-MgServicePrincipal -Filter \"appId eq '{GRAPH_APP_ID}'\"; \
New-MgServicePrincipalAppRoleAssignment -ServicePrincipalId {oid} -PrincipalId {oid} -ResourceId $graph.Id -AppRoleId {MAIL_SEND_ROLE_ID}. \
Azure CLI: graphId=$(az ad sp show --id {GRAPH_APP_ID} --query id -o tsv); \
az rest -m POST -u {graph_root}/v1.0/servicePrincipals/{oid}/appRoleAssignments -b \"{{\\\"principalId\\\":\\\"{oid}\\\",\\\"resourceId\\\":\\\"$graphId\\\",\\\"appRoleId\\\":\\\"{MAIL_SEND_ROLE_ID}\\\"}}\". \
The platform caches managed-identity tokens for up to 24 hours, so the new role may show only when the cached token expires (test again with forceRefresh later)."
    )
}

/// A warning when the certificate has expired or expires within 30 days of `now` (Unix seconds).
fn certificate_warning(cert: &CertificateInfo, now: i64) -> Option<String> {
    if cert.not_after < now {
        Some(format!(
            "The certificate (thumbprint {}) expired on {}.",
            cert.thumbprint_hex(),
            format_unix(cert.not_after)
        ))
    } else if cert.not_after < now + 30 * 86_400 {
        Some(format!(
            "The certificate (thumbprint {}) expires on {}: upload a new one to the app registration.",
            cert.thumbprint_hex(),
            format_unix(cert.not_after)
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &serde_json::Value) -> String {
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            e.encode(b"{\"alg\":\"none\"}"),
            e.encode(payload.to_string())
        )
    }

    #[test]
    fn roles_to_verdicts() {
        let token = jwt(&serde_json::json!({"tid":"t","appid":"a","roles":["Mail.Send"]}));
        let claims = decode_claims(&token).unwrap();
        let p = evaluate(claims.roles.as_deref());
        assert_eq!(p[0].status, PermissionState::Granted);
        assert_eq!(p[1].status, PermissionState::Missing);
        let none = jwt(&serde_json::json!({"tid":"t"}));
        let p = evaluate(Some(
            decode_claims(&none)
                .unwrap()
                .roles
                .as_deref()
                .unwrap_or(&[]),
        ));
        assert_eq!(p[0].status, PermissionState::Missing);
        assert!(decode_claims("opaque-token").is_none());
        assert_eq!(evaluate(None)[0].status, PermissionState::Unknown);
    }

    #[test]
    fn managed_identity_grant_names_the_object_id_and_the_commands() {
        let oid = "33333333-0000-0000-0000-000000000001";
        let text = managed_identity_grant(Some(oid), "https://graph.microsoft.com");
        assert!(text.contains(&format!("New-MgServicePrincipalAppRoleAssignment -ServicePrincipalId {oid} -PrincipalId {oid} -ResourceId $graph.Id -AppRoleId b633e1c5-b582-4048-a93e-9f11b44c7e96")), "{text}");
        assert!(
            text.contains("appId eq '00000003-0000-0000-c000-000000000000'"),
            "{text}"
        );
        assert!(text.contains(&format!(r#"az rest -m POST -u https://graph.microsoft.com/v1.0/servicePrincipals/{oid}/appRoleAssignments -b "{{\"principalId\":\"{oid}\",\"resourceId\":\"$graphId\",\"appRoleId\":\"b633e1c5-b582-4048-a93e-9f11b44c7e96\"}}""#)), "{text}");
        assert!(!text.contains("  "), "{text}");
    }

    #[test]
    fn certificate_expiry_warnings() {
        let cert = |not_after| CertificateInfo {
            der: Vec::new(),
            sha1: vec![0xAB; 20],
            sha256: Vec::new(),
            not_after,
        };
        let now = 1_000_000_000;
        let expired = certificate_warning(&cert(now - 1), now).unwrap();
        assert!(expired.contains("expired on 2001-09-09"), "{expired}");
        assert!(expired.contains(&"AB".repeat(20)), "{expired}");
        let soon = certificate_warning(&cert(now + 86_400), now).unwrap();
        assert!(soon.contains("upload a new one"), "{soon}");
        assert_eq!(certificate_warning(&cert(now + 31 * 86_400), now), None);
    }
}
