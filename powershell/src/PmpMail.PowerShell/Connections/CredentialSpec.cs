using System;
using System.Security;
using System.Security.Cryptography.X509Certificates;
using PmpMail.Interop;

namespace PmpMail;

/// <summary>Everything needed to build a connection, from cmdlet parameters or a saved profile.</summary>
internal sealed class CredentialSpec
{
    public required string TenantId { get; init; }
    public required string ClientId { get; init; }
    public required CredentialKind Kind { get; init; }
    public SecureString? ClientSecret { get; init; }
    public string? ClientSecretEnvironmentVariable { get; init; }
    public string? CertificateThumbprint { get; init; }
    public X509Certificate2? Certificate { get; init; }
    public string? CertificatePath { get; init; }
    public SecureString? CertificatePassword { get; init; }
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
    public string? ProfileName { get; init; }
}
