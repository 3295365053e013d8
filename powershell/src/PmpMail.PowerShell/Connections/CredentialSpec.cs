using System;
using System.Collections.Generic;
using System.Security;
using System.Security.Cryptography.X509Certificates;
using PmpMail.Interop;

namespace PmpMail;

/// <summary>Everything needed to build a connection, from cmdlet parameters or a saved profile.</summary>
internal sealed class CredentialSpec
{
    /// <summary>
    /// The tenant. Null for a managed identity (which needs none), and for workload identity until
    /// <see cref="EnvironmentCredential.Resolve"/> fills it from AZURE_TENANT_ID.
    /// </summary>
    public string? TenantId { get; init; }
    /// <summary>
    /// The app registration's client id; with a managed identity the user-assigned identity's client id (null:
    /// system-assigned, or chosen by <see cref="ManagedIdentityObjectId"/> or <see cref="ManagedIdentityResourceId"/>).
    /// </summary>
    public string? ClientId { get; init; }
    public required CredentialKind Kind { get; init; }
    public SecureString? ClientSecret { get; init; }
    public string? ClientSecretEnvironmentVariable { get; init; }
    public string? CertificateThumbprint { get; init; }
    public X509Certificate2? Certificate { get; init; }
    /// <summary>PFX file (<see cref="CredentialKind.CertificatePath"/>) or PEM file (<see cref="CredentialKind.CertificatePem"/>).</summary>
    public string? CertificatePath { get; init; }
    public SecureString? CertificatePassword { get; init; }
    /// <summary>A user-assigned managed identity by object (principal) id.</summary>
    public string? ManagedIdentityObjectId { get; init; }
    /// <summary>A user-assigned managed identity by ARM resource id.</summary>
    public string? ManagedIdentityResourceId { get; init; }
    /// <summary>Workload identity's token file; null means AZURE_FEDERATED_TOKEN_FILE when the connection is made.</summary>
    public string? FederatedTokenFile { get; init; }
    /// <summary>-ClientAssertion: the script block that returns each client assertion.</summary>
    public System.Management.Automation.ScriptBlock? ClientAssertion { get; init; }
    /// <summary>The environment variables the credential was read from (names only), for messages.</summary>
    public IReadOnlyList<string>? EnvironmentVariablesUsed { get; init; }
    /// <summary>Google Workspace: the service account key file (<see cref="CredentialKind.GoogleServiceAccountKeyPath"/>).</summary>
    public string? ServiceAccountKeyPath { get; init; }
    /// <summary>Google Workspace: the key's JSON text (<see cref="CredentialKind.GoogleServiceAccountKey"/>); never saved, never shown.</summary>
    public SecureString? ServiceAccountKey { get; init; }
    /// <summary>Google Workspace: the environment variable holding the key's JSON text (its name only; read when used).</summary>
    public string? ServiceAccountKeyEnvironmentVariable { get; init; }
    /// <summary>Google Workspace with a certificate: the service account's email (the assertion's iss).</summary>
    public string? ServiceAccountEmail { get; init; }
    /// <summary>Google Workspace with a certificate: the uploaded key's id (the assertion's kid).</summary>
    public string? ServiceAccountKeyId { get; init; }
    /// <summary>Google Workspace: the user every token acts as; null means each message's From address.</summary>
    public string? Impersonate { get; set; }
    /// <summary>Google Workspace: token URI override (e.g. the emulator's /token).</summary>
    public Uri? GoogleTokenUri { get; set; }
    /// <summary>Google Workspace: Gmail API root override (e.g. the emulator).</summary>
    public Uri? GmailRoot { get; set; }
    public PmpMailCloud? Environment { get; set; }
    public Uri? AuthorityHost { get; set; }
    public Uri? GraphRoot { get; set; }
    public string? TrustedCaPath { get; set; }
    public Uri? Proxy { get; set; }
    public string[]? NoProxy { get; set; }
    public PmpAssertionAlgorithm? AssertionAlgorithm { get; set; }
    public bool? RetryUnknownOutcome { get; set; }
    public int? TimeoutSeconds { get; set; }
    public int? MaxRetryWaitSeconds { get; set; }
    public int? MaxRetryAttempts { get; set; }
    /// <summary>Sends in flight per mailbox (Send-PmpMail -ThrottleLimit above the default); not saved in profiles.</summary>
    public int? MaxConcurrentPerMailbox { get; set; }
    public string? ProfileName { get; init; }

    /// <summary>True for a Google Workspace service account (Gmail), false for Microsoft 365 (Graph).</summary>
    public bool IsGoogle => Kind is CredentialKind.GoogleServiceAccountKeyPath or CredentialKind.GoogleServiceAccountKey or CredentialKind.GoogleServiceAccountKeyEnvironmentVariable
        or CredentialKind.GoogleServiceAccountCertificateThumbprint or CredentialKind.GoogleServiceAccountCertificate or CredentialKind.GoogleServiceAccountCertificatePath;

    /// <summary>True for credentials without an app registration's tenant (managed identity).</summary>
    public bool IsManagedIdentity => Kind == CredentialKind.ManagedIdentity;

    /// <summary>"system-assigned", or "user-assigned, client id ..." (managed identity only).</summary>
    public string ManagedIdentityDescription =>
        !string.IsNullOrEmpty(ManagedIdentityObjectId) ? $"user-assigned, object id {ManagedIdentityObjectId}"
        : !string.IsNullOrEmpty(ManagedIdentityResourceId) ? $"user-assigned, resource id {ManagedIdentityResourceId}"
        : !string.IsNullOrEmpty(ClientId) ? $"user-assigned, client id {ClientId}"
        : "system-assigned";

    /// <summary>Who authenticates, for messages: "managed identity (system-assigned)", "app X in tenant Y", ...</summary>
    public string Describe() => Kind switch
    {
        CredentialKind.ManagedIdentity => $"managed identity ({ManagedIdentityDescription})",
        CredentialKind.EnvironmentVariable => "the credential in the AZURE_* environment variables",
        CredentialKind.WorkloadIdentity => $"workload identity: app {ClientId ?? "from AZURE_CLIENT_ID"} in tenant {TenantId ?? "from AZURE_TENANT_ID"}, token file {FederatedTokenFile ?? "from AZURE_FEDERATED_TOKEN_FILE"}",
        CredentialKind.GoogleServiceAccountKeyPath => $"Google Workspace service account key file '{ServiceAccountKeyPath}'" + (Impersonate is null ? string.Empty : $" as {Impersonate}"),
        CredentialKind.GoogleServiceAccountKey => "Google Workspace service account key (-ServiceAccountKey)" + (Impersonate is null ? string.Empty : $" as {Impersonate}"),
        CredentialKind.GoogleServiceAccountKeyEnvironmentVariable => $"Google Workspace service account key in environment variable '{ServiceAccountKeyEnvironmentVariable}'" + (Impersonate is null ? string.Empty : $" as {Impersonate}"),
        CredentialKind.GoogleServiceAccountCertificateThumbprint or CredentialKind.GoogleServiceAccountCertificate or CredentialKind.GoogleServiceAccountCertificatePath =>
            $"Google Workspace service account {ServiceAccountEmail} (key {ServiceAccountKeyId}, signed with a certificate)" + (Impersonate is null ? string.Empty : $" as {Impersonate}"),
        CredentialKind.ClientAssertion => $"app {ClientId} in tenant {TenantId} with the -ClientAssertion script block's federated token",
        _ => $"app {ClientId} in tenant {TenantId}",
    };

    /// <summary>A spec for another credential with this one's endpoint and HTTP settings and profile name.</summary>
    public CredentialSpec With(
        CredentialKind kind,
        string? tenantId,
        string? clientId,
        IReadOnlyList<string> environmentVariablesUsed,
        string? clientSecretEnvironmentVariable = null,
        string? certificatePath = null,
        SecureString? certificatePassword = null,
        string? federatedTokenFile = null) => new()
        {
            Kind = kind,
            TenantId = tenantId,
            ClientId = clientId,
            EnvironmentVariablesUsed = environmentVariablesUsed,
            ClientSecretEnvironmentVariable = clientSecretEnvironmentVariable,
            CertificatePath = certificatePath,
            CertificatePassword = certificatePassword,
            FederatedTokenFile = federatedTokenFile,
            Environment = Environment,
            AuthorityHost = AuthorityHost,
            GraphRoot = GraphRoot,
            TrustedCaPath = TrustedCaPath,
            Proxy = Proxy,
            NoProxy = NoProxy,
            AssertionAlgorithm = AssertionAlgorithm,
            RetryUnknownOutcome = RetryUnknownOutcome,
            TimeoutSeconds = TimeoutSeconds,
            MaxRetryWaitSeconds = MaxRetryWaitSeconds,
            MaxRetryAttempts = MaxRetryAttempts,
            MaxConcurrentPerMailbox = MaxConcurrentPerMailbox,
            ProfileName = ProfileName,
        };
}
