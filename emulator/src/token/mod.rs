//! Entra ID v2.0 authority: token endpoint (client credentials), OpenID configuration,
//! instance discovery and JWKS.

pub(crate) mod assertion;
pub(crate) mod federated;
pub(crate) mod managed;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use serde_json::{Value, json};

use crate::directory::{App, GRAPH_APP_ID, Tenant};
use crate::errors::{EntraError, RequestIds, json_body, sts_headers};
use crate::records::TokenRecord;
use crate::state::AppState;
use crate::util::{is_guid, new_guid, parse_rfc3339, rfc3339, unix_now};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const MAX_FORM: usize = 1024 * 1024;

/// Resolves the `{tenant}` path segment the way Entra does (A7).
pub(crate) fn resolve_tenant<'a>(st: &'a AppState, seg: &str) -> Result<&'a Tenant, EntraError> {
    let lower = seg.to_ascii_lowercase();
    match lower.as_str() {
        "common" | "consumers" => {
            return Err(EntraError::invalid_request(
                9001023,
                "The grant type is not supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.",
            ));
        }
        "organizations" => {
            return Err(EntraError::invalid_request(
                900023,
                "Specified tenant identifier 'organizations' is neither a valid DNS name, nor a valid external domain.",
            ));
        }
        _ => {}
    }
    if lower == "00000000-0000-0000-0000-000000000000" {
        return Err(EntraError::invalid_request(
            90002,
            "Requested tenant identifier '00000000-0000-0000-0000-000000000000' is not valid. Tenant identifiers may not be an empty GUID.",
        ));
    }
    let dns_like = lower.contains('.')
        && !lower.starts_with('.')
        && !lower.ends_with('.')
        && lower
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if !is_guid(&lower) && !dns_like {
        return Err(EntraError::invalid_request(
            900023,
            format!(
                "Specified tenant identifier '{seg}' is neither a valid DNS name, nor a valid external domain."
            ),
        ));
    }
    st.dir.find_tenant(seg).ok_or_else(|| {
        EntraError::invalid_request(
            90002,
            format!("Tenant '{seg}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."),
        )
    })
}

fn correlation(headers: &HeaderMap, ids: &RequestIds) -> String {
    headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| ids.client_request_id.clone())
}

/// `POST /{tenant}/oauth2/v2.0/token` (and the v1 `/oauth2/token` path).
pub(crate) async fn token(
    State(st): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    Extension(ids): Extension<RequestIds>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let corr = correlation(&headers, &ids);
    match issue(&st, &tenant, &headers, body).await {
        Ok(resp) => resp,
        Err(e) => e.render(&corr),
    }
}

async fn issue(
    st: &AppState,
    tenant_seg: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, EntraError> {
    let tenant = resolve_tenant(st, tenant_seg)?;
    let bytes = axum::body::to_bytes(body, MAX_FORM).await.map_err(|_| {
        EntraError::invalid_request(
            90004,
            "The request body is too large or was not received completely.",
        )
    })?;
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
        .map_err(|_| EntraError::missing_param("grant_type"))?;
    let get = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };

    let grant = get("grant_type").ok_or_else(|| EntraError::missing_param("grant_type"))?;
    if grant != "client_credentials" {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant}'."),
        ));
    }
    let basic = basic_credentials(headers);
    let client_id = get("client_id")
        .map(str::to_string)
        .or_else(|| basic.as_ref().map(|(id, _)| id.clone()))
        .ok_or_else(|| EntraError::missing_param("client_id"))?;
    let scope = get("scope").ok_or_else(|| EntraError::missing_param("scope"))?;

    let app_not_found = || {
        EntraError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant_seg}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        )
    };
    // A user-assigned identity with federated credentials signs in like an app (B8.1).
    let identity_app;
    let app = match st.dir.find_app(&tenant.id, &client_id) {
        Some(a) => a,
        None => {
            identity_app = st
                .dir
                .federated_identity_as_app(&tenant.id, &client_id)
                .ok_or_else(app_not_found)?;
            &identity_app
        }
    };
    if !app.enabled {
        return Err(EntraError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            7000112,
            format!(
                "Application '{}'({}) is disabled.",
                app.client_id, app.display_name
            ),
        ));
    }

    // Credential: an assertion wins over a secret, form secret over Basic.
    let credential = if let Some(assertion) = get("client_assertion") {
        match get("client_assertion_type") {
            None => return Err(EntraError::missing_param("client_assertion_type")),
            Some(t) if t != JWT_BEARER => {
                return Err(EntraError::invalid_request(
                    50027,
                    format!("Invalid JWT token. The client_assertion_type '{t}' is not supported."),
                ));
            }
            Some(_) => {}
        }
        if federated::is_federated(app, assertion) {
            federated::verify(st, app, assertion)?;
            "federated"
        } else {
            check_assertion(st, tenant, tenant_seg, app, assertion)?;
            "certificate"
        }
    } else if let Some(secret) = get("client_secret")
        .map(str::to_string)
        .or_else(|| basic.map(|(_, s)| s))
    {
        check_secret(app, &secret)?;
        "secret"
    } else {
        return Err(EntraError::invalid_client(
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };

    let resource = check_scope(st, tenant, scope)?;
    if app.conditional_access_blocked {
        return Err(EntraError::invalid_request(
            53003,
            "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
        ));
    }

    let now = unix_now();
    let lifetime = st.token_lifetime as i64;
    let mut claims = json!({
        "aud": resource,
        "iss": format!("https://sts.windows.net/{}/", tenant.id),
        "iat": now, "nbf": now, "exp": now + lifetime,
        "aio": new_guid(),
        "app_displayname": app.display_name,
        "appid": app.client_id,
        "appidacr": if credential == "secret" { "1" } else { "2" },
        "idp": format!("https://sts.windows.net/{}/", tenant.id),
        "idtyp": "app",
        "oid": app.object_id(),
        "sub": app.object_id(),
        "tid": tenant.id,
        "uti": crate::util::b64url(uuid::Uuid::new_v4().as_bytes()),
        "ver": "1.0",
    });
    // Only consented roles reach the token; with none the claim is absent (DOC CC).
    if !app.roles.is_empty() {
        claims["roles"] = json!(app.roles);
    }
    let access_token = st.keys.sign_jwt(&claims).map_err(|e| {
        EntraError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            90033,
            format!("Signing failed: {e}"),
        )
    })?;
    st.records.add_token(TokenRecord {
        tenant_id: tenant.id.clone(),
        app_id: app.client_id.clone(),
        credential: credential.to_string(),
        issued_at: rfc3339(crate::util::now()),
        claims,
    });
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access_token,
    });
    if let Some(refresh_in) = st.token_refresh_in {
        body["refresh_in"] = json!(refresh_in);
    }
    let mut resp = (StatusCode::OK, json_body(&body)).into_response();
    sts_headers(resp.headers_mut(), &new_guid());
    Ok(resp)
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    // RFC 6749 2.3.1: both parts are form-urlencoded before base64.
    let dec = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .ok()
    };
    Some((dec(id)?, dec(secret)?))
}

fn check_secret(app: &App, secret: &str) -> Result<(), EntraError> {
    let matching = app
        .secrets
        .iter()
        .find(|s| constant_eq(s.value.as_bytes(), secret.as_bytes()));
    match matching {
        None => Err(EntraError::invalid_client(
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                app.client_id
            ),
        )),
        Some(s) => {
            let expired = s
                .expires
                .as_deref()
                .and_then(parse_rfc3339)
                .is_some_and(|t| t <= crate::util::now());
            if expired {
                Err(EntraError::invalid_client(
                    7000222,
                    format!(
                        "The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.",
                        app.client_id
                    ),
                ))
            } else {
                Ok(())
            }
        }
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn check_assertion(
    st: &AppState,
    tenant: &Tenant,
    seg: &str,
    app: &App,
    assertion: &str,
) -> Result<(), EntraError> {
    let mut audiences = Vec::new();
    for base in st.base_aliases() {
        for t in [seg, tenant.id.as_str()]
            .into_iter()
            .chain(tenant.domains.iter().map(String::as_str))
        {
            audiences.push(format!("{base}/{t}/oauth2/v2.0/token"));
            audiences.push(format!("{base}/{t}/oauth2/token"));
        }
    }
    let certs = st
        .certs
        .get(&app.client_id.to_ascii_lowercase())
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let verified = assertion::verify(
        assertion,
        &assertion::Expect {
            client_id: &app.client_id,
            audiences: &audiences,
            certs,
            skew: st.clock_skew,
        },
    )?;
    if let Some(jti) = verified.jti {
        let mut seen = st.jti_seen.lock();
        let now = unix_now();
        seen.retain(|_, exp| *exp + st.clock_skew >= now);
        let key = format!("{}:{jti}", app.client_id.to_ascii_lowercase());
        if seen.contains_key(&key) {
            return Err(EntraError::invalid_client(
                50013,
                format!(
                    "Assertion failed signature validation. [Reason - The provided client assertion was already used (jti '{jti}' replayed).]"
                ),
            ));
        }
        seen.insert(key, verified.exp);
    }
    Ok(())
}

/// Client credentials take exactly `<resource>/.default`; the resource must be this tenant
/// cloud's Graph (or the emulator itself). Returns the `aud` for the token.
fn check_scope(st: &AppState, tenant: &Tenant, scope: &str) -> Result<String, EntraError> {
    let scopes: Vec<&str> = scope
        .split_whitespace()
        .filter(|s| !matches!(*s, "openid" | "profile" | "offline_access"))
        .collect();
    let invalid = || {
        EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        )
    };
    let [single] = scopes.as_slice() else {
        return Err(invalid());
    };
    let resource = single.strip_suffix("/.default").ok_or_else(invalid)?;
    let trimmed = resource.trim_end_matches('/');
    let graph = tenant.cloud.graph_resource();
    if trimmed.eq_ignore_ascii_case(graph) || trimmed.eq_ignore_ascii_case(GRAPH_APP_ID) {
        return Ok(trimmed.to_string());
    }
    if st
        .base_aliases()
        .iter()
        .any(|b| trimmed.eq_ignore_ascii_case(b))
    {
        return Ok(st.base_url.clone());
    }
    Err(EntraError::new(
        StatusCode::BAD_REQUEST,
        "invalid_resource",
        500011,
        format!(
            "The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
            tenant.id
        ),
    ))
}

fn discovery_error(e: EntraError, headers: &HeaderMap, ids: &RequestIds) -> Response {
    e.render(&correlation(headers, ids))
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration` (and the v1 form).
pub(crate) async fn openid_configuration(
    State(st): State<Arc<AppState>>,
    Path(seg): Path<String>,
    Extension(ids): Extension<RequestIds>,
    headers: HeaderMap,
) -> Response {
    let tenant_id = match seg.to_ascii_lowercase().as_str() {
        "common" | "organizations" | "consumers" => "{tenantid}".to_string(),
        _ => match resolve_tenant(&st, &seg) {
            Ok(t) => t.id.clone(),
            Err(e) => return discovery_error(e, &headers, &ids),
        },
    };
    let b = &st.base_url;
    let host = st.host();
    Json(json!({
        "token_endpoint": format!("{b}/{seg}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{b}/{seg}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{b}/{tenant_id}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{b}/oidc/userinfo"),
        "authorization_endpoint": format!("{b}/{seg}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{b}/{seg}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{b}/{seg}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid", "ver"],
        "kerberos_endpoint": format!("{b}/{seg}/kerberos"),
        "tenant_region_scope": "WW",
        "cloud_instance_name": host,
        "cloud_graph_host_name": host,
        "msgraph_host": host,
        "rbac_url": b,
    }))
    .into_response()
}

/// `GET /common/discovery/instance?api-version=1.1&authorization_endpoint=…` — MSAL's
/// instance discovery. The emulator is its own (only) alias.
pub(crate) async fn instance_discovery(
    State(st): State<Arc<AppState>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let auth_ep = q
        .iter()
        .find(|(k, _)| k == "authorization_endpoint")
        .map(|(_, v)| v.clone());
    // The tenant is the first path segment of the authorization endpoint, if one was given.
    let tenant = auth_ep
        .as_deref()
        .and_then(|u| u.split_once("://").map(|(_, r)| r))
        .and_then(|r| r.split('/').nth(1))
        .filter(|t| !t.is_empty())
        .unwrap_or("common")
        .to_string();
    let host = st.host();
    Json(json!({
        "tenant_discovery_endpoint": format!("{}/{tenant}/v2.0/.well-known/openid-configuration", st.base_url),
        "api-version": "1.1",
        "metadata": [{
            "preferred_network": host,
            "preferred_cache": host,
            "aliases": [host],
        }],
    }))
    .into_response()
}

/// `GET /{tenant}/discovery/v2.0/keys`.
pub(crate) async fn jwks(State(st): State<Arc<AppState>>) -> Response {
    let v: Value = st.keys.jwks(&format!("{}/{{tenantid}}/v2.0", st.base_url));
    Json(v).into_response()
}
