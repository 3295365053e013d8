using System;
using System.Security.Cryptography.X509Certificates;
using PmpMail.Interop;

namespace PmpMail;

/// <summary>
/// A ready client for one app registration in one tenant, or for a managed identity (New-PmpMailConnection,
/// Connect-PmpMail). Holds the native client, so its token cache and connections are reused by every cmdlet given it.
/// </summary>
public sealed class PmpMailConnection : IDisposable
{
    private readonly X509Certificate2? _ownedCertificate;

    internal PmpMailConnection(PmpMailClient client, CredentialSpec spec, X509Certificate2? signingCertificate, bool ownsCertificate, ScriptBlockAssertion? assertion = null)
    {
        Client = client;
        Assertion = assertion;
        TenantId = spec.TenantId;
        ClientId = client.ClientId ?? spec.ClientId;
        CredentialType = spec.Kind.ToString();
        ManagedIdentity = spec.IsManagedIdentity ? spec.ManagedIdentityDescription : null;
        FederatedTokenFile = spec.FederatedTokenFile;
        EnvironmentVariables = spec.EnvironmentVariablesUsed is { Count: > 0 } used ? [.. used] : null;
        CertificateThumbprint = signingCertificate?.Thumbprint;
        Environment = spec.IsGoogle ? "GoogleWorkspace" : spec.Environment?.ToString() ?? "Global";
        Provider = spec.IsGoogle ? PmpMailProvider.GoogleWorkspace : PmpMailProvider.Microsoft365;
        Impersonate = spec.Impersonate;
        ServiceAccountKeyPath = spec.ServiceAccountKeyPath;
        ServiceAccountKeyEnvironmentVariable = spec.ServiceAccountKeyEnvironmentVariable;
        ServiceAccountEmail = spec.ServiceAccountEmail;
        AuthorityHost = spec.AuthorityHost;
        GraphRoot = spec.GraphRoot;
        ProfileName = spec.ProfileName;
        CreatedOn = DateTimeOffset.Now;
        _ownedCertificate = ownsCertificate ? signingCertificate : null;
        // Keeps a caller's certificate reachable while the native client may call the signer.
        SigningCertificate = signingCertificate;
    }

    /// <summary>Microsoft365 (Graph) or GoogleWorkspace (Gmail).</summary>
    public PmpMailProvider Provider { get; }
    /// <summary>Google Workspace: the user the service account acts as; null means each message's From address.</summary>
    public string? Impersonate { get; }
    /// <summary>Google Workspace: the key file, for -ServiceAccountKeyPath (never the key itself).</summary>
    public string? ServiceAccountKeyPath { get; }
    /// <summary>Google Workspace: the environment variable the key was read from, for -ServiceAccountKeyEnvironmentVariable (its name only).</summary>
    public string? ServiceAccountKeyEnvironmentVariable { get; }
    /// <summary>Google Workspace: the service account, for a certificate that signs (-ServiceAccountEmail).</summary>
    public string? ServiceAccountEmail { get; }
    /// <summary>Tenant as given (GUID, domain or authority URL); null for a managed identity.</summary>
    public string? TenantId { get; }
    /// <summary>
    /// The app registration's client id; for a managed identity the user-assigned identity's client id, or (after
    /// Connect-PmpMail validated it) the client id its token carries; otherwise null.
    /// </summary>
    public string? ClientId { get; internal set; }
    /// <summary>
    /// ClientSecret, ClientSecretCredential, ClientSecretEnvironmentVariable, CertificateThumbprint, Certificate,
    /// CertificatePath, CertificatePem, ManagedIdentity or WorkloadIdentity (-EnvironmentVariable gives the one it found).
    /// </summary>
    public string CredentialType { get; }
    /// <summary>For a managed identity: "system-assigned", or "user-assigned, client id ..." (object id, resource id).</summary>
    public string? ManagedIdentity { get; }
    /// <summary>Workload identity's token file (read for every token request).</summary>
    public string? FederatedTokenFile { get; }
    /// <summary>The environment variables the credential came from (names only), e.g. with -EnvironmentVariable.</summary>
    public string[]? EnvironmentVariables { get; }
    /// <summary>Thumbprint of the signing certificate, for certificate credentials.</summary>
    public string? CertificateThumbprint { get; }
    /// <summary>Global, USGov, USGovDoD or China.</summary>
    public string Environment { get; }
    /// <summary>Authority host override, if any.</summary>
    public Uri? AuthorityHost { get; }
    /// <summary>Graph root override, if any.</summary>
    public Uri? GraphRoot { get; }
    /// <summary>The profile this connection came from, if any.</summary>
    public string? ProfileName { get; }
    /// <summary>When the connection was made.</summary>
    public DateTimeOffset CreatedOn { get; }
    /// <summary>False after Disconnect-PmpMail or Dispose().</summary>
    public bool IsOpen => !Client.IsDisposed;

    internal PmpMailClient Client { get; }

    /// <summary>-ClientAssertion's script block runner; the cmdlet using the connection lends it its pipeline thread.</summary>
    internal ScriptBlockAssertion? Assertion { get; }

    internal X509Certificate2? SigningCertificate { get; }

    /// <summary>Frees the native client (and a certificate the connection loaded itself).</summary>
    public void Dispose()
    {
        Client.Dispose();
        _ownedCertificate?.Dispose();
    }

    /// <inheritdoc />
    public override string ToString() =>
        Provider == PmpMailProvider.GoogleWorkspace ? $"Google Workspace service account ({CredentialType}{(Impersonate is null ? string.Empty : ", as " + Impersonate)})"
        : ManagedIdentity is not null
        ? $"managed identity ({ManagedIdentity}{(ClientId is not null && !ManagedIdentity.Contains(ClientId) ? $", client id {ClientId}" : string.Empty)})"
        : $"{ClientId} @ {TenantId} ({CredentialType})";
}
