using System;
using System.Collections.Generic;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace PmpMail.Interop.Native;

/// <summary>Writes the config, options and message documents as UTF-8 JSON (contracts §2–4).</summary>
internal static class DocumentWriter
{
    // Relaxed escaping keeps non-ASCII text as UTF-8 instead of \uXXXX; the documents never reach HTML.
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Writes the config document. <paramref name="hostAuth"/> is the auth type of a client whose credential is a host
    /// callback ("signer", "clientAssertion"); null writes <see cref="PmpMailConfig.Credential"/>.
    /// </summary>
    public static void WriteConfig(SensitiveBufferWriter buffer, PmpMailConfig config, string? hostAuth)
    {
        if (config.Provider == PmpMailProvider.GoogleWorkspace)
        {
            WriteGoogleConfig(buffer, config, hostAuth);
            return;
        }

        if (hostAuth is null && config.Credential is { IsGoogleServiceAccount: true })
        {
            throw new ArgumentException("A service account key is a Google Workspace credential: use PmpMailConfig.ForGoogleWorkspace.", nameof(config));
        }

        if (config.Impersonate is not null || config.GoogleTokenUri is not null || config.GmailRoot is not null)
        {
            throw new ArgumentException("Impersonate, GoogleTokenUri and GmailRoot are Google Workspace settings: use PmpMailConfig.ForGoogleWorkspace.", nameof(config));
        }

        using var writer = new Utf8JsonWriter(buffer, Options);
        writer.WriteStartObject();
        bool workload = hostAuth is null && config.Credential is { IsWorkloadIdentity: true };
        bool managed = hostAuth is null && config.Credential is { IsManagedIdentity: true };
        WriteIfSet(writer, "tenant", config.Tenant ?? (workload ? AzureVariable("AZURE_TENANT_ID") : null));
        WriteIfSet(writer, "clientId", config.ClientId ?? (workload ? AzureVariable("AZURE_CLIENT_ID") : null));
        if (hostAuth is not null)
        {
            writer.WriteStartObject("auth");
            writer.WriteString("type", hostAuth);
            writer.WriteEndObject();
        }
        else if (config.Credential is not null)
        {
            config.Credential.WriteAuth(writer);
        }
        else
        {
            throw new ArgumentException("The configuration has no credential: set PmpMailConfig.Credential or use PmpMailClient.CreateWithCertificate.", nameof(config));
        }

        if (config.Cloud is PmpMailCloud cloud)
        {
            writer.WriteString("cloud", cloud switch
            {
                PmpMailCloud.USGov => "usGov",
                PmpMailCloud.USGovDoD => "usGovDoD",
                PmpMailCloud.China => "china",
                _ => "global",
            });
        }

        WriteIfSet(writer, "authorityHost", config.AuthorityHost?.AbsoluteUri.TrimEnd('/'));
        WriteIfSet(writer, "graphRoot", config.GraphRoot?.AbsoluteUri.TrimEnd('/'));
        if (config.AllowHttpLoopback is bool loopback)
        {
            writer.WriteBoolean("allowHttpLoopback", loopback);
        }

        if (config.AssertionAlgorithm is PmpAssertionAlgorithm algorithm)
        {
            writer.WriteString("assertionAlgorithm", algorithm.ToString());
        }

        WriteCommon(writer, config);
        PmpManagedIdentityEndpoints? endpoints = config.ManagedIdentityEndpoints;
        if (endpoints is not null || managed)
        {
            string? Platform(string name) => managed ? AzureVariable(name) : null;
            writer.WriteStartObject("endpoints");
            WriteIfSet(writer, "imdsBaseUrl", endpoints?.ImdsBaseUrl?.AbsoluteUri.TrimEnd('/') ?? Platform("AZURE_POD_IDENTITY_AUTHORITY_HOST"));
            WriteIfSet(writer, "identityEndpoint", endpoints?.IdentityEndpoint?.AbsoluteUri ?? Platform("IDENTITY_ENDPOINT"));
            WriteIfSet(writer, "identityHeader", endpoints?.IdentityHeader ?? Platform("IDENTITY_HEADER"));
            WriteIfSet(writer, "imdsEndpoint", endpoints?.ImdsEndpoint?.AbsoluteUri.TrimEnd('/') ?? Platform("IMDS_ENDPOINT"));
            WriteIfSet(writer, "arcKeyDirectory", endpoints?.ArcKeyDirectory);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }

    /// <summary>
    /// The googleWorkspace config document: <c>provider</c>, the service account key, <c>google</c> (impersonate,
    /// tokenUri, gmailRoot) and the provider-neutral options. The Entra-only fields (tenant, clientId, cloud,
    /// authorityHost, graphRoot, assertionAlgorithm, endpoints) are never written: the native library refuses them.
    /// </summary>
    private static void WriteGoogleConfig(SensitiveBufferWriter buffer, PmpMailConfig config, string? hostAuth)
    {
        string? entraOnly =
            config.Cloud is not null ? nameof(config.Cloud)
            : config.AuthorityHost is not null ? nameof(config.AuthorityHost)
            : config.GraphRoot is not null ? nameof(config.GraphRoot)
            : config.AssertionAlgorithm is not null ? nameof(config.AssertionAlgorithm)
            : config.ManagedIdentityEndpoints is not null ? nameof(config.ManagedIdentityEndpoints)
            : null;
        if (entraOnly is not null)
        {
            throw new ArgumentException($"{entraOnly} is a Microsoft 365 setting; a Google Workspace configuration does not take it.", nameof(config));
        }

        using var writer = new Utf8JsonWriter(buffer, Options);
        writer.WriteStartObject();
        writer.WriteString("provider", "googleWorkspace");
        // A certificate signer is the credential's own (FromServiceAccountCertificate), never another host callback.
        var signer = config.Credential as PmpMailCredential.ServiceAccountCertificateCredential;
        if (hostAuth != (signer is null ? null : "signer"))
        {
            throw new ArgumentException("A Google Workspace client is made with PmpMailClient.Create; a certificate signs through PmpMailCredential.FromServiceAccountCertificate.", nameof(config));
        }

        if (config.Credential is { IsGoogleServiceAccount: true } credential)
        {
            credential.WriteAuth(writer);
        }
        else
        {
            throw new ArgumentException($"Google Workspace needs a service account key credential, not {config.Credential?.Kind ?? "none"}.", nameof(config));
        }

        if (signer is not null || config.Impersonate is not null || config.GoogleTokenUri is not null || config.GmailRoot is not null)
        {
            writer.WriteStartObject("google");
            signer?.WriteIdentity(writer);
            WriteIfSet(writer, "impersonate", config.Impersonate);
            WriteIfSet(writer, "tokenUri", config.GoogleTokenUri?.AbsoluteUri);
            WriteIfSet(writer, "gmailRoot", config.GmailRoot?.AbsoluteUri.TrimEnd('/'));
            writer.WriteEndObject();
        }

        if (config.AllowHttpLoopback is bool loopback)
        {
            writer.WriteBoolean("allowHttpLoopback", loopback);
        }

        WriteCommon(writer, config);
        writer.WriteEndObject();
    }

    /// <summary>The options both providers take: http, retry, sending, tokenRefreshMarginSeconds, tokenCache.</summary>
    private static void WriteCommon(Utf8JsonWriter writer, PmpMailConfig config)
    {
        if (config.Http is PmpMailHttpOptions http)
        {
            writer.WriteStartObject("http");
            WriteIfSet(writer, "timeoutSeconds", http.TimeoutSeconds);
            WriteIfSet(writer, "connectTimeoutSeconds", http.ConnectTimeoutSeconds);
            WriteIfSet(writer, "proxy", http.Proxy?.AbsoluteUri);
            if (http.NoProxy is { Count: > 0 } noProxy)
            {
                writer.WriteStartArray("noProxy");
                foreach (string host in noProxy)
                {
                    writer.WriteStringValue(host);
                }

                writer.WriteEndArray();
            }

            if (http.UseSystemProxy is bool useSystemProxy)
            {
                writer.WriteBoolean("useSystemProxy", useSystemProxy);
            }

            WriteIfSet(writer, "extraCaCertificatesPem", http.ExtraCaCertificatesPem);
            WriteIfSet(writer, "userAgent", http.UserAgent);
            writer.WriteEndObject();
        }

        if (config.Retry is PmpMailRetryOptions retry)
        {
            writer.WriteStartObject("retry");
            WriteIfSet(writer, "maxAttempts", retry.MaxAttempts);
            WriteIfSet(writer, "maxTotalWaitSeconds", retry.MaxTotalWaitSeconds);
            if (retry.RetryUnknownOutcome is bool retryUnknown)
            {
                writer.WriteBoolean("retryUnknownOutcome", retryUnknown);
            }

            writer.WriteEndObject();
        }

        if (config.Sending is PmpMailSendingOptions sending)
        {
            writer.WriteStartObject("sending");
            WriteIfSet(writer, "maxConcurrentPerMailbox", sending.MaxConcurrentPerMailbox);
            WriteIfSet(writer, "maxConcurrent", sending.MaxConcurrent);
            writer.WriteEndObject();
        }

        WriteIfSet(writer, "tokenRefreshMarginSeconds", config.TokenRefreshMarginSeconds);
        if (config.TokenCache is PmpTokenCache tokenCache)
        {
            writer.WriteString("tokenCache", tokenCache switch
            {
                PmpTokenCache.Client => "client",
                _ => "process",
            });
        }
    }

    /// <summary>
    /// An Azure environment variable as .NET sees it (empty counts as absent, as in the native library). On Unix .NET
    /// keeps its own copy of the environment: what <see cref="Environment.SetEnvironmentVariable(string, string)"/>
    /// (or PowerShell's <c>$env:</c>) sets never reaches the native library's getenv. So the variables the managed and
    /// workload identity credentials default to are read here and written into the config document, where the
    /// native library takes them as config fields.
    /// </summary>
    internal static string? AzureVariable(string name)
    {
        string? value = Environment.GetEnvironmentVariable(name);
        return string.IsNullOrWhiteSpace(value) ? null : value;
    }

    public static void WriteTestOptions(SensitiveBufferWriter buffer, bool forceRefresh, string? mailbox = null)
    {
        using var writer = new Utf8JsonWriter(buffer, Options);
        writer.WriteStartObject();
        writer.WriteBoolean("forceRefresh", forceRefresh);
        WriteIfSet(writer, "mailbox", mailbox);
        writer.WriteEndObject();
    }

    /// <summary>
    /// Writes the message document. In-memory attachments are written as <c>"buffer": n</c>, n counting them in
    /// order from 0: the caller passes their bytes as the call's buffers in that order (<see cref="InMemory"/>).
    /// </summary>
    public static void WriteMessage(SensitiveBufferWriter buffer, PmpMailMessage message)
    {
        Guard.NotEmpty(message.From, "message", "The message has no From address (the mailbox to send as).");
        using var writer = new Utf8JsonWriter(buffer, Options);
        int nextBuffer = 0;
        WriteMessage(writer, message, ref nextBuffer);
    }

    /// <summary>
    /// Writes the batch's messages as one JSON array and returns the bytes of their in-memory attachments: each is
    /// <c>"buffer": n</c>, n counting them across the whole batch, passed as the call's buffers in that order
    /// (<c>pmp_send_batch_with_buffers</c>). A null element throws; a message without a From address is written as it
    /// is, so that it becomes its own failed item instead of failing the batch.
    /// </summary>
    public static List<ReadOnlyMemory<byte>> WriteMessages(SensitiveBufferWriter buffer, IEnumerable<PmpMailMessage> messages)
    {
        using var writer = new Utf8JsonWriter(buffer, Options);
        writer.WriteStartArray();
        int count = 0;
        int nextBuffer = 0;
        var contents = new List<ReadOnlyMemory<byte>>();
        foreach (PmpMailMessage message in messages)
        {
            if (message is null)
            {
                throw new ArgumentException($"Message {count} of the batch is null.", nameof(messages));
            }

            WriteMessage(writer, message, ref nextBuffer);
            contents.AddRange(InMemory(message));
            count++;
        }

        writer.WriteEndArray();
        return contents;
    }

    /// <summary>Writes the batch options document; only what is set.</summary>
    public static void WriteBatchOptions(SensitiveBufferWriter buffer, PmpBatchOptions options)
    {
        using var writer = new Utf8JsonWriter(buffer, Options);
        writer.WriteStartObject();
        WriteIfSet(writer, "maxConcurrentPerMailbox", options.MaxConcurrentPerMailbox);
        WriteIfSet(writer, "maxConcurrent", options.MaxConcurrent);
        if (options.StopOnFailure)
        {
            writer.WriteBoolean("stopOnFailure", true);
        }

        writer.WriteEndObject();
    }

    /// <summary>In-memory attachments are written as <c>"buffer": n</c>, numbered from <paramref name="nextBuffer"/>.</summary>
    private static void WriteMessage(Utf8JsonWriter writer, PmpMailMessage message, ref int nextBuffer)
    {
        writer.WriteStartObject();
        writer.WriteString("from", message.From);
        WriteAddresses(writer, "to", message.To);
        WriteAddresses(writer, "cc", message.Cc);
        WriteAddresses(writer, "bcc", message.Bcc);
        WriteAddresses(writer, "replyTo", message.ReplyTo);
        WriteIfSet(writer, "subject", message.Subject);
        WriteIfSet(writer, "body", message.Body);
        writer.WriteBoolean("bodyAsHtml", message.BodyAsHtml);
        if (message.Importance is PmpMailImportance importance)
        {
            writer.WriteString("importance", importance switch
            {
                PmpMailImportance.High => "high",
                PmpMailImportance.Low => "low",
                _ => "normal",
            });
        }

        writer.WriteBoolean("saveToSentItems", message.SaveToSentItems);
        if (message.Headers.Count > 0)
        {
            writer.WriteStartArray("headers");
            foreach (KeyValuePair<string, string> header in message.Headers)
            {
                writer.WriteStartObject();
                writer.WriteString("name", header.Key);
                writer.WriteString("value", header.Value);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        if (message.Attachments.Count > 0)
        {
            writer.WriteStartArray("attachments");
            foreach (PmpMailAttachment attachment in message.Attachments)
            {
                writer.WriteStartObject();
                WriteIfSet(writer, "path", attachment.Path);
                WriteIfSet(writer, "name", attachment.Name);
                if (attachment.Content is not null)
                {
                    // The bytes go beside the document as a pinned buffer, not as base64 inside it.
                    writer.WriteNumber("buffer", nextBuffer++);
                }

                WriteIfSet(writer, "contentType", attachment.ContentType);
                WriteIfSet(writer, "contentId", attachment.ContentId);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        writer.WriteEndObject();
    }

    /// <summary>The in-memory attachments' contents, in the order of their <c>"buffer"</c> indexes.</summary>
    public static List<ReadOnlyMemory<byte>> InMemory(PmpMailMessage message)
    {
        var contents = new List<ReadOnlyMemory<byte>>();
        foreach (PmpMailAttachment attachment in message.Attachments)
        {
            if (attachment.Content is ReadOnlyMemory<byte> content)
            {
                contents.Add(content);
            }
        }

        return contents;
    }

    private static void WriteAddresses(Utf8JsonWriter writer, string name, IList<string> addresses)
    {
        if (addresses.Count == 0)
        {
            return;
        }

        writer.WriteStartArray(name);
        foreach (string address in addresses)
        {
            writer.WriteStringValue(address);
        }

        writer.WriteEndArray();
    }

    private static void WriteIfSet(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }

    private static void WriteIfSet(Utf8JsonWriter writer, string name, int? value)
    {
        if (value is int number)
        {
            writer.WriteNumber(name, number);
        }
    }
}
