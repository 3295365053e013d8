//! "Can this app send mail?": the roles in the access token, one verdict per permission, and a
//! diagnosis (category + remedy) for every AADSTS code a misconfigured app runs into.

use base64::Engine;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::credential::Credential;
use crate::error::{ErrorDocument, Status};

/// Options of `pmp_test_permissions`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "pmp-mail test-permissions options")]
pub struct PermissionOptions {
    /// Bypass the token cache (newly consented permissions only appear in new tokens).
    #[serde(default)]
    pub force_refresh: bool,
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

pub const MAIL_SEND: &str = "Mail.Send";
pub const MAIL_READ_WRITE: &str = "Mail.ReadWrite";

/// The claims we read from an access token.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct TokenClaims {
    pub tid: Option<String>,
    pub appid: Option<String>,
    pub azp: Option<String>,
    pub app_displayname: Option<String>,
    pub roles: Option<Vec<String>>,
    pub exp: Option<i64>,
}

/// Decodes a JWT's payload without validating it (we only report what it says). None when the
/// token is not a readable JWT, e.g. encrypted or opaque.
pub fn decode_claims(token: &str) -> Option<TokenClaims> {
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
pub fn evaluate(roles: Option<&[String]>) -> Vec<PermissionStatus> {
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
            needed_for: "attachments of 3 MB or more (draft + upload session)".into(),
        },
    ]
}

/// The warnings that go with a set of verdicts.
pub fn warnings(permissions: &[PermissionStatus]) -> Vec<String> {
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
        out.push("Mail.ReadWrite is missing: messages with an attachment of 3 MB or more (draft + upload session) will fail; smaller messages are unaffected.".into());
    }
    out.push("The token's roles show only Entra ID grants; permissions assigned through Exchange Online RBAC for Applications are invisible here (check with Test-ServicePrincipalAuthorization or a test send).".into());
    out
}

/// What an AADSTS code means for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    pub status: Status,
    pub summary: String,
    pub remedy: String,
}

/// Maps an Entra error (AADSTS code and HTTP status) to a category, a one-line summary and a
/// remedy. Codes from reference/protocol.md A6.
pub fn diagnose_aadsts(code: Option<u32>, http_status: u16, credential: &Credential) -> Diagnosis {
    let auth = |summary: &str, remedy: String| Diagnosis {
        status: Status::AuthenticationFailed,
        summary: summary.into(),
        remedy,
    };
    let thumbprint = credential
        .certificate()
        .map(|c| c.thumbprint_hex())
        .unwrap_or_else(|| "(no certificate configured)".into());
    match code {
        Some(7000215) => auth(
            "The client secret is wrong.",
            "Use the secret's VALUE (shown only once, when it was created), not its Secret ID. If the value is lost, create a new client secret under Certificates & secrets.".into(),
        ),
        Some(7000222) => auth(
            "The client secret has expired.",
            "Create a new client secret in the app registration (Certificates & secrets) and update the configuration; consider a certificate credential instead.".into(),
        ),
        Some(700016) => auth(
            "The application was not found in this tenant.",
            "Check clientId and tenant: the app must be registered in this tenant (or provisioned and admin-consented there). A wrong tenant ID/domain or a typo in the client ID gives this error.".into(),
        ),
        Some(90002) => auth(
            "The tenant was not found.",
            "Check the tenant ID or domain, and the cloud: a tenant in a national cloud (usGov, usGovDoD, china) must be addressed through that cloud's authority (set \"cloud\").".into(),
        ),
        Some(900023) => auth(
            "The tenant identifier is invalid.",
            "Use the Directory (tenant) ID GUID or a verified domain such as contoso.onmicrosoft.com.".into(),
        ),
        Some(9001023) | Some(50059) => auth(
            "Client credentials need a specific tenant, not /common or /consumers.",
            "Use the Directory (tenant) ID GUID or a verified domain as tenant.".into(),
        ),
        Some(700027) | Some(700030) | Some(50012) => auth(
            "The certificate is not registered on the app, or the client assertion signature is invalid.",
            format!(
                "Upload the certificate's public key (.cer/.pem) to the app registration under Certificates & secrets; this certificate's SHA-1 thumbprint is {thumbprint}. If it is already there, the private key does not match it. Some tenants reject x5t#S256: try \"assertionAlgorithm\": \"RS256\"."
            ),
        ),
        Some(50027) | Some(5002738) | Some(700021) => auth(
            "Entra ID could not accept the client assertion (malformed, wrong audience, unsupported algorithm, or issuer not the client id).",
            "This points to a bug or an incompatible signer: the assertion must be an RS256/PS256 JWT whose aud is the token URL and whose iss and sub are the client id.".into(),
        ),
        Some(50013) => auth(
            "Entra ID rejected the client assertion's signature or saw it replayed.",
            "Each token request needs a fresh assertion (a unique jti); check the signer and the machine clock.".into(),
        ),
        Some(700024) => auth(
            "The client assertion is outside its validity window: the clocks disagree.",
            "Synchronise this machine's clock (NTP); assertions are valid from now for 10 minutes.".into(),
        ),
        Some(7000112) => auth(
            "The application (service principal) is disabled in this tenant.",
            "Enable the enterprise application (Enterprise applications > Properties > Enabled for users to sign in), or ask the tenant admin why it was disabled.".into(),
        ),
        Some(53003) => auth(
            "Conditional Access for workload identities blocked the token.",
            "Ask an Entra admin to review the Conditional Access policies that target this service principal (location or service-principal risk conditions).".into(),
        ),
        Some(1002012) | Some(70011) | Some(700022) | Some(700023) => auth(
            "The requested scope was rejected.",
            "The scope must be the cloud's Graph resource followed by /.default; check the \"cloud\" setting.".into(),
        ),
        Some(500011) => auth(
            "Microsoft Graph was not found as a resource in this tenant (wrong cloud or resource).",
            "Check the \"cloud\" setting: the Graph resource differs per national cloud.".into(),
        ),
        Some(7000218) | Some(900144) => auth(
            "The token request carried no credential.",
            "Configure a client secret or a certificate for the app.".into(),
        ),
        Some(700025) => auth(
            "The app is registered as a public client, which cannot use secrets or certificates.",
            "In the app registration's Authentication page, turn off 'Allow public client flows'.".into(),
        ),
        Some(50196) => Diagnosis {
            status: Status::Throttled,
            summary: "Entra ID detected a request loop (too many identical token requests).".into(),
            remedy: "Reuse one client handle so its token cache works; do not create a client per message.".into(),
        },
        Some(90055) | Some(90024) | Some(90033) => Diagnosis {
            status: Status::Network,
            summary: "Entra ID is temporarily throttling or unavailable.".into(),
            remedy: "Retry later.".into(),
        },
        _ if http_status == 429 => Diagnosis {
            status: Status::Throttled,
            summary: "Entra ID throttled the token request.".into(),
            remedy: "Wait and retry; reuse one client handle so tokens are cached.".into(),
        },
        _ if http_status >= 500 => Diagnosis {
            status: Status::Network,
            summary: "Entra ID is unavailable.".into(),
            remedy: "Retry later.".into(),
        },
        Some(_) => auth(
            "Entra ID rejected the credentials.",
            "Look up the AADSTS code at https://login.microsoftonline.com/error and check the app registration.".into(),
        ),
        None => auth(
            "Entra ID rejected the token request.",
            "Check tenant, clientId and the credential.".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

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
    fn diagnoses_secret_errors() {
        let cred = Credential::Secret(Secret::new("x"));
        let d = diagnose_aadsts(Some(7000215), 401, &cred);
        assert_eq!(d.status, Status::AuthenticationFailed);
        assert!(d.remedy.contains("Secret ID"));
        assert_eq!(
            diagnose_aadsts(Some(50196), 400, &cred).status,
            Status::Throttled
        );
        assert_eq!(diagnose_aadsts(None, 503, &cred).status, Status::Network);
    }
}
