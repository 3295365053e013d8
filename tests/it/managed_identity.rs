//! Managed identity (App Service, IMDS, Azure Arc) and workload identity federation against the
//! emulator. Endpoints are given through config fields, never through the process environment
//! (this binary runs tests on many threads).

use std::time::{Duration, Instant};

use crate::common::*;
use pmp_graph_emulator::{Directory, Emulator, EmulatorOptions};
use pmp_mail::permission::PermissionState;
use pmp_mail::{PermissionOptions, Status};
use serde_json::{Value, json};

/// The host's system-assigned identity (Mail.Send).
const MI_SYSTEM: &str = "a0000000-0000-0000-0000-000000000001";
const MI_SYSTEM_OID: &str = "a0000000-0000-0000-0000-0000000000a1";
/// A user-assigned identity with Mail.Send and a federated credential.
pub(crate) const MI_USER: &str = "b0000000-0000-0000-0000-000000000001";
const MI_USER_OID: &str = "b0000000-0000-0000-0000-0000000000b1";
const MI_USER_RES: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/sender";
/// A user-assigned identity without roles.
const MI_NO_ROLES: &str = "c0000000-0000-0000-0000-000000000001";
const MI_NO_ROLES_OID: &str = "c0000000-0000-0000-0000-0000000000c1";
const ISSUER: &str = "https://oidc.cluster.example.test/5f3c";
const SUBJECT: &str = "system:serviceaccount:mail:sender";
const AUDIENCE: &str = "api://AzureADTokenExchange";

pub(crate) fn start() -> Emulator {
    start_with(|_| {})
}

fn start_with(configure: impl FnOnce(&mut EmulatorOptions)) -> Emulator {
    let mut dir = directory_json(None);
    dir["managedIdentities"] = json!([
        {"tenant": TENANT, "kind": "system", "clientId": MI_SYSTEM, "objectId": MI_SYSTEM_OID,
         "displayName": "patch-host", "roles": ["Mail.Send"]},
        {"tenant": TENANT, "kind": "user", "clientId": MI_USER, "objectId": MI_USER_OID,
         "resourceId": MI_USER_RES, "displayName": "sender", "roles": ["Mail.Send"],
         "federatedCredentials": [{"name": "aks", "issuer": ISSUER, "subject": SUBJECT}]},
        {"tenant": TENANT, "kind": "user", "clientId": MI_NO_ROLES, "objectId": MI_NO_ROLES_OID,
         "resourceId": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/idle",
         "displayName": "idle", "roles": []},
    ]);
    let directory = Directory::from_json_str(&dir.to_string()).unwrap();
    let mut options = EmulatorOptions::new(directory);
    options.strict = true;
    configure(&mut options);
    start_on_a_new_port(options)
}

/// A managed-identity config: no tenant, no clientId; Graph is the emulator.
pub(crate) fn mi_config(emu: &Emulator, auth: Value, endpoints: Value) -> Value {
    json!({
        "auth": auth,
        "graphRoot": emu.base_url(),
        "endpoints": endpoints,
        "http": {"extraCaCertificatesPem": emu.ca_pem(), "useSystemProxy": false, "timeoutSeconds": 30},
        "retry": {"maxAttempts": 3, "maxTotalWaitSeconds": 10},
    })
}

pub(crate) fn app_service(emu: &Emulator) -> Value {
    json!({"identityEndpoint": emu.identity_endpoint(), "identityHeader": emu.identity_header()})
}

pub(crate) fn imds(emu: &Emulator) -> Value {
    json!({"imdsBaseUrl": emu.base_url()})
}

fn send(client: &pmp_mail::Client, subject: &str) -> Result<pmp_mail::SendResult, pmp_mail::Error> {
    client.send_mail(&message(json!({
        "from": MAILBOX, "to": ["ann@contoso.com"], "subject": subject, "body": "hello",
    })))
}

fn report(client: &pmp_mail::Client) -> pmp_mail::PermissionReport {
    client
        .test_permissions(&PermissionOptions::default())
        .unwrap()
}

#[test]
fn app_service_system_assigned_sends_mail() {
    let emu = start();
    let client = client_from(mi_config(
        &emu,
        json!({"type": "managedIdentity"}),
        app_service(&emu),
    ));
    send(&client, "via app service").unwrap();
    let messages = emu.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].app_id, MI_SYSTEM);
    let tokens = emu.tokens();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].credential, "managedIdentity:appService");
    assert_eq!(tokens[0].claims["aud"], "https://graph.microsoft.com");
    // The request carried the header (redacted in the log) and the 2019-08-01 protocol.
    let request = emu
        .requests()
        .into_iter()
        .find(|r| r.path.starts_with("/MSI/token"))
        .unwrap();
    assert_eq!(request.status, 200);
    // A second send uses the cached token.
    send(&client, "again").unwrap();
    assert_eq!(emu.tokens().len(), 1);
    let r = report(&client);
    assert!(r.authenticated);
    assert_eq!(r.app_id.as_deref(), Some(MI_SYSTEM));
    assert_eq!(r.permissions[0].status, PermissionState::Granted);
}

#[test]
fn imds_system_assigned_sends_mail() {
    let emu = start();
    let client = client_from(mi_config(
        &emu,
        json!({"type": "managedIdentity", "source": "imds"}),
        imds(&emu),
    ));
    send(&client, "via imds").unwrap();
    assert_eq!(emu.messages()[0].app_id, MI_SYSTEM);
    assert_eq!(emu.tokens()[0].credential, "managedIdentity:imds");
    // Auto-detection without App Service or Arc settings picks IMDS too (its own token cache:
    // the process-wide one would hand it the first client's token).
    let mut auto = mi_config(&emu, json!({"type": "managedIdentity"}), imds(&emu));
    auto["tokenCache"] = json!("client");
    send(&client_from(auto), "auto").unwrap();
    assert_eq!(emu.tokens()[1].credential, "managedIdentity:imds");
}

#[test]
fn user_assigned_by_each_id_form() {
    let emu = start();
    for selector in [
        json!({"clientId": MI_USER}),
        json!({"objectId": MI_USER_OID}),
        json!({"resourceId": MI_USER_RES}),
    ] {
        for (endpoints, source) in [(app_service(&emu), "appService"), (imds(&emu), "imds")] {
            let mut auth = json!({"type": "managedIdentity", "source": source});
            auth.as_object_mut()
                .unwrap()
                .extend(selector.as_object().unwrap().clone());
            let client = client_from(mi_config(&emu, auth, endpoints));
            let r = report(&client);
            assert!(r.authenticated, "{selector} {source}: {r:?}");
            assert_eq!(r.app_id.as_deref(), Some(MI_USER), "{selector} {source}");
            send(&client, "user-assigned").unwrap();
        }
    }
    assert!(emu.messages().iter().all(|m| m.app_id == MI_USER));
    assert_eq!(emu.messages().len(), 6);
}

#[test]
fn unknown_identity_says_it_is_not_assigned() {
    let emu = start();
    for (endpoints, source) in [(app_service(&emu), "appService"), (imds(&emu), "imds")] {
        let client = client_from(mi_config(
            &emu,
            json!({"type": "managedIdentity", "source": source, "clientId": "d0000000-0000-0000-0000-000000000009"}),
            endpoints,
        ));
        let e = send(&client, "nope").unwrap_err();
        assert_eq!(e.status, Status::AuthenticationFailed, "{source}: {e:?}");
        assert!(
            e.message.contains("not available on this resource"),
            "{}",
            e.message
        );
        let remedy = e.remedy.as_deref().unwrap();
        assert!(
            remedy.contains("d0000000-0000-0000-0000-000000000009 is not assigned"),
            "{remedy}"
        );
        assert_eq!(e.http_status, Some(400));
    }
    assert!(emu.messages().is_empty());
}

#[test]
fn identity_without_mail_send_gets_the_grant_commands() {
    let emu = start();
    let client = client_from(mi_config(
        &emu,
        json!({"type": "managedIdentity", "clientId": MI_NO_ROLES}),
        app_service(&emu),
    ));
    let r = report(&client);
    assert!(r.authenticated, "{r:?}");
    assert_eq!(r.permissions[0].status, PermissionState::Missing);
    let grant = r
        .warnings
        .iter()
        .find(|w| w.contains("New-MgServicePrincipalAppRoleAssignment"))
        .unwrap_or_else(|| panic!("{:?}", r.warnings));
    assert!(grant.contains(&format!(
        "-ServicePrincipalId {MI_NO_ROLES_OID} -PrincipalId {MI_NO_ROLES_OID} -ResourceId $graph.Id -AppRoleId b633e1c5-b582-4048-a93e-9f11b44c7e96"
    )), "{grant}");
    assert!(grant.contains(&format!(
        "az rest -m POST -u https://graph.microsoft.com/v1.0/servicePrincipals/{MI_NO_ROLES_OID}/appRoleAssignments"
    )), "{grant}");
    assert!(
        grant.contains("00000003-0000-0000-c000-000000000000"),
        "{grant}"
    );
    assert!(
        !r.warnings.iter().any(|w| w.contains("grant admin consent")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn no_imds_fails_quickly_with_a_clear_error() {
    // A loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = json!({
        "auth": {"type": "managedIdentity", "source": "imds"},
        "endpoints": {"imdsBaseUrl": format!("http://127.0.0.1:{port}")},
        "http": {"useSystemProxy": false},
    });
    let client = client_from(config);
    let started = Instant::now();
    let e = send(&client, "nowhere").unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(e.status, Status::Network, "{e:?}");
    assert!(
        e.message
            .contains("no answer from the IMDS managed-identity endpoint"),
        "{}",
        e.message
    );
    assert!(
        e.remedy
            .as_deref()
            .unwrap()
            .contains("does not look like an Azure VM")
    );
    assert_eq!(e.attempts, Some(1));
}

#[test]
fn arc_challenge_key_file_in_the_key_directory() {
    let emu = start();
    let endpoints = json!({
        "identityEndpoint": emu.arc_identity_endpoint(),
        "imdsEndpoint": emu.base_url(),
        "arcKeyDirectory": emu.arc_key_dir().to_string_lossy(),
    });
    let client = client_from(mi_config(
        &emu,
        json!({"type": "managedIdentity"}),
        endpoints,
    ));
    send(&client, "via arc").unwrap();
    assert_eq!(emu.tokens()[0].credential, "managedIdentity:arc");
    assert_eq!(emu.messages()[0].app_id, MI_SYSTEM);
}

#[test]
fn arc_key_file_outside_the_key_directory_is_refused() {
    let emu = start();
    let elsewhere = std::env::temp_dir().join(format!("pmp-arc-{}", uuid_like()));
    std::fs::create_dir_all(&elsewhere).unwrap();
    let endpoints = json!({
        "identityEndpoint": emu.arc_identity_endpoint(),
        "imdsEndpoint": emu.base_url(),
        "arcKeyDirectory": elsewhere.to_string_lossy(),
    });
    let client = client_from(mi_config(
        &emu,
        json!({"type": "managedIdentity"}),
        endpoints,
    ));
    let e = send(&client, "arc").unwrap_err();
    assert_eq!(e.status, Status::AuthenticationFailed, "{e:?}");
    assert!(
        e.message.contains("outside the agent's key directory"),
        "{}",
        e.message
    );
    assert!(emu.tokens().is_empty());
    std::fs::remove_dir_all(&elsewhere).unwrap();
}

fn uuid_like() -> String {
    format!(
        "{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// A workload-identity config reading `token_file`.
fn wi_config(emu: &Emulator, token_file: &std::path::Path) -> Value {
    let mut config = config_json(
        emu,
        MI_USER,
        json!({"type": "workloadIdentity", "tokenFile": token_file.to_string_lossy()}),
    );
    config["tokenRefreshMarginSeconds"] = json!(0);
    config
}

fn token_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pmp-wi-{name}-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("azure-identity-token")
}

#[test]
fn workload_identity_sends_and_picks_up_a_rotated_file() {
    let emu = start();
    let path = token_file("rotate");
    std::fs::write(
        &path,
        emu.federated_token(ISSUER, SUBJECT, AUDIENCE, 3600)
            .unwrap(),
    )
    .unwrap();
    let client = client_from(wi_config(&emu, &path));
    send(&client, "federated").unwrap();
    assert_eq!(emu.messages()[0].app_id, MI_USER);
    assert_eq!(emu.tokens()[0].credential, "federated");
    // The file is rotated: an expired token replaced by a fresh one; the next token request
    // reads the new file.
    std::fs::write(
        &path,
        emu.federated_token(ISSUER, SUBJECT, AUDIENCE, -3600)
            .unwrap(),
    )
    .unwrap();
    let r = client
        .test_permissions(&PermissionOptions {
            force_refresh: true,
            ..Default::default()
        })
        .unwrap();
    assert!(!r.authenticated);
    let e = r.error.unwrap();
    assert_eq!(e.aadsts, Some(700024), "{e:?}");
    assert!(e.message.contains("not refreshed"), "{}", e.message);
    std::fs::write(
        &path,
        emu.federated_token(ISSUER, SUBJECT, AUDIENCE, 3600)
            .unwrap(),
    )
    .unwrap();
    let r = client
        .test_permissions(&PermissionOptions {
            force_refresh: true,
            ..Default::default()
        })
        .unwrap();
    assert!(r.authenticated, "{r:?}");
    assert_eq!(emu.tokens().len(), 2);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn workload_identity_wrong_subject_names_the_fix() {
    let emu = start();
    let path = token_file("subject");
    let token = emu
        .federated_token(ISSUER, "system:serviceaccount:mail:other", AUDIENCE, 3600)
        .unwrap();
    std::fs::write(&path, token).unwrap();
    let client = client_from(wi_config(&emu, &path));
    let e = send(&client, "federated").unwrap_err();
    assert_eq!(e.status, Status::AuthenticationFailed, "{e:?}");
    assert_eq!(e.aadsts, Some(700213));
    assert!(e.message.contains("subject"), "{}", e.message);
    let remedy = e.remedy.as_deref().unwrap();
    assert!(
        remedy.contains("system:serviceaccount:<namespace>:<service account name>"),
        "{remedy}"
    );
    assert!(
        remedy.contains("az identity federated-credential create"),
        "{remedy}"
    );
    assert!(emu.messages().is_empty());
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn workload_identity_missing_file_is_a_credential_error() {
    let emu = start();
    let path = token_file("missing").with_file_name("absent");
    let client = client_from(wi_config(&emu, &path));
    let e = send(&client, "federated").unwrap_err();
    assert_eq!(e.status, Status::Credential, "{e:?}");
    assert!(e.message.contains("auth.tokenFile"), "{}", e.message);
    assert!(emu.tokens().is_empty());
}

fn faults(plan: Value) -> pmp_graph_emulator::FaultPlan {
    serde_json::from_value(plan).unwrap()
}

/// IMDS retry guidance: 410 (IMDS updating; retried every 10 s) and 500 are retried within the
/// retry budget; a 400 is not.
#[test]
fn imds_unavailability_is_retried_within_the_budget() {
    let emu = start();
    emu.set_faults(faults(json!({"rules": [
        {"path": "managedIdentity", "action": "status", "status": 410, "count": 1},
        {"path": "managedIdentity", "action": "status", "status": 500, "count": 1},
    ]})));
    let mut config = mi_config(
        &emu,
        json!({"type": "managedIdentity", "source": "imds"}),
        imds(&emu),
    );
    config["retry"]["maxTotalWaitSeconds"] = json!(20);
    let client = client_from(config);
    let r = report(&client);
    assert!(r.authenticated, "{r:?}");
    assert!(
        r.log
            .iter()
            .any(|l| l.contains("HTTP 410") && l.contains("retrying in 10000 ms")),
        "{:?}",
        r.log
    );
    assert!(
        r.log.iter().any(|l| l.contains("3 attempt(s)")),
        "{:?}",
        r.log
    );
    // Out of budget: the last answer is diagnosed as the endpoint's unavailability.
    emu.set_faults(faults(json!({"rules": [
        {"path": "managedIdentity", "action": "status", "status": 503, "count": 10},
    ]})));
    let e = client
        .test_permissions(&PermissionOptions {
            force_refresh: true,
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.status, Status::GraphError, "{e:?}");
    assert!(
        e.message
            .contains("IMDS managed-identity endpoint is unavailable"),
        "{}",
        e.message
    );
    assert_eq!(e.attempts, Some(3));
}

/// What the host's assertion callback returns and what it was asked for.
struct HostAssertion {
    token: String,
    asked: std::sync::Mutex<Vec<(String, String)>>,
}

/// A `pmp_assertion_callback`: writes `HostAssertion::token`; records the request.
unsafe extern "C" fn host_assertion(
    userdata: *mut std::ffi::c_void,
    params: *const pmp_mail::ffi::pmp_assertion_params,
    out: *mut u8,
    capacity: usize,
    len_out: *mut usize,
) -> u32 {
    // SAFETY: the library passes valid params (UTF-8 pointer + length) for the call and a
    // buffer of `capacity` bytes; userdata is the &HostAssertion given at creation.
    unsafe {
        let host = &*(userdata as *const HostAssertion);
        let params = &*params;
        let text = |p: *const u8, n: usize| {
            std::str::from_utf8(std::slice::from_raw_parts(p, n))
                .unwrap()
                .to_owned()
        };
        host.asked.lock().unwrap().push((
            text(params.client_id, params.client_id_len),
            text(params.token_url, params.token_url_len),
        ));
        if host.token.len() > capacity {
            return 3;
        }
        std::ptr::copy_nonoverlapping(host.token.as_ptr(), out, host.token.len());
        *len_out = host.token.len();
    }
    0
}

unsafe extern "C" fn refusing_assertion(
    _: *mut std::ffi::c_void,
    _: *const pmp_mail::ffi::pmp_assertion_params,
    _: *mut u8,
    _: usize,
    _: *mut usize,
) -> u32 {
    17
}

/// `pmp_client_new_with_assertion_callback`; returns the status and the handle.
fn assertion_client(
    config: &Value,
    callback: pmp_mail::ffi::pmp_assertion_callback,
    host: *const HostAssertion,
) -> (pmp_mail::ffi::pmp_status, *mut pmp_mail::ffi::pmp_client) {
    let text = config.to_string();
    let mut client = std::ptr::null_mut();
    // SAFETY: the text outlives the call; the caller keeps `host` alive until the client is freed.
    let status = unsafe {
        pmp_mail::ffi::pmp_client_new_with_assertion_callback(
            text.as_ptr(),
            text.len(),
            callback,
            host as *mut std::ffi::c_void,
            &mut client,
        )
    };
    (status, client)
}

/// `pmp_test_permissions` on a handle; the report, or the last error document.
fn ffi_report(client: *mut pmp_mail::ffi::pmp_client) -> (pmp_mail::ffi::pmp_status, Value) {
    use pmp_mail::ffi::*;
    let mut out: *mut std::ffi::c_char = std::ptr::null_mut();
    // SAFETY: client is a live handle; `out` is a valid local; strings are freed once.
    unsafe {
        let status = pmp_test_permissions(client, std::ptr::null(), 0, &mut out);
        if status != pmp_status::Ok {
            assert_eq!(pmp_last_error(&mut out), pmp_status::Ok);
        }
        let text = std::ffi::CStr::from_ptr(out).to_str().unwrap().to_owned();
        pmp_string_free(out);
        (status, serde_json::from_str(&text).unwrap())
    }
}

/// The host's callback supplies the federated token: the library asks with the app's client id
/// and the token endpoint, and Entra accepts it as the client assertion.
#[test]
fn client_assertion_callback_federates() {
    use pmp_mail::ffi::*;
    let emu = start();
    let host = HostAssertion {
        token: emu
            .federated_token(ISSUER, SUBJECT, AUDIENCE, 3600)
            .unwrap(),
        asked: Default::default(),
    };
    let config = config_json(&emu, MI_USER, json!({"type": "clientAssertion"}));
    let (status, client) = assertion_client(&config, Some(host_assertion), &host);
    assert_eq!(status, pmp_status::Ok);
    let (status, report) = ffi_report(client);
    assert_eq!(status, pmp_status::Ok, "{report}");
    assert_eq!(report["authenticated"], true, "{report}");
    assert_eq!(report["appId"], MI_USER);
    // SAFETY: created above, freed once, no call in flight.
    unsafe { pmp_client_free(client) };
    let asked = host.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].0, MI_USER);
    assert_eq!(asked[0].1, emu.token_url(TENANT));
    let tokens = emu.tokens();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].credential, "federated");

    // Without auth the callback is the credential too.
    let mut bare = config.clone();
    bare.as_object_mut().unwrap().remove("auth");
    let (status, client) = assertion_client(&bare, Some(host_assertion), &host);
    assert_eq!(status, pmp_status::Ok);
    assert_eq!(ffi_report(client).1["authenticated"], true);
    // SAFETY: as above.
    unsafe { pmp_client_free(client) };
}

/// A failing callback, a malformed assertion, a NULL callback and the wrong constructor each
/// get their own error, and nothing reaches the token endpoint that should not.
#[test]
fn client_assertion_callback_failures_say_what_to_fix() {
    use pmp_mail::ffi::*;
    let emu = start();
    let config = config_json(&emu, MI_USER, json!({"type": "clientAssertion"}));

    let (status, client) = assertion_client(&config, Some(refusing_assertion), std::ptr::null());
    assert_eq!(status, pmp_status::Ok);
    let (status, error) = ffi_report(client);
    assert_eq!(status, pmp_status::Signer, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("(returned 17)"),
        "{error}"
    );
    // SAFETY: created above, freed once.
    unsafe { pmp_client_free(client) };

    let bearer = HostAssertion {
        token: format!(
            "Bearer {}",
            emu.federated_token(ISSUER, SUBJECT, AUDIENCE, 3600)
                .unwrap()
        ),
        asked: Default::default(),
    };
    let (_, client) = assertion_client(&config, Some(host_assertion), &bearer);
    let (status, error) = ffi_report(client);
    assert_eq!(status, pmp_status::Credential, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("not a JWT")
            && error["remedy"].as_str().unwrap().contains("'Bearer '"),
        "{error}"
    );
    assert!(
        !error.to_string().contains(&bearer.token[7..]),
        "the assertion must not appear in the error"
    );
    // SAFETY: created above, freed once.
    unsafe { pmp_client_free(client) };
    assert!(emu.tokens().is_empty());

    let (status, client) = assertion_client(&config, None, std::ptr::null());
    assert_eq!(status, pmp_status::NullParameter);
    assert!(client.is_null());

    let secret = config_json(
        &emu,
        MI_USER,
        json!({"type": "clientSecret", "secret": "s"}),
    );
    let (status, client) = assertion_client(&secret, Some(refusing_assertion), std::ptr::null());
    assert_eq!(status, pmp_status::InvalidConfig);
    assert!(client.is_null());

    let e = pmp_mail::Client::new(pmp_mail::Config::from_json(&config.to_string()).unwrap())
        .unwrap_err();
    assert_eq!(e.status, Status::InvalidConfig);
    assert!(
        e.message.contains("pmp_client_new_with_assertion_callback"),
        "{}",
        e.message
    );
}

/// The Rust API takes any closure as the provider; an expired federated token is refused by
/// Entra with AADSTS700024 and its remedy, a fresh one is picked up on the next request.
#[test]
fn client_assertion_provider_is_asked_for_every_token() {
    let emu = start();
    let expired = std::sync::atomic::AtomicBool::new(true);
    let fresh = emu
        .federated_token(ISSUER, SUBJECT, AUDIENCE, 3600)
        .unwrap();
    let stale = emu
        .federated_token(ISSUER, SUBJECT, AUDIENCE, -3600)
        .unwrap();
    let expired = std::sync::Arc::new(expired);
    let flag = expired.clone();
    let provider = move |_: &pmp_mail::AssertionRequest<'_>| {
        Ok(pmp_mail::Secret::new(
            if flag.load(std::sync::atomic::Ordering::SeqCst) {
                stale.clone()
            } else {
                fresh.clone()
            },
        ))
    };
    let mut config = config_json(&emu, MI_USER, json!({"type": "clientAssertion"}));
    config["tokenRefreshMarginSeconds"] = json!(0);
    let client = pmp_mail::Client::with_assertion_provider(
        pmp_mail::Config::from_json(&config.to_string()).unwrap(),
        std::sync::Arc::new(provider),
    )
    .unwrap();
    let r = report(&client);
    assert!(!r.authenticated);
    assert_eq!(r.error.unwrap().aadsts, Some(700024));
    expired.store(false, std::sync::atomic::Ordering::SeqCst);
    send(&client, "host assertion").unwrap();
    assert_eq!(emu.messages()[0].app_id, MI_USER);
}
