//! When Entra ID says no: its OAuth error body, the AADSTS code in it, and a diagnosis
//! (status, one-line summary, remedy) for every code a misconfigured app runs into. The
//! emulator's `errors.rs` is the other side of this file.

use serde::Deserialize;

use crate::credential::Credential;
use crate::error::{Error, Status};
use crate::http::HttpResponse;

/// Entra's OAuth error body.
#[derive(Deserialize, Default)]
struct EntraErrorBody {
    error: Option<String>,
    error_description: Option<String>,
    error_codes: Option<Vec<u32>>,
    trace_id: Option<String>,
    correlation_id: Option<String>,
}

/// Turns a non-2xx token response into a diagnosed error.
pub(crate) fn token_error(response: &HttpResponse, credential: &Credential) -> Error {
    let body: EntraErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
    let description = body
        .error_description
        .as_deref()
        .map(first_line)
        .unwrap_or_default();
    let code = body
        .error_codes
        .as_ref()
        .and_then(|c| c.first().copied())
        .or_else(|| parse_aadsts(&description));
    let diagnosis = diagnose_aadsts(code, response.status, credential);
    // A throttled or failing endpoint did not judge the credentials: it "answered".
    let rejected = diagnosis.status == Status::AuthenticationFailed;
    let message = if description.is_empty() {
        format!(
            "Entra ID {} (HTTP {}{})",
            if rejected {
                "rejected the token request"
            } else {
                "answered"
            },
            response.status,
            body.error
                .as_deref()
                .map(|e| format!(", {e}"))
                .unwrap_or_default()
        )
    } else if rejected {
        format!("Entra ID rejected the token request: {description}")
    } else {
        format!("Entra ID answered: {description}")
    };
    let mut e = Error::new(diagnosis.status, format!("{} {message}", diagnosis.summary));
    e.remedy = Some(diagnosis.remedy);
    e.http_status = Some(response.status);
    e.aadsts = code;
    e.entra_error = body.error;
    e.trace_id = body.trace_id;
    e.correlation_id = body.correlation_id;
    e.client_request_id = Some(response.client_request_id.clone());
    e.request_id = response.request_id.clone();
    e.attempts = Some(response.attempts);
    e.retry_after_seconds = response.retry_after.map(|d| d.as_secs());
    e
}

/// "AADSTS7000215: Invalid client secret ...\r\nTrace ID: ..." -> the first line.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_owned()
}

pub(crate) fn parse_aadsts(text: &str) -> Option<u32> {
    let start = text.find("AADSTS")? + "AADSTS".len();
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// What an AADSTS code means for the user.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Diagnosis {
    pub status: Status,
    pub summary: String,
    pub remedy: String,
}

/// Maps an Entra error (AADSTS code and HTTP status) to a category, a one-line summary and a
/// remedy. Codes from reference/protocol.md A6.
pub(crate) fn diagnose_aadsts(
    code: Option<u32>,
    http_status: u16,
    credential: &Credential,
) -> Diagnosis {
    let auth = |summary: &str, remedy: String| Diagnosis {
        status: Status::AuthenticationFailed,
        summary: summary.into(),
        remedy,
    };
    if let Credential::FederatedTokenFile(path) = credential
        && let Some(d) = diagnose_federated(code, path)
    {
        return d;
    }
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
        // Entra answered, so none of these is NETWORK ("no answer"): a 429 or a throttling
        // code is THROTTLED, a 5xx or an unavailability code a service error (GRAPH_ERROR, the
        // status for "the service answered with an error"); both keep the AADSTS code,
        // httpStatus and Retry-After in the error.
        _ if http_status == 429 || matches!(code, Some(90055) | Some(90024)) => Diagnosis {
            status: Status::Throttled,
            summary: "Entra ID throttled the token request.".into(),
            remedy: "Wait and retry (see retryAfterSeconds); reuse one client handle so tokens are cached. Nothing was sent.".into(),
        },
        _ if http_status >= 500 || code == Some(90033) => Diagnosis {
            status: Status::GraphError,
            summary: format!("Entra ID's token endpoint failed (HTTP {http_status}): it is temporarily unavailable, the credentials were not checked."),
            remedy: "Retry later (see retryAfterSeconds); nothing was sent. If it persists, check the Microsoft Entra service health.".into(),
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

/// Workload identity federation's codes (reference B8.4); `path` is the token file.
fn diagnose_federated(code: Option<u32>, path: &str) -> Option<Diagnosis> {
    let auth = |summary: &str, remedy: String| Diagnosis {
        status: Status::AuthenticationFailed,
        summary: summary.into(),
        remedy,
    };
    const CREATE: &str = "Create or correct the federated credential: for a user-assigned identity `az identity federated-credential create --name <name> --identity-name <identity> --resource-group <group> --issuer <issuer> --subject <subject>`; for an app registration `az ad app federated-credential create --id <app object id> --parameters credential.json` (issuer, subject, audiences [\"api://AzureADTokenExchange\"]).";
    Some(match code? {
        700211 => auth(
            "No federated credential of the app (or identity) names the issuer of the token in the token file.",
            format!("The issuer must match the token's iss exactly, trailing slash included (AKS: the cluster's OIDC issuer URL, `az aks show --query oidcIssuerProfile.issuerUrl`). {CREATE}"),
        ),
        700213 => auth(
            "No federated credential of the app (or identity) matches the subject of the token in the token file.",
            format!("The subject must match the token's sub exactly and case-sensitively; on AKS it is system:serviceaccount:<namespace>:<service account name>. {CREATE}"),
        ),
        7002138 => auth(
            "The federated credential's subject differs from the token's only in case; subjects are compared case-sensitively.",
            format!("Correct the subject's case in the federated credential. {CREATE}"),
        ),
        70021 => auth(
            "No federated credential matches the token (issuer, subject and audience together), or a new one has not replicated yet.",
            format!("Check the audience: the token's aud must be the credential's audience (api://AzureADTokenExchange by default). A credential created in the last minutes may not be usable yet: retry shortly. {CREATE}"),
        ),
        700024 => auth(
            "The federated token has expired: the token file was not refreshed.",
            format!("The file '{path}' is re-read for every token request, so whoever writes it must renew it before it expires: on AKS the kubelet rotates the projected service-account token (check the pod's projected volume and that the file is still being updated); elsewhere refresh the file from your OIDC issuer. Also check this machine's clock."),
        ),
        700222 => auth(
            "The token file holds a token issued by Entra ID, which federation does not accept.",
            format!("Put the external issuer's token (e.g. the Kubernetes service-account token) in '{path}', not an Entra access token."),
        ),
        700027 => auth(
            "Entra ID could not verify the federated token's signature with the issuer's published keys.",
            "The issuer's OIDC discovery document and JWKS must be reachable by Entra ID and hold the key that signed the token (AKS: after a service-account key rotation, wait for the JWKS to update).".into(),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn aadsts_from_description() {
        assert_eq!(
            parse_aadsts("AADSTS7000215: Invalid client secret"),
            Some(7000215)
        );
        assert_eq!(parse_aadsts("nothing"), None);
        assert_eq!(first_line("AADSTS1: x\r\nTrace ID: y"), "AADSTS1: x");
    }

    #[test]
    fn diagnoses_federation_errors() {
        let cred = Credential::FederatedTokenFile("/var/run/secrets/token".into());
        for code in [700211, 700213, 7002138, 70021, 700024, 700222, 700027] {
            let d = diagnose_aadsts(Some(code), 400, &cred);
            assert_eq!(d.status, Status::AuthenticationFailed, "{code}");
        }
        let d = diagnose_aadsts(Some(700024), 400, &cred);
        assert!(d.summary.contains("not refreshed"), "{}", d.summary);
        assert!(d.remedy.contains("/var/run/secrets/token"), "{}", d.remedy);
        let d = diagnose_aadsts(Some(700213), 400, &cred);
        assert!(d.remedy.contains("system:serviceaccount:"), "{}", d.remedy);
        // A certificate's 700024 is still the clock.
        let secret = Credential::Secret(Secret::new("x"));
        assert!(
            diagnose_aadsts(Some(700024), 400, &secret)
                .remedy
                .contains("clock")
        );
        // Other codes fall through to the common table.
        assert!(
            diagnose_aadsts(Some(7000215), 401, &cred)
                .remedy
                .contains("Secret ID")
        );
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
        // An answer is never NETWORK ("no answer").
        assert_eq!(diagnose_aadsts(None, 503, &cred).status, Status::GraphError);
        assert_eq!(
            diagnose_aadsts(Some(90033), 503, &cred).status,
            Status::GraphError
        );
        assert_eq!(
            diagnose_aadsts(Some(90033), 429, &cred).status,
            Status::Throttled
        );
        assert_eq!(
            diagnose_aadsts(Some(90055), 400, &cred).status,
            Status::Throttled
        );
        assert_eq!(
            diagnose_aadsts(Some(7000215), 401, &cred).status,
            Status::AuthenticationFailed
        );
    }
}
