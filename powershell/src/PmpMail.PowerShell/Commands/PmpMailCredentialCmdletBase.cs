using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Security;
using System.Security.Cryptography.X509Certificates;
using PmpMail.Interop;

namespace PmpMail.Commands;

/// <summary>
/// The credential parameters every PmpMail cmdlet that authenticates shares: tenant, client id, one credential
/// form (one parameter set each: an app's secret or certificate, a managed identity, a federated token file, or the
/// AZURE_* environment variables), the cloud, and endpoint overrides.
/// </summary>
public abstract class PmpMailCredentialCmdletBase : PSCmdlet
{
    internal const string ClientSecretSet = "ClientSecret";
    internal const string ClientSecretCredentialSet = "ClientSecretCredential";
    internal const string ClientSecretEnvironmentVariableSet = "ClientSecretEnvironmentVariable";
    internal const string CertificateThumbprintSet = "CertificateThumbprint";
    internal const string CertificateSet = "Certificate";
    internal const string CertificatePathSet = "CertificatePath";
    internal const string ManagedIdentitySet = "ManagedIdentity";
    internal const string FederatedTokenFileSet = "FederatedTokenFile";
    internal const string EnvironmentVariableSet = "EnvironmentVariable";
    internal const string ClientAssertionSet = "ClientAssertion";
    internal const string ServiceAccountKeyPathSet = "ServiceAccountKeyPath";
    internal const string ServiceAccountKeySet = "ServiceAccountKey";
    internal const string ServiceAccountKeyEnvironmentVariableSet = "ServiceAccountKeyEnvironmentVariable";
    internal const string ServiceAccountCertificateThumbprintSet = "ServiceAccountCertificateThumbprint";
    internal const string ServiceAccountCertificateSet = "ServiceAccountCertificate";
    internal const string ServiceAccountCertificatePathSet = "ServiceAccountCertificatePath";

    #region Parameters

    /// <summary>Tenant id (GUID), verified domain, or authority URL.</summary>
    [Parameter(ParameterSetName = ClientSecretSet, Mandatory = true)]
    [Parameter(ParameterSetName = ClientSecretCredentialSet, Mandatory = true)]
    [Parameter(ParameterSetName = ClientSecretEnvironmentVariableSet, Mandatory = true)]
    [Parameter(ParameterSetName = CertificateThumbprintSet, Mandatory = true)]
    [Parameter(ParameterSetName = CertificateSet, Mandatory = true)]
    [Parameter(ParameterSetName = CertificatePathSet, Mandatory = true)]
    [Parameter(ParameterSetName = FederatedTokenFileSet)]
    [Parameter(ParameterSetName = ClientAssertionSet, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    [Alias("Tenant")]
    public string? TenantId { get; set; }

    /// <summary>
    /// The app registration's application (client) id; with -ManagedIdentity the client id of a user-assigned
    /// identity; with -FederatedTokenFile the app or user-assigned identity holding the federated credential; with
    /// -ServiceAccountEmail (optional) the service account's numeric client id, which the delegation remedies name.
    /// </summary>
    [Parameter(ParameterSetName = ClientSecretSet, Mandatory = true)]
    [Parameter(ParameterSetName = ClientSecretCredentialSet)]
    [Parameter(ParameterSetName = ClientSecretEnvironmentVariableSet, Mandatory = true)]
    [Parameter(ParameterSetName = CertificateThumbprintSet, Mandatory = true)]
    [Parameter(ParameterSetName = CertificateSet, Mandatory = true)]
    [Parameter(ParameterSetName = CertificatePathSet, Mandatory = true)]
    [Parameter(ParameterSetName = ManagedIdentitySet)]
    [Parameter(ParameterSetName = FederatedTokenFileSet)]
    [Parameter(ParameterSetName = ClientAssertionSet, Mandatory = true)]
    [Parameter(ParameterSetName = ServiceAccountCertificateThumbprintSet)]
    [Parameter(ParameterSetName = ServiceAccountCertificateSet)]
    [Parameter(ParameterSetName = ServiceAccountCertificatePathSet)]
    [ValidateNotNullOrEmpty]
    [Alias("ApplicationId", "AppId")]
    public string? ClientId { get; set; }

    /// <summary>The client secret.</summary>
    [Parameter(ParameterSetName = ClientSecretSet, Mandatory = true)]
    [ValidateNotNull]
    public SecureString? ClientSecret { get; set; }

    /// <summary>Client id as user name, client secret as password.</summary>
    [Parameter(ParameterSetName = ClientSecretCredentialSet, Mandatory = true)]
    [ValidateNotNull]
    [Credential]
    public PSCredential? ClientSecretCredential { get; set; }

    /// <summary>Name of an environment variable holding the client secret, read when used.</summary>
    [Parameter(ParameterSetName = ClientSecretEnvironmentVariableSet, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string? ClientSecretEnvironmentVariable { get; set; }

    /// <summary>Thumbprint of a certificate in CurrentUser\My or LocalMachine\My.</summary>
    [Parameter(ParameterSetName = CertificateThumbprintSet, Mandatory = true)]
    [Parameter(ParameterSetName = ServiceAccountCertificateThumbprintSet, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string? CertificateThumbprint { get; set; }

    /// <summary>A certificate with its private key.</summary>
    [Parameter(ParameterSetName = CertificateSet, Mandatory = true)]
    [Parameter(ParameterSetName = ServiceAccountCertificateSet, Mandatory = true)]
    [ValidateNotNull]
    public X509Certificate2? Certificate { get; set; }

    /// <summary>Path of a PFX (PKCS#12) file with the certificate and private key.</summary>
    [Parameter(ParameterSetName = CertificatePathSet, Mandatory = true)]
    [Parameter(ParameterSetName = ServiceAccountCertificatePathSet, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string? CertificatePath { get; set; }

    /// <summary>Password of the PFX file.</summary>
    [Parameter(ParameterSetName = CertificatePathSet)]
    [Parameter(ParameterSetName = ServiceAccountCertificatePathSet)]
    public SecureString? CertificatePassword { get; set; }

    /// <summary>
    /// The Azure resource's managed identity (Automation, Functions, App Service, VMs, Arc servers): system-assigned,
    /// or user-assigned with -ClientId, -ManagedIdentityObjectId or -ManagedIdentityResourceId.
    /// </summary>
    [Parameter(ParameterSetName = ManagedIdentitySet, Mandatory = true)]
    [Alias("Identity")]
    public SwitchParameter ManagedIdentity { get; set; }

    /// <summary>A user-assigned managed identity by its object (principal) id.</summary>
    [Parameter(ParameterSetName = ManagedIdentitySet)]
    [ValidateNotNullOrEmpty]
    public string? ManagedIdentityObjectId { get; set; }

    /// <summary>A user-assigned managed identity by its ARM resource id.</summary>
    [Parameter(ParameterSetName = ManagedIdentitySet)]
    [ValidateNotNullOrEmpty]
    public string? ManagedIdentityResourceId { get; set; }

    /// <summary>
    /// Workload identity federation: the file holding the OIDC token that is the client assertion (re-read for every
    /// token request). -TenantId and -ClientId default to AZURE_TENANT_ID and AZURE_CLIENT_ID.
    /// </summary>
    [Parameter(ParameterSetName = FederatedTokenFileSet, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string? FederatedTokenFile { get; set; }

    /// <summary>
    /// A script block that returns the client assertion (a federated token whose issuer, subject and audience match a
    /// federated credential of the app) whenever a token is needed, for sources the module does not read itself: a CI
    /// system's OIDC endpoint, a token broker. It gets the request (ClientId, TokenUrl) as its argument and runs in
    /// this session on the pipeline thread, once per token, not once per mail.
    /// </summary>
    [Parameter(ParameterSetName = ClientAssertionSet, Mandatory = true)]
    [ValidateNotNull]
    public ScriptBlock? ClientAssertion { get; set; }

    /// <summary>
    /// The credential in the AZURE_* environment variables, as Azure's EnvironmentCredential reads them: a client
    /// secret, a certificate file, or a federated token file, with AZURE_TENANT_ID and AZURE_CLIENT_ID.
    /// </summary>
    [Parameter(ParameterSetName = EnvironmentVariableSet, Mandatory = true)]
    public SwitchParameter EnvironmentVariable { get; set; }

    /// <summary>
    /// Google Workspace: the path of the service account's JSON key file (as the Cloud console downloads it). The
    /// service account needs domain-wide delegation for https://www.googleapis.com/auth/gmail.send.
    /// </summary>
    [Parameter(ParameterSetName = ServiceAccountKeyPathSet, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string? ServiceAccountKeyPath { get; set; }

    /// <summary>
    /// Google Workspace: the text of the service account's JSON key as a SecureString (from a vault, say). It is turned
    /// into bytes only inside the native call, in a buffer that is zeroed, and never shown.
    /// </summary>
    [Parameter(ParameterSetName = ServiceAccountKeySet, Mandatory = true)]
    [ValidateNotNull]
    public SecureString? ServiceAccountKey { get; set; }

    /// <summary>
    /// Google Workspace: the name of an environment variable holding the whole JSON key file's text (as CI systems
    /// store it), read when the connection is made, never saved (a profile keeps the name only) and never shown.
    /// </summary>
    [Parameter(ParameterSetName = ServiceAccountKeyEnvironmentVariableSet, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string? ServiceAccountKeyEnvironmentVariable { get; set; }

    /// <summary>
    /// Google Workspace with a certificate (-CertificateThumbprint, -Certificate or -CertificatePath) whose public key
    /// was uploaded to the service account, so the private key stays in the store or PFX: the service account's email
    /// (client_email), the assertion's issuer.
    /// </summary>
    [Parameter(ParameterSetName = ServiceAccountCertificateThumbprintSet, Mandatory = true)]
    [Parameter(ParameterSetName = ServiceAccountCertificateSet, Mandatory = true)]
    [Parameter(ParameterSetName = ServiceAccountCertificatePathSet, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string? ServiceAccountEmail { get; set; }

    /// <summary>
    /// Google Workspace with a certificate: the id Google gave the uploaded key (IAM &amp; Admin &gt; Service accounts
    /// &gt; Keys), the assertion's kid.
    /// </summary>
    [Parameter(ParameterSetName = ServiceAccountCertificateThumbprintSet, Mandatory = true)]
    [Parameter(ParameterSetName = ServiceAccountCertificateSet, Mandatory = true)]
    [Parameter(ParameterSetName = ServiceAccountCertificatePathSet, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string? ServiceAccountKeyId { get; set; }

    /// <summary>
    /// Google Workspace: the user the service account acts as (domain-wide delegation). Send-PmpMail defaults to each
    /// message's -From address; Test-PmpMailPermission and Connect-PmpMail test this user.
    /// </summary>
    [Parameter(ParameterSetName = ServiceAccountKeyPathSet)]
    [Parameter(ParameterSetName = ServiceAccountKeySet)]
    [Parameter(ParameterSetName = ServiceAccountKeyEnvironmentVariableSet)]
    [Parameter(ParameterSetName = ServiceAccountCertificateThumbprintSet)]
    [Parameter(ParameterSetName = ServiceAccountCertificateSet)]
    [Parameter(ParameterSetName = ServiceAccountCertificatePathSet)]
    [ValidateNotNullOrEmpty]
    public string? Impersonate { get; set; }

    /// <summary>Google Workspace: override of the token URI (e.g. the emulator's /token); default the key file's token_uri.</summary>
    [Parameter(ParameterSetName = ServiceAccountKeyPathSet)]
    [Parameter(ParameterSetName = ServiceAccountKeySet)]
    [Parameter(ParameterSetName = ServiceAccountKeyEnvironmentVariableSet)]
    [Parameter(ParameterSetName = ServiceAccountCertificateThumbprintSet)]
    [Parameter(ParameterSetName = ServiceAccountCertificateSet)]
    [Parameter(ParameterSetName = ServiceAccountCertificatePathSet)]
    [ValidateNotNull]
    public Uri? GoogleTokenUri { get; set; }

    /// <summary>Google Workspace: override of the Gmail API root (e.g. the emulator); default https://gmail.googleapis.com.</summary>
    [Parameter(ParameterSetName = ServiceAccountKeyPathSet)]
    [Parameter(ParameterSetName = ServiceAccountKeySet)]
    [Parameter(ParameterSetName = ServiceAccountKeyEnvironmentVariableSet)]
    [Parameter(ParameterSetName = ServiceAccountCertificateThumbprintSet)]
    [Parameter(ParameterSetName = ServiceAccountCertificateSet)]
    [Parameter(ParameterSetName = ServiceAccountCertificatePathSet)]
    [ValidateNotNull]
    public Uri? GmailRoot { get; set; }

    /// <summary>The national cloud of the app registration.</summary>
    [Parameter]
    public PmpMailCloud Environment { get; set; } = PmpMailCloud.Global;

    /// <summary>Override of the Entra ID authority host (e.g. the emulator).</summary>
    [Parameter]
    [ValidateNotNull]
    public Uri? AuthorityHost { get; set; }

    /// <summary>Override of the Microsoft Graph root (e.g. the emulator).</summary>
    [Parameter]
    [ValidateNotNull]
    public Uri? GraphRoot { get; set; }

    /// <summary>PEM file of extra CA certificates to trust (e.g. the emulator's CA).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? TrustedCaPath { get; set; }

    /// <summary>An explicit HTTP proxy (http:// or https:// URL) for every request; else HTTPS_PROXY/NO_PROXY apply.</summary>
    [Parameter]
    [ValidateNotNull]
    public Uri? Proxy { get; set; }

    /// <summary>Hosts that bypass -Proxy.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? NoProxy { get; set; }

    /// <summary>Client-assertion algorithm for certificates: PS256 (default) or RS256 (x5t header) for tenants that refuse x5t#S256.</summary>
    [Parameter]
    public PmpAssertionAlgorithm AssertionAlgorithm { get; set; } = PmpAssertionAlgorithm.PS256;

    /// <summary>
    /// Retry a send whose outcome is unknown (the answer was lost after Graph may have accepted it). Off by default:
    /// such a retry can deliver the message twice.
    /// </summary>
    [Parameter]
    public SwitchParameter RetryUnknownOutcome { get; set; }

    /// <summary>Whole-request timeout in seconds (default 100).</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int? TimeoutSeconds { get; set; }

    /// <summary>Cap on the total time one call waits between retries, e.g. for Retry-After (default 120).</summary>
    [Parameter]
    [ValidateRange(0, 3600)]
    public int? MaxRetryWaitSeconds { get; set; }

    /// <summary>How many times one request is tried in all, e.g. while Graph answers 429 (default 4).</summary>
    [Parameter]
    [ValidateRange(1, 20)]
    public int? MaxRetryAttempts { get; set; }

    #endregion

    /// <summary>True when one of the credential parameter sets is in use.</summary>
    internal bool HasCredentialParameters => CredentialKindOf(ParameterSetName) is not null;

    /// <summary>True when any endpoint parameter was given.</summary>
    internal bool HasEndpointParameters =>
        MyInvocation.BoundParameters.ContainsKey(nameof(Environment)) || AuthorityHost is not null || GraphRoot is not null || TrustedCaPath is not null
        || Proxy is not null || NoProxy is not null || MyInvocation.BoundParameters.ContainsKey(nameof(AssertionAlgorithm)) || MyInvocation.BoundParameters.ContainsKey(nameof(RetryUnknownOutcome))
        || TimeoutSeconds is not null || MaxRetryWaitSeconds is not null || MaxRetryAttempts is not null;

    /// <summary>Builds the spec for the credential parameters given (null when none were).</summary>
    internal CredentialSpec? BuildCredentialSpec(string? profileName = null)
    {
        CredentialKind? kind = CredentialKindOf(ParameterSetName);
        if (kind is null)
        {
            return null;
        }

        if (kind == CredentialKind.ManagedIdentity)
        {
            string[] given = new[] { (nameof(ClientId), ClientId), (nameof(ManagedIdentityObjectId), ManagedIdentityObjectId), (nameof(ManagedIdentityResourceId), ManagedIdentityResourceId) }
                .Where(p => p.Item2 is not null).Select(p => "-" + p.Item1).ToArray();
            if (given.Length > 1)
            {
                throw new PmpMailSetupException(
                    "ManagedIdentityIdConflict",
                    $"{string.Join(" and ", given)} each select a user-assigned managed identity; give at most one.",
                    "Pass one of -ClientId, -ManagedIdentityObjectId or -ManagedIdentityResourceId for a user-assigned identity, or none for the resource's system-assigned identity.");
            }
        }

        string? clientId = ClientId;
        SecureString? secret = ClientSecret;
        if (kind == CredentialKind.ClientSecretCredential)
        {
            // The PSCredential convention for apps: user name = client id, password = secret.
            if (!string.IsNullOrEmpty(ClientId) && !string.Equals(ClientId, ClientSecretCredential!.UserName, StringComparison.OrdinalIgnoreCase))
            {
                throw new PmpMailSetupException("ClientIdMismatch", $"-ClientId '{ClientId}' differs from the credential's user name '{ClientSecretCredential.UserName}'.", "The credential's user name must be the client id; omit -ClientId or make them match.");
            }

            clientId = ClientSecretCredential!.UserName;
            secret = ClientSecretCredential.Password;
        }

        var spec = new CredentialSpec
        {
            TenantId = TenantId,
            ClientId = clientId,
            Kind = kind.Value,
            ClientSecret = secret,
            ClientSecretEnvironmentVariable = ClientSecretEnvironmentVariable,
            CertificateThumbprint = CertificateThumbprint,
            Certificate = Certificate,
            CertificatePath = CertificatePath is null ? null : ResolvePath(CertificatePath),
            CertificatePassword = CertificatePassword,
            ManagedIdentityObjectId = ManagedIdentityObjectId,
            ManagedIdentityResourceId = ManagedIdentityResourceId,
            FederatedTokenFile = FederatedTokenFile is null ? null : ResolvePath(FederatedTokenFile),
            ClientAssertion = ClientAssertion,
            ServiceAccountKeyPath = ServiceAccountKeyPath is null ? null : ResolvePath(ServiceAccountKeyPath),
            ServiceAccountKey = ServiceAccountKey,
            ServiceAccountKeyEnvironmentVariable = ServiceAccountKeyEnvironmentVariable,
            ServiceAccountEmail = ServiceAccountEmail,
            ServiceAccountKeyId = ServiceAccountKeyId,
            Impersonate = Impersonate,
            GoogleTokenUri = GoogleTokenUri,
            GmailRoot = GmailRoot,
            ProfileName = profileName,
        };
        ApplyEndpoints(spec);
        return spec;
    }

    /// <summary>
    /// Applies -Environment, -AuthorityHost, -GraphRoot, -TrustedCaPath, -Proxy, -NoProxy, -AssertionAlgorithm,
    /// -RetryUnknownOutcome, -TimeoutSeconds, -MaxRetryWaitSeconds and -MaxRetryAttempts to a spec (overriding a profile's).
    /// </summary>
    internal void ApplyEndpoints(CredentialSpec spec)
    {
        if (MyInvocation.BoundParameters.ContainsKey(nameof(Environment)))
        {
            spec.Environment = Environment;
        }

        spec.AuthorityHost = AuthorityHost ?? spec.AuthorityHost;
        spec.GraphRoot = GraphRoot ?? spec.GraphRoot;
        spec.TrustedCaPath = TrustedCaPath is null ? spec.TrustedCaPath : ResolvePath(TrustedCaPath);
        spec.Proxy = Proxy ?? spec.Proxy;
        spec.NoProxy = NoProxy ?? spec.NoProxy;
        if (MyInvocation.BoundParameters.ContainsKey(nameof(AssertionAlgorithm)))
        {
            spec.AssertionAlgorithm = AssertionAlgorithm;
        }

        if (MyInvocation.BoundParameters.ContainsKey(nameof(RetryUnknownOutcome)))
        {
            spec.RetryUnknownOutcome = RetryUnknownOutcome.IsPresent;
        }

        spec.TimeoutSeconds = TimeoutSeconds ?? spec.TimeoutSeconds;
        spec.MaxRetryWaitSeconds = MaxRetryWaitSeconds ?? spec.MaxRetryWaitSeconds;
        spec.MaxRetryAttempts = MaxRetryAttempts ?? spec.MaxRetryAttempts;
    }

    /// <summary>Resolves a path against PowerShell's current location (not the process directory).</summary>
    internal string ResolvePath(string path) => SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);

    /// <summary>Writes each log line of a native document as verbose output (pipeline thread only).</summary>
    internal void WriteLog(IEnumerable<string>? lines)
    {
        if (lines is null)
        {
            return;
        }

        foreach (string line in lines)
        {
            WriteVerbose(line);
        }
    }

    /// <summary>Stops the cmdlet with a mapped setup error.</summary>
    internal void ThrowSetupError(PmpMailSetupException exception, object? target) =>
        ThrowTerminatingError(ErrorMapper.ToErrorRecord(exception, target));

    private static CredentialKind? CredentialKindOf(string? parameterSetName) => parameterSetName switch
    {
        ClientSecretSet => CredentialKind.ClientSecret,
        ClientSecretCredentialSet => CredentialKind.ClientSecretCredential,
        ClientSecretEnvironmentVariableSet => CredentialKind.ClientSecretEnvironmentVariable,
        CertificateThumbprintSet => CredentialKind.CertificateThumbprint,
        CertificateSet => CredentialKind.Certificate,
        CertificatePathSet => CredentialKind.CertificatePath,
        ManagedIdentitySet => CredentialKind.ManagedIdentity,
        FederatedTokenFileSet => CredentialKind.WorkloadIdentity,
        EnvironmentVariableSet => CredentialKind.EnvironmentVariable,
        ClientAssertionSet => CredentialKind.ClientAssertion,
        ServiceAccountKeyPathSet => CredentialKind.GoogleServiceAccountKeyPath,
        ServiceAccountKeySet => CredentialKind.GoogleServiceAccountKey,
        ServiceAccountKeyEnvironmentVariableSet => CredentialKind.GoogleServiceAccountKeyEnvironmentVariable,
        ServiceAccountCertificateThumbprintSet => CredentialKind.GoogleServiceAccountCertificateThumbprint,
        ServiceAccountCertificateSet => CredentialKind.GoogleServiceAccountCertificate,
        ServiceAccountCertificatePathSet => CredentialKind.GoogleServiceAccountCertificatePath,
        _ => null,
    };
}
