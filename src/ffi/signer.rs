//! The host signer: a C callback that signs client assertions (Windows certificate store,
//! non-exportable keys, HSMs).

use std::ffi::c_void;

use crate::credential::{AssertionSigner, SignatureAlgorithm};
use crate::error::{Error, Result, Status};

/// `algorithm` value: RSASSA-PKCS1-v1_5 with SHA-256.
pub const PMP_SIGN_ALGORITHM_RS256: u32 = 1;
/// `algorithm` value: RSASSA-PSS with SHA-256, MGF1 SHA-256, salt length 32.
pub const PMP_SIGN_ALGORITHM_PS256: u32 = 2;

/// The largest signature accepted (RSA 8192).
const SIGNATURE_CAPACITY: usize = 1024;

/// Input of one signing request. Valid only during the callback.
#[repr(C)]
pub struct pmp_sign_params {
    /// `PMP_SIGN_ALGORITHM_RS256` or `PMP_SIGN_ALGORITHM_PS256`.
    pub algorithm: u32,
    /// The JWS signing input (ASCII), `data_len` bytes, not NUL-terminated.
    pub data: *const u8,
    pub data_len: usize,
}

/// Signs `params->data` with the certificate's private key.
///
/// Write at most `signature_capacity` bytes to `signature_out`, set `*signature_len_out`, and
/// return 0. Any other return value is a failure (`PMP_STATUS_SIGNER`). May be called on any
/// thread, concurrently; `userdata` must stay valid until the client is freed.
pub type pmp_sign_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        params: *const pmp_sign_params,
        signature_out: *mut u8,
        signature_capacity: usize,
        signature_len_out: *mut usize,
    ) -> u32,
>;

/// A `pmp_sign_callback` that is not NULL, without spelling its signature a second time.
/// (cbindgen cannot write `Option<alias>` as a nullable function pointer, so the header's type
/// is the `Option` and this name is derived from it.)
/// cbindgen:ignore
pub(crate) type pmp_sign_fn = <pmp_sign_callback as super::call::NullableFn>::Fn;

/// The C callback as an [`AssertionSigner`].
pub(crate) struct CallbackSigner {
    callback: pmp_sign_fn,
    userdata: *mut c_void,
}

impl CallbackSigner {
    pub(crate) fn new(callback: pmp_sign_fn, userdata: *mut c_void) -> CallbackSigner {
        CallbackSigner { callback, userdata }
    }
}

// SAFETY: the ABI contract (pmp_sign_callback docs) requires the callback and its userdata to be
// safe to use from any thread, concurrently, for the client's lifetime. We never dereference
// userdata ourselves; we only pass it back to the callback.
unsafe impl Send for CallbackSigner {}
// SAFETY: as above — concurrent calls are part of the callback's documented contract.
unsafe impl Sync for CallbackSigner {}

impl AssertionSigner for CallbackSigner {
    fn sign(&self, algorithm: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>> {
        let params = pmp_sign_params {
            algorithm: match algorithm {
                SignatureAlgorithm::Rs256 => PMP_SIGN_ALGORITHM_RS256,
                SignatureAlgorithm::Ps256 => PMP_SIGN_ALGORITHM_PS256,
            },
            data: data.as_ptr(),
            data_len: data.len(),
        };
        let mut signature = vec![0u8; SIGNATURE_CAPACITY];
        let mut written: usize = 0;
        // SAFETY: params, the output buffer and `written` are live locals for the whole call;
        // the buffer holds SIGNATURE_CAPACITY bytes, which is what we tell the callback.
        let rc = unsafe {
            (self.callback)(
                self.userdata,
                &params,
                signature.as_mut_ptr(),
                signature.len(),
                &mut written,
            )
        };
        if rc != 0 {
            return Err(Error::new(
                Status::Signer,
                format!("the host signer callback failed (returned {rc})"),
            )
            .with_remedy("Check that the host can use the certificate's private key (store access, PIN, HSM availability)."));
        }
        if written == 0 || written > SIGNATURE_CAPACITY {
            return Err(Error::new(
                Status::Signer,
                format!("the host signer reported an invalid signature length ({written})"),
            ));
        }
        signature.truncate(written);
        Ok(signature)
    }
}
