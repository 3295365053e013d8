using System;
using System.Text.Json.Serialization;
using PmpMail.Interop;

namespace PmpMail;

/// <summary>
/// A saved connection profile (Register-PmpMailProfile). Never holds a plain-text secret: certificates are
/// kept by thumbprint or file path, secrets DPAPI-protected (Windows, CurrentUser) or as the name of an
/// environment variable read at use time; a managed identity, workload identity or -EnvironmentVariable
/// profile holds no secret at all, and a Google service account key is kept as its file's path or the name of
/// the environment variable that holds it.
/// </summary>
public sealed class PmpMailProfile
{
    /// <summary>Profile name.</summary>
    public string Name { get; set; } = string.Empty;
    /// <summary>Tenant id, domain or authority URL; null for a managed identity, and for workload identity that reads AZURE_TENANT_ID.</summary>
    public string? TenantId { get; set; }
    /// <summary>
    /// Application (client) id; a user-assigned managed identity's client id; null for a system-assigned identity, and
    /// for workload identity that reads AZURE_CLIENT_ID.
    /// </summary>
    public string? ClientId { get; set; }
    /// <summary>
    /// CertificateThumbprint, CertificatePath, ClientSecretProtected, ClientSecretEnvironmentVariable, ManagedIdentity,
    /// WorkloadIdentity, EnvironmentVariable, or for Google Workspace GoogleServiceAccountKeyPath,
    /// GoogleServiceAccountKeyEnvironmentVariable, GoogleServiceAccountCertificateThumbprint or GoogleServiceAccountCertificatePath.
    /// </summary>
    public string CredentialType { get; set; } = string.Empty;
    /// <summary>Certificate thumbprint (looked up in CurrentUser\My and LocalMachine\My).</summary>
    public string? CertificateThumbprint { get; set; }
    /// <summary>PFX file path.</summary>
    public string? CertificatePath { get; set; }
    /// <summary>Environment variable that holds the client secret.</summary>
    public string? ClientSecretEnvironmentVariable { get; set; }
    /// <summary>A user-assigned managed identity's object (principal) id.</summary>
    public string? ManagedIdentityObjectId { get; set; }
    /// <summary>A user-assigned managed identity's ARM resource id.</summary>
    public string? ManagedIdentityResourceId { get; set; }
    /// <summary>Workload identity's federated token file; null: AZURE_FEDERATED_TOKEN_FILE when used.</summary>
    public string? FederatedTokenFile { get; set; }
    /// <summary>Google Workspace: the service account key file (its path only; the key is never saved).</summary>
    public string? ServiceAccountKeyPath { get; set; }
    /// <summary>Google Workspace: the environment variable that holds the key's JSON text (its name only; read when used).</summary>
    public string? ServiceAccountKeyEnvironmentVariable { get; set; }
    /// <summary>Google Workspace with a certificate: the service account's email.</summary>
    public string? ServiceAccountEmail { get; set; }
    /// <summary>Google Workspace with a certificate: the uploaded key's id.</summary>
    public string? ServiceAccountKeyId { get; set; }
    /// <summary>Google Workspace: the user the service account acts as; null means each message's From address.</summary>
    public string? Impersonate { get; set; }
    /// <summary>Google Workspace: token URI override.</summary>
    public Uri? GoogleTokenUri { get; set; }
    /// <summary>Google Workspace: Gmail API root override.</summary>
    public Uri? GmailRoot { get; set; }
    /// <summary>Global, USGov, USGovDoD or China.</summary>
    public string? Environment { get; set; }
    /// <summary>Authority host override.</summary>
    public Uri? AuthorityHost { get; set; }
    /// <summary>Graph root override.</summary>
    public Uri? GraphRoot { get; set; }
    /// <summary>Extra CA PEM file.</summary>
    public string? TrustedCaPath { get; set; }
    /// <summary>Explicit HTTP proxy.</summary>
    public Uri? Proxy { get; set; }
    /// <summary>Hosts that bypass the proxy.</summary>
    public string[]? NoProxy { get; set; }
    /// <summary>PS256 or RS256; null for the default (PS256).</summary>
    public string? AssertionAlgorithm { get; set; }
    /// <summary>True when sends whose outcome is unknown are retried (-RetryUnknownOutcome).</summary>
    public bool? RetryUnknownOutcome { get; set; }
    /// <summary>Whole-request timeout (-TimeoutSeconds).</summary>
    public int? TimeoutSeconds { get; set; }
    /// <summary>Cap on retry waits per call (-MaxRetryWaitSeconds).</summary>
    public int? MaxRetryWaitSeconds { get; set; }
    /// <summary>Attempts per request (-MaxRetryAttempts).</summary>
    public int? MaxRetryAttempts { get; set; }
    /// <summary>When it was saved.</summary>
    public DateTimeOffset CreatedOn { get; set; }
    /// <summary>DPAPI (CurrentUser) protected client secret, base64. Windows only.</summary>
    [JsonInclude]
    internal string? ProtectedClientSecret { get; set; }
    /// <summary>DPAPI (CurrentUser) protected PFX password, base64. Windows only.</summary>
    [JsonInclude]
    internal string? ProtectedCertificatePassword { get; set; }
    /// <summary>The file the profile is stored in.</summary>
    [JsonIgnore]
    public string? Path { get; internal set; }

    internal CredentialSpec ToCredentialSpec()
    {
        CredentialKind kind = CredentialType switch
        {
            "CertificateThumbprint" => CredentialKind.CertificateThumbprint,
            "CertificatePath" => CredentialKind.CertificatePath,
            "ClientSecretProtected" => CredentialKind.ClientSecret,
            "ClientSecretEnvironmentVariable" => CredentialKind.ClientSecretEnvironmentVariable,
            "ManagedIdentity" => CredentialKind.ManagedIdentity,
            "WorkloadIdentity" => CredentialKind.WorkloadIdentity,
            "EnvironmentVariable" => CredentialKind.EnvironmentVariable,
            "GoogleServiceAccountKeyPath" => CredentialKind.GoogleServiceAccountKeyPath,
            "GoogleServiceAccountKeyEnvironmentVariable" => CredentialKind.GoogleServiceAccountKeyEnvironmentVariable,
            "GoogleServiceAccountCertificateThumbprint" => CredentialKind.GoogleServiceAccountCertificateThumbprint,
            "GoogleServiceAccountCertificatePath" => CredentialKind.GoogleServiceAccountCertificatePath,
            _ => throw new PmpMailSetupException("ProfileInvalid", $"Profile '{Name}' has an unknown credential type '{CredentialType}'.", "Register the profile again."),
        };
        return new CredentialSpec
        {
            TenantId = TenantId,
            ClientId = ClientId,
            Kind = kind,
            CertificateThumbprint = CertificateThumbprint,
            CertificatePath = CertificatePath,
            CertificatePassword = ProtectedCertificatePassword is null ? null : Dpapi.Unprotect(ProtectedCertificatePassword, Name),
            ClientSecret = ProtectedClientSecret is null ? null : Dpapi.Unprotect(ProtectedClientSecret, Name),
            ClientSecretEnvironmentVariable = ClientSecretEnvironmentVariable,
            ManagedIdentityObjectId = ManagedIdentityObjectId,
            ManagedIdentityResourceId = ManagedIdentityResourceId,
            FederatedTokenFile = FederatedTokenFile,
            ServiceAccountKeyPath = ServiceAccountKeyPath,
            ServiceAccountKeyEnvironmentVariable = ServiceAccountKeyEnvironmentVariable,
            ServiceAccountEmail = ServiceAccountEmail,
            ServiceAccountKeyId = ServiceAccountKeyId,
            Impersonate = Impersonate,
            GoogleTokenUri = GoogleTokenUri,
            GmailRoot = GmailRoot,
            Environment = Enum.TryParse(Environment, true, out PmpMailCloud cloud) ? cloud : null,
            AuthorityHost = AuthorityHost,
            GraphRoot = GraphRoot,
            TrustedCaPath = TrustedCaPath,
            Proxy = Proxy,
            NoProxy = NoProxy,
            AssertionAlgorithm = Enum.TryParse(AssertionAlgorithm, true, out PmpAssertionAlgorithm algorithm) ? algorithm : null,
            RetryUnknownOutcome = RetryUnknownOutcome,
            TimeoutSeconds = TimeoutSeconds,
            MaxRetryWaitSeconds = MaxRetryWaitSeconds,
            MaxRetryAttempts = MaxRetryAttempts,
            ProfileName = Name,
        };
    }
}
