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
    /// <summary>A PEM file with the certificate and its private key, read by the native library (-EnvironmentVariable only).</summary>
    CertificatePem,
    /// <summary>The Azure resource's managed identity: no tenant, no app registration, no secret.</summary>
    ManagedIdentity,
    /// <summary>Workload identity federation: a federated token file is the client assertion.</summary>
    WorkloadIdentity,
    /// <summary>A script block returns each client assertion (a federated token from any source), run on the pipeline thread.</summary>
    ClientAssertion,
    /// <summary>Google Workspace: a service account's JSON key file, read by the native library (-ServiceAccountKeyPath).</summary>
    GoogleServiceAccountKeyPath,
    /// <summary>Google Workspace: a service account's JSON key text as a SecureString (-ServiceAccountKey).</summary>
    GoogleServiceAccountKey,
    /// <summary>Google Workspace: an environment variable holds the key file's JSON text, read when used (-ServiceAccountKeyEnvironmentVariable).</summary>
    GoogleServiceAccountKeyEnvironmentVariable,
    /// <summary>Google Workspace: a store certificate (by thumbprint) whose public key was uploaded to the service account; .NET signs.</summary>
    GoogleServiceAccountCertificateThumbprint,
    /// <summary>Google Workspace: an X509Certificate2 with its private key (-Certificate with -ServiceAccountEmail); .NET signs.</summary>
    GoogleServiceAccountCertificate,
    /// <summary>Google Workspace: a PFX file (-CertificatePath with -ServiceAccountEmail) loaded by .NET, which signs.</summary>
    GoogleServiceAccountCertificatePath,
    /// <summary>
    /// The AZURE_* variables, as Azure's EnvironmentCredential reads them; resolved to one of the kinds above
    /// when the connection is made (<see cref="EnvironmentCredential"/>).
    /// </summary>
    EnvironmentVariable,
}
