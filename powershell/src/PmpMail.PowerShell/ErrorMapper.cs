using System;
using System.Management.Automation;
using PmpMail.Interop;

namespace PmpMail;

/// <summary>
/// The one table from native failures to ErrorRecords: a stable ErrorId (which PowerShell suffixes with the
/// cmdlet class to form FullyQualifiedErrorId), a real ErrorCategory, and the remedy in the message.
/// </summary>
internal static class ErrorMapper
{
    /// <param name="operation">"SendFailed" or "TestFailed": prefixes Graph errors.</param>
    public static ErrorRecord ToErrorRecord(PmpMailException exception, string operation, object? target)
    {
        // The native texts name the C ABI's JSON settings; PowerShell users set them through parameters.
        exception = PowerShellTerms.Translate(exception);
        PmpErrorDetail d = exception.Detail;
        (string id, ErrorCategory category) = exception switch
        {
            PmpMailAuthenticationException => (d.Aadsts is long code ? $"PmpMail.AuthenticationFailed.AADSTS{code}" : "PmpMail.AuthenticationFailed", ErrorCategory.AuthenticationError),
            PmpMailOutcomeUnknownException => ("PmpMail.OutcomeUnknown", ErrorCategory.OperationTimeout),
            PmpMailPermissionException => ($"PmpMail.{operation}.{d.GraphCode ?? "PermissionDenied"}", ErrorCategory.PermissionDenied),
            PmpMailGraphException => ($"PmpMail.{operation}.{d.GraphCode ?? "Http" + d.HttpStatus}", d.HttpStatus == 404 ? ErrorCategory.ObjectNotFound : ErrorCategory.InvalidOperation),
            PmpMailThrottledException => ("PmpMail.Throttled", ErrorCategory.LimitsExceeded),
            PmpMailNetworkException => ("PmpMail.NetworkError", ErrorCategory.ConnectionError),
            PmpMailAttachmentException => ("PmpMail.AttachmentFailed", ErrorCategory.ReadError),
            PmpMailCredentialException => ("PmpMail.CredentialInvalid", ErrorCategory.SecurityError),
            PmpMailSignerException => ("PmpMail.SignerFailed", ErrorCategory.SecurityError),
            PmpMailRequestTooLargeException => ("PmpMail.RequestTooLarge", ErrorCategory.LimitsExceeded),
            PmpMailCancelledException => ("PmpMail.Cancelled", ErrorCategory.OperationStopped),
            PmpMailInvalidArgumentException => (d.Category == "config" ? "PmpMail.InvalidConfig" : "PmpMail.InvalidArgument", ErrorCategory.InvalidArgument),
            _ => ("PmpMail.InternalError", ErrorCategory.NotSpecified),
        };
        return Build(exception, id, category, target, exception.Message, d.Remedy);
    }

    public static ErrorRecord ToErrorRecord(PmpMailSetupException exception, object? target) =>
        Build(exception, "PmpMail." + exception.ErrorId, CategoryOf(exception.ErrorId), target, exception.Message, exception.Remedy);

    public static ErrorRecord Build(Exception exception, string errorId, ErrorCategory category, object? target, string message, string? remedy)
    {
        // The remedy goes into the message itself (ConciseView would print RecommendedAction a second time);
        // scripts read it structured from the exception's Remedy property.
        bool hasRemedy = !string.IsNullOrWhiteSpace(remedy) && !message.Contains(remedy!, StringComparison.Ordinal);
        return new ErrorRecord(exception, errorId, category, target)
        {
            ErrorDetails = new ErrorDetails(hasRemedy ? message + " Remedy: " + remedy : message),
        };
    }

    private static ErrorCategory CategoryOf(string setupErrorId) => setupErrorId switch
    {
        "CertificateNotFound" or "CertificateFileNotFound" or "AttachmentNotFound" or "ProfileNotFound" => ErrorCategory.ObjectNotFound,
        "NoConnection" => ErrorCategory.ConnectionError,
        "PlainSecretRefused" => ErrorCategory.SecurityError,
        _ => ErrorCategory.InvalidArgument,
    };
}
