namespace PmpMail;

/// <summary>How a connection authenticates.</summary>
internal enum CredentialKind
{
    ClientSecret,
    ClientSecretCredential,
    ClientSecretEnvironmentVariable,
    CertificateThumbprint,
    Certificate,
    CertificatePath,
}
