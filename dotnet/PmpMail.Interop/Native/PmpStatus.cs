namespace PmpMail.Interop;

/// <summary>The C ABI's <c>pmp_status</c> codes. Fixed numbers, never reused (contracts §1).</summary>
public enum PmpStatus : uint
{
    /// <summary>Success.</summary>
    Ok = 0,
    /// <summary>A required pointer was NULL.</summary>
    NullParameter = 1,
    /// <summary>A document or value was rejected.</summary>
    InvalidArgument = 2,
    /// <summary>The configuration document was rejected.</summary>
    InvalidConfig = 3,
    /// <summary>Entra ID refused the credentials.</summary>
    AuthenticationFailed = 4,
    /// <summary>Graph refused the request for lack of permission (403).</summary>
    PermissionDenied = 5,
    /// <summary>Graph answered with another error.</summary>
    GraphError = 6,
    /// <summary>Throttled and out of retries.</summary>
    Throttled = 7,
    /// <summary>The network failed before a request was accepted.</summary>
    Network = 8,
    /// <summary>The request may or may not have been carried out.</summary>
    OutcomeUnknown = 9,
    /// <summary>An attachment could not be read or uploaded.</summary>
    Attachment = 10,
    /// <summary>The credential (secret, certificate, key) is unusable.</summary>
    Credential = 11,
    /// <summary>The host signer callback failed.</summary>
    Signer = 12,
    /// <summary>A panic was caught at the boundary.</summary>
    Panic = 13,
    /// <summary>An internal error.</summary>
    Internal = 14,
    /// <summary>Graph, or a proxy or gateway on the way, refused a request as too large (HTTP 413); nothing was sent.</summary>
    RequestTooLarge = 15,
    /// <summary>
    /// The caller cancelled the operation while it waited to retry (or for a token); no request was abandoned in flight.
    /// The outcome is <c>failed</c>, or <c>unknown</c> when an earlier attempt of the send may have been delivered.
    /// </summary>
    Cancelled = 16,
}
