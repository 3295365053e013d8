using System;
using System.Collections.Generic;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace PmpMail.Interop;

/// <summary>Result of <c>pmp_send_mail</c> (contracts §4).</summary>
public sealed record PmpSendResult
{
    /// <summary>"sent".</summary>
    public string Status { get; init; } = string.Empty;
    /// <summary>HTTP attempts made, retries included.</summary>
    public int Attempts { get; init; }
    /// <summary>Wall time of the whole send.</summary>
    public long DurationMs { get; init; }
    /// <summary>
    /// The part of <see cref="DurationMs"/> spent waiting on purpose: for a send slot, out a throttled mailbox's pause or
    /// its send budget, and between retries (JSON <c>waitedMs</c>).
    /// </summary>
    [JsonPropertyName("waitedMs")]
    [JsonConverter(typeof(MillisecondsConverter))]
    public TimeSpan Waited { get; init; }
    /// <summary>True when a draft and upload session carried attachments of 3 MB or more.</summary>
    public bool UploadSession { get; init; }
    /// <summary>The client-request-id sent to Graph.</summary>
    public string? ClientRequestId { get; init; }
    /// <summary>Graph's request-id of the final request.</summary>
    public string? RequestId { get; init; }
    /// <summary>
    /// True when the final send request went again after an attempt whose outcome was unknown (only with
    /// <c>retry.retryUnknownOutcome</c>): the message may have arrived twice.
    /// </summary>
    public bool PossibleDuplicate { get; init; }
    /// <summary>Steps taken (token source, request ids, retry waits); never secrets.</summary>
    public IReadOnlyList<string> Log { get; init; } = Array.Empty<string>();
}

/// <summary>One permission's state in a <see cref="PmpPermissionReport"/>.</summary>
public sealed record PmpPermissionEntry
{
    /// <summary>Permission name, e.g. Mail.Send.</summary>
    public string Name { get; init; } = string.Empty;
    /// <summary>Granted, Missing or Unknown.</summary>
    public string Status { get; init; } = string.Empty;
    /// <summary>Whether sending needs it at all.</summary>
    public bool Required { get; init; }
    /// <summary>What it is needed for.</summary>
    public string? NeededFor { get; init; }
}

/// <summary>Report of <c>pmp_test_permissions</c> (contracts §3).</summary>
public sealed record PmpPermissionReport
{
    /// <summary>False when Entra ID rejected the credentials; then <see cref="Error"/> says why.</summary>
    public bool Authenticated { get; init; }
    /// <summary>The token's tid claim.</summary>
    public string? TenantId { get; init; }
    /// <summary>The token's appid claim.</summary>
    public string? AppId { get; init; }
    /// <summary>The app registration's display name, when known.</summary>
    public string? AppDisplayName { get; init; }
    /// <summary>When the access token expires.</summary>
    public DateTimeOffset? TokenExpiresOn { get; init; }
    /// <summary>"endpoint" or "cache".</summary>
    public string? TokenSource { get; init; }
    /// <summary>False when the token is not a readable JWT (statuses are then Unknown).</summary>
    public bool RolesReadable { get; init; }
    /// <summary>The roles claim.</summary>
    public IReadOnlyList<string> Roles { get; init; } = Array.Empty<string>();
    /// <summary>One entry per permission the library knows about.</summary>
    public IReadOnlyList<PmpPermissionEntry> Permissions { get; init; } = Array.Empty<PmpPermissionEntry>();
    /// <summary>Warnings worth showing (e.g. secret about to expire).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = Array.Empty<string>();
    /// <summary>Why authentication failed, when it did.</summary>
    public PmpErrorDetail? Error { get; init; }
    /// <summary>Steps taken; never secrets.</summary>
    public IReadOnlyList<string> Log { get; init; } = Array.Empty<string>();
}

/// <summary>The native error document (contracts §5). Fields that do not apply are null.</summary>
public sealed record PmpErrorDetail
{
    /// <summary>Numeric pmp_status.</summary>
    public uint Status { get; init; }
    /// <summary>e.g. PMP_STATUS_PERMISSION_DENIED.</summary>
    public string? StatusName { get; init; }
    /// <summary>invalidArgument, config, credential, authentication, permission, graph, throttled, network, outcomeUnknown, attachment, signer, internal.</summary>
    public string? Category { get; init; }
    /// <summary>What went wrong.</summary>
    public string? Message { get; init; }
    /// <summary>What to do about it.</summary>
    public string? Remedy { get; init; }
    /// <summary>failed, unknown or null.</summary>
    public string? Outcome { get; init; }
    /// <summary>HTTP status of the failing response.</summary>
    public int? HttpStatus { get; init; }
    /// <summary>Entra ID AADSTS error number.</summary>
    public long? Aadsts { get; init; }
    /// <summary>OAuth error, e.g. invalid_client.</summary>
    public string? EntraError { get; init; }
    /// <summary>Graph error code, e.g. ErrorAccessDenied.</summary>
    public string? GraphCode { get; init; }
    /// <summary>Graph or Entra request id.</summary>
    public string? RequestId { get; init; }
    /// <summary>Our client-request-id.</summary>
    public string? ClientRequestId { get; init; }
    /// <summary>Entra trace id.</summary>
    public string? TraceId { get; init; }
    /// <summary>Entra correlation id.</summary>
    public string? CorrelationId { get; init; }
    /// <summary>HTTP attempts made.</summary>
    public int? Attempts { get; init; }
    /// <summary>Wall time.</summary>
    public long? DurationMs { get; init; }
    /// <summary>Retry-After Graph asked for, when throttled.</summary>
    public double? RetryAfterSeconds { get; init; }
    /// <summary>Steps taken; never secrets.</summary>
    public IReadOnlyList<string> Log { get; init; } = Array.Empty<string>();
}

/// <summary>The batch result document as the library writes it (contracts §4b); <see cref="PmpBatchResult"/> is what hosts get.</summary>
internal sealed class BatchResultDocument
{
    public int Total { get; set; }
    public int Sent { get; set; }
    public int Failed { get; set; }
    public int Unknown { get; set; }
    public int Cancelled { get; set; }
    public long DurationMs { get; set; }
    public List<BatchItemDocument> Results { get; set; } = new();
}

/// <summary>One item of <see cref="BatchResultDocument"/>.</summary>
internal sealed class BatchItemDocument
{
    public int Index { get; set; }
    public string Status { get; set; } = string.Empty;
    public long WaitedMs { get; set; }
    public PmpSendResult? Result { get; set; }
    public PmpErrorDetail? Error { get; set; }
}

/// <summary>A whole number of milliseconds in JSON as a <see cref="TimeSpan"/>.</summary>
internal sealed class MillisecondsConverter : JsonConverter<TimeSpan>
{
    public override TimeSpan Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        TimeSpan.FromMilliseconds(reader.GetInt64());

    public override void Write(Utf8JsonWriter writer, TimeSpan value, JsonSerializerOptions options) =>
        writer.WriteNumberValue((long)value.TotalMilliseconds);
}

/// <summary>Source-generated (reflection-free) JSON metadata for the documents the library returns.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, NumberHandling = JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(PmpSendResult))]
[JsonSerializable(typeof(BatchResultDocument))]
[JsonSerializable(typeof(PmpPermissionReport))]
[JsonSerializable(typeof(PmpErrorDetail))]
internal sealed partial class PmpJsonContext : JsonSerializerContext
{
}
