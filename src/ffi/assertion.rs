//! The host's client-assertion callback: the whole assertion comes from the host (a CI system's
//! OIDC token, a token broker, any federation source the library does not read itself).

use std::ffi::c_void;

use zeroize::Zeroizing;

use crate::credential::{AssertionProvider, AssertionRequest, MAX_FEDERATED_TOKEN_BYTES};
use crate::error::{Error, Result, Status};
use crate::secret::Secret;

/// The room the callback gets for the assertion: the largest client assertion accepted.
const ASSERTION_CAPACITY: usize = MAX_FEDERATED_TOKEN_BYTES as usize;

/// Input of one assertion request. Valid only during the callback. Strings are UTF-8, not
/// NUL-terminated.
#[repr(C)]
pub struct pmp_assertion_params {
    /// The client id the token is requested for (the assertion's subject must belong to it).
    pub client_id: *const u8,
    pub client_id_len: usize,
    /// The token endpoint URL: the `aud` of a self-signed assertion. A federated token's
    /// audience is the one its federated credential names (usually `api://AzureADTokenExchange`).
    pub token_url: *const u8,
    pub token_url_len: usize,
}

/// Writes a client assertion (a JWT, ASCII) for `params` to `assertion_out`.
///
/// Write at most `assertion_capacity` bytes (64 KiB), set `*assertion_len_out`, and return 0.
/// Any other return value is a failure (`PMP_STATUS_SIGNER`, whose message carries the value).
/// Called for every token request, on library threads, possibly concurrently; `userdata` must
/// stay valid until the client is freed. The library zeroes its copy after use.
pub type pmp_assertion_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        params: *const pmp_assertion_params,
        assertion_out: *mut u8,
        assertion_capacity: usize,
        assertion_len_out: *mut usize,
    ) -> u32,
>;

/// A `pmp_assertion_callback` that is not NULL.
/// cbindgen:ignore
pub(crate) type pmp_assertion_fn = <pmp_assertion_callback as super::call::NullableFn>::Fn;

/// The C callback as an [`AssertionProvider`].
pub(crate) struct CallbackAssertion {
    callback: pmp_assertion_fn,
    userdata: *mut c_void,
}

impl CallbackAssertion {
    pub(crate) fn new(callback: pmp_assertion_fn, userdata: *mut c_void) -> CallbackAssertion {
        CallbackAssertion { callback, userdata }
    }
}

// SAFETY: the ABI contract (pmp_assertion_callback docs) requires the callback and its userdata
// to be safe to use from any thread, concurrently, for the client's lifetime. We never
// dereference userdata ourselves; we only pass it back to the callback.
unsafe impl Send for CallbackAssertion {}
// SAFETY: as above — concurrent calls are part of the callback's documented contract.
unsafe impl Sync for CallbackAssertion {}

impl AssertionProvider for CallbackAssertion {
    fn assertion(&self, request: &AssertionRequest<'_>) -> Result<Secret> {
        let params = pmp_assertion_params {
            client_id: request.client_id.as_ptr(),
            client_id_len: request.client_id.len(),
            token_url: request.token_url.as_ptr(),
            token_url_len: request.token_url.len(),
        };
        let mut buffer = Zeroizing::new(vec![0u8; ASSERTION_CAPACITY]);
        let mut written: usize = 0;
        // SAFETY: params (borrowing the request's strings), the buffer and `written` are live
        // for the whole call; the buffer holds ASSERTION_CAPACITY bytes, which is what we tell
        // the callback.
        let rc = unsafe {
            (self.callback)(
                self.userdata,
                &params,
                buffer.as_mut_ptr(),
                buffer.len(),
                &mut written,
            )
        };
        if rc != 0 {
            return Err(Error::new(
                Status::Signer,
                format!("the host's client-assertion callback failed (returned {rc})"),
            )
            .with_remedy("Check the source the host takes the assertion from (its OIDC endpoint, token file or broker) is reachable and issues tokens for this app."));
        }
        if written == 0 || written > ASSERTION_CAPACITY {
            return Err(Error::new(
                Status::Signer,
                format!(
                    "the host's client-assertion callback reported an invalid length ({written}; 1 to {ASSERTION_CAPACITY} bytes)"
                ),
            ));
        }
        let text = std::str::from_utf8(&buffer[..written]).map_err(|_| {
            Error::new(
                Status::Signer,
                "the host's client-assertion callback wrote bytes that are not UTF-8",
            )
        })?;
        Ok(Secret::new(text.to_owned()))
    }
}
