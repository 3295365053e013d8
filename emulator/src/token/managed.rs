//! Managed-identity token endpoints of the host the emulator plays: the App Service /
//! Functions / Automation protocol (`IDENTITY_ENDPOINT` + `X-IDENTITY-HEADER`, api-version
//! 2019-08-01), IMDS (`/metadata/identity/oauth2/token`, `Metadata: true`) and Azure Arc's
//! HIMDS (a 401 `Basic realm=<key file>` challenge, then `Authorization: Basic <key>`).
//!
//! Wire facts follow design/reference/google-and-managed-identity.md B1, B3 and B6. Where that
//! note marks a fact as unconfirmed, the code says `[UNCONFIRMED]` next to the guess.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};

use crate::directory::{GRAPH_APP_ID, ManagedIdentity, MiSelector, Tenant};
use crate::errors::{EntraError, RequestIds};
use crate::records::TokenRecord;
use crate::state::AppState;
use crate::util::{b64url, new_guid, rfc3339, unix_now};

/// The only api-version the App Service protocol answers (B1).
const APP_SERVICE_API_VERSION: &str = "2019-08-01";
/// The first IMDS api-version with the identity endpoint (B6.1); later dates are accepted.
const IMDS_MIN_API_VERSION: &str = "2018-02-01";

type Params = Query<Vec<(String, String)>>;

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// A token minted for a managed identity.
struct Minted {
    access_token: String,
    now: i64,
    exp: i64,
}

/// Signs an access token for `mi`, for `aud` (the resource as requested), and records it.
fn mint(st: &AppState, mi: &ManagedIdentity, tenant: &Tenant, aud: &str, via: &str) -> Minted {
    let now = unix_now();
    let exp = now + st.token_lifetime as i64;
    let oid = mi.object_id();
    let mut claims = json!({
        "aud": aud,
        "iss": format!("https://sts.windows.net/{}/", tenant.id),
        "iat": now, "nbf": now, "exp": exp,
        "aio": new_guid(),
        "appid": mi.client_id,
        "appidacr": "2",
        "idp": format!("https://sts.windows.net/{}/", tenant.id),
        "idtyp": "app",
        "oid": oid,
        "sub": oid,
        "tid": tenant.id,
        "uti": b64url(uuid::Uuid::new_v4().as_bytes()),
        "ver": "1.0",
    });
    // [UNCONFIRMED] real MI tokens also name the identity's ARM resource in `xms_mirid`.
    if let Some(r) = &mi.resource_id {
        claims["xms_mirid"] = json!(r);
    }
    // Like app tokens: assigned app roles, and no `roles` claim at all without any.
    if !mi.roles.is_empty() {
        claims["roles"] = json!(mi.roles);
    }
    // Signing with an in-memory RSA key only fails on allocation failure.
    let access_token = st.keys.sign_jwt(&claims).unwrap_or_default();
    st.records.add_token(TokenRecord {
        tenant_id: tenant.id.clone(),
        app_id: mi.client_id.clone(),
        credential: via.to_string(),
        issued_at: rfc3339(crate::util::now()),
        claims,
    });
    Minted {
        access_token,
        now,
        exp,
    }
}

/// The resource must be the identity's tenant cloud's Graph (by URL or app id) or the
/// emulator itself; the token's `aud` is the resource exactly as requested.
fn known_resource(st: &AppState, tenant: &Tenant, resource: &str) -> bool {
    let r = resource.strip_suffix("/.default").unwrap_or(resource);
    let r = r.strip_suffix('/').unwrap_or(r);
    r.eq_ignore_ascii_case(tenant.cloud.graph_resource())
        || r.eq_ignore_ascii_case(GRAPH_APP_ID)
        || st.base_aliases().iter().any(|b| r.eq_ignore_ascii_case(b))
}

fn resource_not_found(resource: &str, tenant: &Tenant) -> String {
    format!(
        "AADSTS500011: The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
        tenant.id
    )
}

/// The identity the selectors name; none = the system-assigned one.
/// A query parameter that names a user-assigned identity, with the kind of id it carries.
type SelectorParam<'q> = (&'static str, fn(&'q str) -> MiSelector<'q>);

/// The identity a token request names: the one selector among `params` (each query parameter
/// with the kind of id it carries) that is present, or the system-assigned identity when none
/// is; `None` when the request names more than one.
fn requested_identity<'q>(
    q: &'q [(String, String)],
    params: &[SelectorParam<'q>],
) -> Option<MiSelector<'q>> {
    let mut named = params
        .iter()
        .filter_map(|&(name, kind)| param(q, name).map(kind));
    match (named.next(), named.next()) {
        (first, None) => Some(first.unwrap_or(MiSelector::System)),
        (Some(_), Some(_)) | (None, Some(_)) => None,
    }
}

fn select<'a>(st: &'a AppState, sel: MiSelector<'_>) -> Option<(&'a ManagedIdentity, &'a Tenant)> {
    let mi = st.dir.find_managed_identity(sel)?;
    let tenant = st.dir.find_tenant(&mi.tenant)?;
    Some((mi, tenant))
}

// ---------------------------------------------------------------------------------------
// App Service / Functions / Automation (B1, B2)

/// App Service's error body: `{"statusCode","message","correlationId"}` + `X-CORRELATION-ID`
/// (B1, observed).
fn app_service_error(status: StatusCode, message: &str) -> Response {
    let corr = new_guid();
    let mut resp = (
        status,
        Json(json!({
            "statusCode": status.as_u16(),
            "message": message,
            "correlationId": corr,
        })),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&corr) {
        resp.headers_mut().insert("x-correlation-id", v);
    }
    resp
}

/// `GET {IDENTITY_ENDPOINT}?resource=…&api-version=2019-08-01[&client_id|principal_id|
/// object_id|mi_res_id=…]` with `X-IDENTITY-HEADER`.
pub(crate) async fn app_service(
    State(st): State<Arc<AppState>>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    // [UNCONFIRMED] status and text for a missing or wrong header: 401 was observed in 2020
    // (azure-sdk-for-js#11595); the message is ours.
    let header_ok = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == st.identity_header);
    if !header_ok {
        return app_service_error(
            StatusCode::UNAUTHORIZED,
            "The X-IDENTITY-HEADER header is missing or does not match the IDENTITY_HEADER secret.",
        );
    }
    // [UNCONFIRMED] the error for another or a missing api-version (Automation accepts a
    // missing one, B2; the emulator plays App Service and requires it).
    match param(&q, "api-version") {
        Some(APP_SERVICE_API_VERSION) => {}
        other => {
            return app_service_error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "The api-version '{}' is not supported. Supported version: {APP_SERVICE_API_VERSION}.",
                    other.unwrap_or("")
                ),
            );
        }
    }
    let Some(resource) = param(&q, "resource") else {
        // [UNCONFIRMED] text.
        return app_service_error(
            StatusCode::BAD_REQUEST,
            "The resource parameter is missing.",
        );
    };
    // B1: client_id, principal_id (doc alias object_id), mi_res_id; at most one.
    let Some(sel) = requested_identity(
        &q,
        &[
            ("client_id", MiSelector::ClientId),
            ("principal_id", MiSelector::ObjectId),
            ("object_id", MiSelector::ObjectId),
            ("mi_res_id", MiSelector::ResourceId),
        ],
    ) else {
        // [UNCONFIRMED] text.
        return app_service_error(
            StatusCode::BAD_REQUEST,
            "Only one of client_id, principal_id, object_id and mi_res_id may be given.",
        );
    };
    let Some((mi, tenant)) = select(&st, sel) else {
        // Observed for an unknown user-assigned id (azure-sdk-for-net#43691).
        return app_service_error(
            StatusCode::BAD_REQUEST,
            "Unable to load the proper Managed Identity.",
        );
    };
    if !known_resource(&st, tenant, resource) {
        // [UNCONFIRMED] how App Service wraps Entra's AADSTS500011.
        return app_service_error(
            StatusCode::BAD_REQUEST,
            &resource_not_found(resource, tenant),
        );
    }
    let m = mint(&st, mi, tenant, resource, "managedIdentity:appService");
    // B1: expires_on is Unix epoch seconds as a string; client_id is the identity's.
    Json(json!({
        "access_token": m.access_token,
        "expires_on": m.exp.to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": mi.client_id,
    }))
    .into_response()
}

// ---------------------------------------------------------------------------------------
// IMDS (B6)

fn imds_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// `YYYY-MM-DD` on or after 2018-02-01 (string order is date order in this form).
fn imds_api_version_ok(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && v >= IMDS_MIN_API_VERSION
}

/// `GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=…[&client_id|
/// object_id|msi_res_id=…]` with `Metadata: true`.
pub(crate) async fn imds(
    State(st): State<Arc<AppState>>,
    Query(q): Params,
    Extension(ids): Extension<RequestIds>,
    headers: HeaderMap,
) -> Response {
    // B6.3: without the header, 400 bad_request_102. [UNCONFIRMED] whether IMDS accepts
    // `True`; the emulator compares case-insensitively as Automation's docs send `True`.
    let metadata = headers
        .get("metadata")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !metadata {
        return imds_error(
            StatusCode::BAD_REQUEST,
            "bad_request_102",
            "Required metadata header not specified",
        );
    }
    // [UNCONFIRMED] the errors for a missing or unknown api-version and a missing resource.
    match param(&q, "api-version") {
        Some(v) if imds_api_version_ok(v) => {}
        Some(v) => {
            return imds_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("Invalid api-version '{v}'"),
            );
        }
        None => {
            return imds_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Required query variable 'api-version' is missing",
            );
        }
    }
    let Some(resource) = param(&q, "resource") else {
        return imds_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'resource' is missing",
        );
    };
    // B6.1: client_id, object_id, msi_res_id (and the probe's msi-res-id, B6.1 note).
    let Some(sel) = requested_identity(
        &q,
        &[
            ("client_id", MiSelector::ClientId),
            ("object_id", MiSelector::ObjectId),
            ("msi_res_id", MiSelector::ResourceId),
            ("msi-res-id", MiSelector::ResourceId),
        ],
    ) else {
        // [UNCONFIRMED] text.
        return imds_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Only one of client_id, object_id and msi_res_id may be given",
        );
    };
    let Some((mi, tenant)) = select(&st, sel) else {
        // B6.3 (observed azure-sdk-for-net#46709).
        return imds_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Identity not found",
        );
    };
    if !known_resource(&st, tenant, resource) {
        // B6.3: invalid_resource with Entra's AADSTS500011 body (MSAL's fixture).
        let msg = resource_not_found(resource, tenant);
        let msg = msg.trim_start_matches("AADSTS500011: ");
        return EntraError::new(StatusCode::BAD_REQUEST, "invalid_resource", 500011, msg)
            .render(&ids.client_request_id);
    }
    let m = mint(&st, mi, tenant, resource, "managedIdentity:imds");
    let lifetime = (m.exp - m.now).to_string();
    // B6.2: every numeric field a string. [UNCONFIRMED] client_id and ext_expires_in, which
    // real responses are reported to carry.
    Json(json!({
        "access_token": m.access_token,
        "client_id": mi.client_id,
        "expires_in": lifetime,
        "expires_on": m.exp.to_string(),
        "ext_expires_in": lifetime,
        "not_before": m.now.to_string(),
        "refresh_token": "",
        "resource": resource,
        "token_type": "Bearer",
    }))
    .into_response()
}

// ---------------------------------------------------------------------------------------
// Azure Arc (B3)

/// The api-versions Arc clients send: the docs' bash sample and older clients 2019-11-01,
/// MSAL and the docs' PowerShell sample 2020-06-01.
const ARC_API_VERSIONS: [&str; 2] = ["2019-11-01", "2020-06-01"];

/// Writes a fresh key file into the key directory and answers 401 with
/// `WWW-Authenticate: Basic realm=<absolute path of the file>` (B3).
fn arc_challenge(st: &AppState) -> Response {
    let mut bytes = [0u8; 32];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        bytes.copy_from_slice(
            &[
                uuid::Uuid::new_v4().into_bytes(),
                uuid::Uuid::new_v4().into_bytes(),
            ]
            .concat(),
        );
    }
    let secret = b64url(&bytes);
    let path = st.arc_key_dir.join(format!("{}.key", new_guid()));
    if let Err(e) = std::fs::write(&path, secret.as_bytes()) {
        return imds_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unknown",
            &format!("The emulator cannot write {}: {e}", path.display()),
        );
    }
    restrict(&path);
    st.arc_secrets.lock().insert(secret);
    // [UNCONFIRMED] the challenge's body; clients read only the header.
    let mut resp = imds_error(
        StatusCode::UNAUTHORIZED,
        "unauthorized_client",
        "Authorization header with the key from the WWW-Authenticate realm is required",
    );
    if let Ok(v) = HeaderValue::from_str(&format!("Basic realm={}", path.display())) {
        resp.headers_mut().insert("www-authenticate", v);
    }
    resp
}

#[cfg(unix)]
fn restrict(p: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict(_p: &std::path::Path) {}

/// `GET {IDENTITY_ENDPOINT}?api-version=2020-06-01&resource=…` with `Metadata: true`; first
/// without `Authorization` (→ the challenge), then with `Authorization: Basic <key file>`.
/// System-assigned only.
pub(crate) async fn arc(
    State(st): State<Arc<AppState>>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    // [UNCONFIRMED] HIMDS answers a missing Metadata header like IMDS.
    let metadata = headers
        .get("metadata")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !metadata {
        return imds_error(
            StatusCode::BAD_REQUEST,
            "bad_request_102",
            "Required metadata header not specified",
        );
    }
    // [UNCONFIRMED] the errors for the api-version and resource, as IMDS's.
    match param(&q, "api-version") {
        Some(v) if ARC_API_VERSIONS.contains(&v) => {}
        other => {
            return imds_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("Invalid api-version '{}'", other.unwrap_or("")),
            );
        }
    }
    let Some(resource) = param(&q, "resource") else {
        return imds_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'resource' is missing",
        );
    };
    // The key file's content verbatim (not base64 of user:password), B3.
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, k)| k.trim().to_string());
    let Some(key) = presented else {
        return arc_challenge(&st);
    };
    if !st.arc_secrets.lock().contains(&key) {
        // [UNCONFIRMED] a wrong key gets a new challenge.
        return arc_challenge(&st);
    }
    // Arc has system-assigned identities only; clients refuse user-assigned ids (B3).
    // [UNCONFIRMED] the server's answer to one.
    let ua = ["client_id", "object_id", "msi_res_id", "mi_res_id"]
        .iter()
        .any(|k| param(&q, k).is_some());
    let found = if ua {
        None
    } else {
        select(&st, MiSelector::System)
    };
    let Some((mi, tenant)) = found else {
        return imds_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Identity not found",
        );
    };
    if !known_resource(&st, tenant, resource) {
        let msg = resource_not_found(resource, tenant);
        return imds_error(StatusCode::BAD_REQUEST, "invalid_resource", &msg);
    }
    let m = mint(&st, mi, tenant, resource, "managedIdentity:arc");
    let lifetime = (m.exp - m.now).to_string();
    // [UNCONFIRMED] the exact field set: IMDS's (B6.2).
    Json(json!({
        "access_token": m.access_token,
        "expires_in": lifetime,
        "expires_on": m.exp.to_string(),
        "ext_expires_in": lifetime,
        "not_before": m.now.to_string(),
        "refresh_token": "",
        "resource": resource,
        "token_type": "Bearer",
    }))
    .into_response()
}

/// An injected fault status on a managed-identity path, in IMDS's error shape (B6.3).
pub(crate) fn injected(status: StatusCode) -> Response {
    let body: Value = json!({
        "error": "unknown",
        "error_description": "An injected fault.",
    });
    (status, Json(body)).into_response()
}
