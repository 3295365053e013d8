using System;
using System.Collections.Generic;
using System.Security;
using PmpMail.Interop.Native;

namespace PmpMail.Interop;

/// <summary>The national cloud an app registration lives in.</summary>
public enum PmpMailCloud
{
    /// <summary>Microsoft Entra ID global (login.microsoftonline.com, graph.microsoft.com).</summary>
    Global,
    /// <summary>US Government L4 (GCC High).</summary>
    USGov,
    /// <summary>US Government L5 (DoD).</summary>
    USGovDoD,
    /// <summary>Microsoft Azure operated by 21Vianet.</summary>
    China,
}

/// <summary>The mail service a client sends through (config document "provider").</summary>
public enum PmpMailProvider
{
    /// <summary>Microsoft 365 (Exchange Online) through Microsoft Graph, with an Entra ID credential (the default).</summary>
    Microsoft365,
    /// <summary>Google Workspace through the Gmail API, with a service account and domain-wide delegation.</summary>
    GoogleWorkspace,
}

/// <summary>Algorithm of the client-assertion JWT for certificate credentials.</summary>
public enum PmpAssertionAlgorithm
{
    /// <summary>RSASSA-PSS SHA-256 with an x5t#S256 header (the default).</summary>
    PS256,
    /// <summary>RSASSA-PKCS1-v1_5 SHA-256 with an x5t header.</summary>
    RS256,
}

/// <summary>Where a client's token is cached (config document "tokenCache").</summary>
public enum PmpTokenCache
{
    /// <summary>Shared by every client in the process with the same tenant, cloud, client id, credential and refresh margin; kept after the client is disposed, until the token expires (the default). A .NET certificate signer or an assertion callback is never shared.</summary>
    Process,
    /// <summary>The client's own: disposed with it, never shared.</summary>
    Client,
}

/// <summary>HTTP options (config document "http").</summary>
public sealed class PmpMailHttpOptions
{
    /// <summary>Whole-request timeout.</summary>
    public int? TimeoutSeconds { get; set; }
    /// <summary>TCP/TLS connect timeout.</summary>
    public int? ConnectTimeoutSeconds { get; set; }
    /// <summary>Explicit proxy URL.</summary>
    public Uri? Proxy { get; set; }
    /// <summary>Hosts that bypass the proxy.</summary>
    public IList<string>? NoProxy { get; set; }
    /// <summary>Use the system proxy settings.</summary>
    public bool? UseSystemProxy { get; set; }
    /// <summary>Extra CA certificates to trust (PEM), e.g. the emulator's CA.</summary>
    public string? ExtraCaCertificatesPem { get; set; }
    /// <summary>User-Agent suffix.</summary>
    public string? UserAgent { get; set; }
}

/// <summary>Retry options (config document "retry").</summary>
public sealed class PmpMailRetryOptions
{
    /// <summary>Attempts per request, first one included.</summary>
    public int? MaxAttempts { get; set; }
    /// <summary>Cap on the total time spent waiting between attempts.</summary>
    public int? MaxTotalWaitSeconds { get; set; }
    /// <summary>Retry even when the first attempt may have been carried out (risk of duplicates).</summary>
    public bool? RetryUnknownOutcome { get; set; }
}

/// <summary>How many sends one client runs at once (contracts §2, <c>sending</c>).</summary>
public sealed class PmpMailSendingOptions
{
    /// <summary>Sends in flight per sending mailbox (1 to 16; default 4, Graph's limit per app and mailbox); more wait their turn.</summary>
    public int? MaxConcurrentPerMailbox { get; set; }

    /// <summary>Sends in flight in all (1 to 64; default 16).</summary>
    public int? MaxConcurrent { get; set; }
}

/// <summary>
/// Everything needed to create a <see cref="PmpMailClient"/> (contracts §2). The credential is
/// <see cref="Credential"/>, or a certificate given to <see cref="PmpMailClient.CreateWithCertificate"/>.
/// </summary>
public sealed class PmpMailConfig
{
    /// <summary>Creates a configuration for a tenant and app registration.</summary>
    /// <param name="tenant">Tenant id (GUID), verified domain, or authority URL.</param>
    /// <param name="clientId">The app registration's application (client) id.</param>
    public PmpMailConfig(string tenant, string clientId)
    {
        Tenant = string.IsNullOrWhiteSpace(tenant) ? throw new ArgumentException("The tenant is required.", nameof(tenant)) : tenant;
        ClientId = string.IsNullOrWhiteSpace(clientId) ? throw new ArgumentException("The client id is required.", nameof(clientId)) : clientId;
    }

    /// <summary>
    /// Creates a configuration for a credential that names its own identity: a managed identity
    /// (<see cref="PmpMailCredential.FromManagedIdentity"/>, no tenant and no app registration), or workload identity
    /// (<see cref="PmpMailCredential.FromWorkloadIdentity"/>) with the tenant and client id from AZURE_TENANT_ID and
    /// AZURE_CLIENT_ID.
    /// </summary>
    public PmpMailConfig(PmpMailCredential credential)
    {
        Credential = Guard.NotNull(credential, nameof(credential));
        if (!credential.NamesItsOwnIdentity)
        {
            throw new ArgumentException($"A {credential.Kind} credential belongs to an app registration: use PmpMailConfig(tenant, clientId).", nameof(credential));
        }
    }

    private PmpMailConfig(PmpMailProvider provider, PmpMailCredential credential)
    {
        Provider = provider;
        Credential = credential;
    }

    /// <summary>
    /// Creates a Google Workspace configuration: the client sends through the Gmail API as a service account with
    /// domain-wide delegation for the <c>gmail.send</c> scope (contracts §2, "Google Workspace").
    /// </summary>
    /// <param name="credential">
    /// A service account key: <see cref="PmpMailCredential.FromServiceAccountKeyFile"/> or
    /// <see cref="PmpMailCredential.FromServiceAccountKeyJson(SecureString)"/>; or a certificate that signs in this process
    /// (<see cref="PmpMailCredential.FromServiceAccountCertificate"/>, <see cref="PmpMailCredential.FromServiceAccountCertificateThumbprint"/>).
    /// </param>
    /// <param name="impersonate">The user every token acts as; null means each message's From address.</param>
    public static PmpMailConfig ForGoogleWorkspace(PmpMailCredential credential, string? impersonate = null)
    {
        Guard.NotNull(credential, nameof(credential));
        if (!credential.IsGoogleServiceAccount)
        {
            throw new ArgumentException($"A {credential.Kind} credential is an Entra ID credential: Google Workspace needs a service account key (PmpMailCredential.FromServiceAccountKeyFile, FromServiceAccountKeyJson or FromServiceAccountCertificate).", nameof(credential));
        }

        return new PmpMailConfig(PmpMailProvider.GoogleWorkspace, credential)
        {
            Impersonate = impersonate is null ? null : Guard.NotEmpty(impersonate, nameof(impersonate), "The user to impersonate is empty."),
        };
    }

    /// <summary>The mail service: <see cref="PmpMailProvider.Microsoft365"/> unless made by <see cref="ForGoogleWorkspace"/>.</summary>
    public PmpMailProvider Provider { get; } = PmpMailProvider.Microsoft365;

    /// <summary>Google Workspace: the user every token acts as (domain-wide delegation); null means each message's From address.</summary>
    public string? Impersonate { get; set; }

    /// <summary>Google Workspace: override of the token URI (e.g. the emulator's <c>/token</c>); null means the key file's <c>token_uri</c>.</summary>
    public Uri? GoogleTokenUri { get; set; }

    /// <summary>Google Workspace: override of the Gmail API root (e.g. the emulator's base URL); null means https://gmail.googleapis.com.</summary>
    public Uri? GmailRoot { get; set; }

    /// <summary>Tenant id (GUID), verified domain, or authority URL; null when the credential names it (managed or workload identity).</summary>
    public string? Tenant { get; }

    /// <summary>The app registration's application (client) id; null when the credential names it (managed or workload identity).</summary>
    public string? ClientId { get; }

    /// <summary>Managed-identity endpoint overrides (tests, emulators); only with <see cref="PmpMailCredential.FromManagedIdentity"/>.</summary>
    public PmpManagedIdentityEndpoints? ManagedIdentityEndpoints { get; set; }

    /// <summary>Secret or certificate file credential; not used when a .NET certificate signs (<see cref="PmpMailClient.CreateWithCertificate"/>, <see cref="PmpMailClient.CreateWithCertificateThumbprint"/>).</summary>
    public PmpMailCredential? Credential { get; set; }

    /// <summary>National cloud; null means derived from the authority host.</summary>
    public PmpMailCloud? Cloud { get; set; }

    /// <summary>Override of the Entra ID authority host (e.g. the emulator's base URL).</summary>
    public Uri? AuthorityHost { get; set; }

    /// <summary>Override of the Graph root (e.g. the emulator's base URL).</summary>
    public Uri? GraphRoot { get; set; }

    /// <summary>Allow http:// to loopback addresses only (tests).</summary>
    public bool? AllowHttpLoopback { get; set; }

    /// <summary>Client-assertion algorithm for certificates; null means the library default (PS256).</summary>
    public PmpAssertionAlgorithm? AssertionAlgorithm { get; set; }

    /// <summary>HTTP options.</summary>
    public PmpMailHttpOptions? Http { get; set; }

    /// <summary>Retry options.</summary>
    public PmpMailRetryOptions? Retry { get; set; }

    /// <summary>Send concurrency: per mailbox and overall.</summary>
    public PmpMailSendingOptions? Sending { get; set; }

    /// <summary>Refresh a cached token this long before it expires.</summary>
    public int? TokenRefreshMarginSeconds { get; set; }

    /// <summary>Where the token is cached; null means the library default (<see cref="PmpTokenCache.Process"/>).</summary>
    public PmpTokenCache? TokenCache { get; set; }
}
