using System;
using System.Collections.Generic;

namespace PmpMail;

/// <summary>
/// What Send-PmpMail -PassThru returns: for pipeline input one per input record, in input order, whatever happened to
/// it; for a single call one when the message was sent.
/// </summary>
public sealed class SendResult
{
    /// <summary>The record's position in the pipeline input (0-based); 0 for a single call.</summary>
    public int InputIndex { get; init; }
    /// <summary>
    /// "sent"; or, for pipeline input, "failed" (not sent), "unknown" (the answer was lost after Graph may have
    /// accepted it; never sent again) or "cancelled" (Ctrl+C came before its turn; not sent). The error says why.
    /// </summary>
    public string Status { get; init; } = string.Empty;
    /// <summary>The ErrorId of the error written for a message that was not sent (null when sent).</summary>
    public string? ErrorId { get; init; }
    /// <summary>HTTP attempts, retries included.</summary>
    public int Attempts { get; init; }
    /// <summary>Graph's request-id of the final request (give it to Microsoft support).</summary>
    public string? RequestId { get; init; }
    /// <summary>The client-request-id pmp-mail sent.</summary>
    public string? ClientRequestId { get; init; }
    /// <summary>Wall time of the send.</summary>
    public long DurationMs { get; init; }
    /// <summary>True when a draft and upload session carried large attachments.</summary>
    public bool UploadSession { get; init; }
    /// <summary>True when -RetryUnknownOutcome sent it again after a lost answer: it may have arrived twice.</summary>
    public bool PossibleDuplicate { get; init; }
    /// <summary>The mailbox sent as.</summary>
    public string From { get; init; } = string.Empty;
    /// <summary>Recipients.</summary>
    public IReadOnlyList<string> To { get; init; } = Array.Empty<string>();
    /// <summary>Subject.</summary>
    public string? Subject { get; init; }
    /// <summary>Steps taken (also shown with -Verbose).</summary>
    public IReadOnlyList<string> Log { get; init; } = Array.Empty<string>();
}

/// <summary>One permission of the app registration, as Test-PmpMailPermission reports it.</summary>
public sealed class PermissionStatus
{
    /// <summary>e.g. Mail.Send.</summary>
    public string Permission { get; init; } = string.Empty;
    /// <summary>Granted, Missing or Unknown.</summary>
    public string Status { get; init; } = string.Empty;
    /// <summary>Whether sending needs it at all.</summary>
    public bool Required { get; init; }
    /// <summary>What it is needed for.</summary>
    public string? NeededFor { get; init; }
    /// <summary>The tenant the token was issued in.</summary>
    public string? TenantId { get; init; }
    /// <summary>The app registration's client id.</summary>
    public string? AppId { get; init; }
    /// <summary>The app registration's display name.</summary>
    public string? AppDisplayName { get; init; }
    /// <summary>When the access token expires.</summary>
    public DateTimeOffset? TokenExpiresOn { get; init; }
    /// <summary>"endpoint" or "cache".</summary>
    public string? TokenSource { get; init; }
    /// <summary>
    /// The test's advice and warnings (scoping, what the token cannot show, missing permissions, certificate expiry),
    /// the same on every permission of one test; shown as warnings only when something needs attention or with -Detailed.
    /// </summary>
    public IReadOnlyList<string> Warnings { get; init; } = Array.Empty<string>();
}
