using System;
using System.Collections.Generic;

namespace PmpMail.Interop;

/// <summary>
/// A pmp-mail failure. Carries the native status and the parsed error document (message, remedy,
/// AADSTS or Graph code, request ids). Subclasses mark the category so hosts can catch what they handle.
/// </summary>
public class PmpMailException : Exception
{
    /// <summary>Creates an exception from a native status and its error document.</summary>
    public PmpMailException(PmpStatus status, PmpErrorDetail? detail, Exception? innerException = null)
        : base(ComposeMessage(status, detail), innerException)
    {
        Status = status;
        Detail = detail ?? new PmpErrorDetail { Status = (uint)status, StatusName = StatusNameOf(status) };
    }

    /// <summary>The native status code.</summary>
    public PmpStatus Status { get; }

    /// <summary>The native error document (never null; minimal when the library gave none).</summary>
    public PmpErrorDetail Detail { get; }

    /// <summary>What to do about it, from the native library.</summary>
    public string? Remedy => Detail.Remedy;

    /// <summary>The error category name from the document (e.g. "permission").</summary>
    public string Category => Detail.Category ?? CategoryOf(Status);

    /// <summary>Maps a status code and error document to the matching exception type (the single table).</summary>
    public static PmpMailException Create(PmpStatus status, PmpErrorDetail? detail, Exception? innerException = null) => status switch
    {
        PmpStatus.NullParameter or PmpStatus.InvalidArgument or PmpStatus.InvalidConfig => new PmpMailInvalidArgumentException(status, detail, innerException),
        PmpStatus.AuthenticationFailed => new PmpMailAuthenticationException(status, detail, innerException),
        PmpStatus.PermissionDenied => new PmpMailPermissionException(status, detail, innerException),
        PmpStatus.GraphError => new PmpMailGraphException(status, detail, innerException),
        PmpStatus.Throttled => new PmpMailThrottledException(status, detail, innerException),
        PmpStatus.Network => new PmpMailNetworkException(status, detail, innerException),
        PmpStatus.OutcomeUnknown => new PmpMailOutcomeUnknownException(status, detail, innerException),
        PmpStatus.Attachment => new PmpMailAttachmentException(status, detail, innerException),
        PmpStatus.Credential => new PmpMailCredentialException(status, detail, innerException),
        PmpStatus.Signer => new PmpMailSignerException(status, detail, innerException),
        PmpStatus.RequestTooLarge => new PmpMailRequestTooLargeException(status, detail, innerException),
        PmpStatus.Cancelled => new PmpMailCancelledException(status, detail, innerException),
        _ => new PmpMailException(status, detail, innerException),
    };

    /// <summary>
    /// The C header's name of a status (<c>pmp_status_name</c>), so a minimal detail reads like one the library wrote.
    /// Only when the library itself cannot be loaded is the name spelled here (<see cref="FallbackStatusName"/>):
    /// an exception must not fail to construct.
    /// </summary>
    internal static string StatusNameOf(PmpStatus status)
    {
        try
        {
            return PmpMailClient.StatusName(status);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return FallbackStatusName(status);
        }
    }

    /// <summary>
    /// The header's name of a status, written out as <c>pmp_status_name</c> (src/error.rs) spells it, for when the
    /// library cannot be loaded: a table, not a rule derived from the enum's names, so every name is the header's
    /// (PMP_STATUS_NULL_PARAMETER) and a number this version does not know is PMP_STATUS_UNKNOWN, as natively.
    /// </summary>
    internal static string FallbackStatusName(PmpStatus status) => status switch
    {
        PmpStatus.Ok => "PMP_STATUS_OK",
        PmpStatus.NullParameter => "PMP_STATUS_NULL_PARAMETER",
        PmpStatus.InvalidArgument => "PMP_STATUS_INVALID_ARGUMENT",
        PmpStatus.InvalidConfig => "PMP_STATUS_INVALID_CONFIG",
        PmpStatus.AuthenticationFailed => "PMP_STATUS_AUTHENTICATION_FAILED",
        PmpStatus.PermissionDenied => "PMP_STATUS_PERMISSION_DENIED",
        PmpStatus.GraphError => "PMP_STATUS_GRAPH_ERROR",
        PmpStatus.Throttled => "PMP_STATUS_THROTTLED",
        PmpStatus.Network => "PMP_STATUS_NETWORK",
        PmpStatus.OutcomeUnknown => "PMP_STATUS_OUTCOME_UNKNOWN",
        PmpStatus.Attachment => "PMP_STATUS_ATTACHMENT",
        PmpStatus.Credential => "PMP_STATUS_CREDENTIAL",
        PmpStatus.Signer => "PMP_STATUS_SIGNER",
        PmpStatus.Panic => "PMP_STATUS_PANIC",
        PmpStatus.Internal => "PMP_STATUS_INTERNAL",
        PmpStatus.RequestTooLarge => "PMP_STATUS_REQUEST_TOO_LARGE",
        PmpStatus.Cancelled => "PMP_STATUS_CANCELLED",
        _ => "PMP_STATUS_UNKNOWN",
    };

    private static string CategoryOf(PmpStatus status) => status switch
    {
        PmpStatus.NullParameter or PmpStatus.InvalidArgument => "invalidArgument",
        PmpStatus.InvalidConfig => "config",
        PmpStatus.AuthenticationFailed => "authentication",
        PmpStatus.PermissionDenied => "permission",
        PmpStatus.GraphError => "graph",
        PmpStatus.Throttled => "throttled",
        PmpStatus.Network => "network",
        PmpStatus.OutcomeUnknown => "outcomeUnknown",
        PmpStatus.Attachment => "attachment",
        PmpStatus.Credential => "credential",
        PmpStatus.Signer => "signer",
        PmpStatus.RequestTooLarge => "requestTooLarge",
        PmpStatus.Cancelled => "cancelled",
        _ => "internal",
    };

    private static string ComposeMessage(PmpStatus status, PmpErrorDetail? detail)
    {
        string message = string.IsNullOrWhiteSpace(detail?.Message) ? $"pmp-mail failed with {status}." : detail!.Message!;
        return string.IsNullOrWhiteSpace(detail?.Remedy) ? message : message + " Remedy: " + detail!.Remedy;
    }
}

/// <summary>A document, option or argument was rejected (INVALID_ARGUMENT, INVALID_CONFIG, NULL_PARAMETER).</summary>
public sealed class PmpMailInvalidArgumentException(PmpStatus status, PmpErrorDetail? detail, Exception? innerException = null)
    : PmpMailException(status, detail, innerException);

/// <summary>Entra ID refused the credentials (see <see cref="PmpErrorDetail.Aadsts"/>).</summary>
public sealed class PmpMailAuthenticationException(PmpStatus status, PmpErrorDetail? detail, Exception? innerException = null)
    : PmpMailException(status, detail, innerException)
{
    /// <summary>The AADSTS number, when Entra ID gave one.</summary>
    public long? Aadsts => Detail.Aadsts;
}

/// <summary>Graph refused for lack of permission (403, e.g. ErrorAccessDenied or an application access policy).</summary>
public sealed class PmpMailPermissionException(PmpStatus status, PmpErrorDetail? detail, Exception? innerException = null)
    : PmpMailException(status, detail, innerException);

/// <summary>Graph answered with an error other than permission (e.g. 404 ErrorInvalidUser).</summary>
public sealed class PmpMailGraphException(PmpStatus status, PmpErrorDetail? detail, Exception? innerException = null)
    : PmpMailException(status, detail, innerException);

/// <summary>Throttled (429/503) after the configured retries.</summary>
public sealed class PmpMailThrottledException(PmpStatus status, PmpErrorDetail? detail, Exception? innerException = null)
    : PmpMailException(status, detail, innerException)
{
    /// <summary>The Retry-After Graph asked for.</summary>
    public TimeSpan? RetryAfter => Detail.RetryAfterSeconds is double s ? TimeSpan.FromSeconds(s) : null;
}

/// <summary>The network failed before the request was accepted: safe to retry.</summary>
public sealed class PmpMailNetworkException(PmpStatus status, PmpErrorDetail? detail, Exception? innerException = null)
    : PmpMailException(status, detail, innerException);

/// <summary>The message may or may not have been sent (the connection broke after the request was sent).</summary>
public sealed class PmpMailOutcomeUnknownException(PmpStatus status, PmpErrorDetail? detail, Exception? innerException = null)
    : PmpMailException(status, detail, innerException);

/// <summary>An attachment could not be read or uploaded.</summary>
public sealed class PmpMailAttachmentException(PmpStatus status, PmpErrorDetail? detail, Exception? innerException = null)
    : PmpMailException(status, detail, innerException);

/// <summary>The credential (secret, certificate or key) is unusable.</summary>
public sealed class PmpMailCredentialException(PmpStatus status, PmpErrorDetail? detail, Exception? innerException = null)
    : PmpMailException(status, detail, innerException);

/// <summary>The host signer (certificate private key) failed; the inner exception says why.</summary>
public sealed class PmpMailSignerException(PmpStatus status, PmpErrorDetail? detail, Exception? innerException = null)
    : PmpMailException(status, detail, innerException);

/// <summary>Graph, or a proxy or gateway on the way, refused a request as too large (HTTP 413); nothing was sent.</summary>
public sealed class PmpMailRequestTooLargeException(PmpStatus status, PmpErrorDetail? detail, Exception? innerException = null)
    : PmpMailException(status, detail, innerException);

/// <summary>
/// <see cref="PmpMailClient.CreateWithCertificateThumbprint"/> (or <see cref="CertificateLocator.FindByThumbprint(string)"/>)
/// found no certificate with that thumbprint and a private key. Raised in this process before the native
/// library is called; its status is <see cref="PmpStatus.Credential"/>.
/// </summary>
public sealed class PmpMailCertificateNotFoundException : PmpMailException
{
    /// <summary>Creates the exception for a normalized thumbprint and the stores searched, each with what was found there.</summary>
    public PmpMailCertificateNotFoundException(string thumbprint, IReadOnlyList<string> searchedStores)
        : base(PmpStatus.Credential, Describe(thumbprint, searchedStores))
    {
        Thumbprint = thumbprint;
        SearchedStores = searchedStores;
    }

    /// <summary>The thumbprint looked for, normalized (hexadecimal digits, upper case).</summary>
    public string Thumbprint { get; }

    /// <summary>Each store searched with what was found there, e.g. <c>CurrentUser\My (not found)</c>.</summary>
    public IReadOnlyList<string> SearchedStores { get; }

    private static PmpErrorDetail Describe(string thumbprint, IReadOnlyList<string> searchedStores) => new()
    {
        Status = (uint)PmpStatus.Credential,
        StatusName = StatusNameOf(PmpStatus.Credential),
        Category = "credential",
        Message = $"No certificate with thumbprint {thumbprint} and a private key was found. Searched: {string.Join("; ", searchedStores)}.",
        Remedy = @"Import the certificate with its private key into CurrentUser\My or LocalMachine\My of the account that runs this process.",
    };
}

/// <summary>
/// The caller cancelled the operation (a <see cref="System.Threading.CancellationToken"/>, Ctrl+C) while it waited to
/// retry; no request was abandoned in flight. A <see cref="PmpMailException"/> rather than an
/// <see cref="OperationCanceledException"/>, so that it keeps the error document: check <see cref="Outcome"/> —
/// <c>unknown</c> when an earlier attempt of the send may have been delivered.
/// </summary>
public sealed class PmpMailCancelledException(PmpStatus status, PmpErrorDetail? detail, Exception? innerException = null)
    : PmpMailException(status, detail, innerException)
{
    /// <summary><c>failed</c> (nothing was sent) or <c>unknown</c> (an earlier attempt may have been delivered).</summary>
    public string? Outcome => Detail.Outcome;
}
