using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security;
using PmpMail.Interop;

namespace PmpMail;

/// <summary>
/// Reads the environment variables of the Azure SDKs for -EnvironmentVariable (as Azure's EnvironmentCredential
/// does), for workload identity's defaults, and for the managed-identity endpoints. Host-free: variables come
/// through <c>read</c>, messages go to <c>verbose</c>, and no secret's value is ever part of a message.
/// </summary>
/// <remarks>
/// PowerShell reads them here, not the native library: on Linux and macOS, .NET keeps its own copy of the process
/// environment, so a variable set with <c>$env:NAME = ...</c> is invisible to native code. The values are handed to
/// the native config explicitly instead.
/// </remarks>
internal static class EnvironmentCredential
{
    public const string TenantId = "AZURE_TENANT_ID";
    public const string ClientId = "AZURE_CLIENT_ID";
    public const string ClientSecret = "AZURE_CLIENT_SECRET";
    public const string CertificatePath = "AZURE_CLIENT_CERTIFICATE_PATH";
    public const string CertificatePassword = "AZURE_CLIENT_CERTIFICATE_PASSWORD";
    public const string FederatedTokenFile = "AZURE_FEDERATED_TOKEN_FILE";
    public const string Username = "AZURE_USERNAME";
    public const string Password = "AZURE_PASSWORD";
    public const string AuthorityHost = "AZURE_AUTHORITY_HOST";
    public const string IdentityEndpoint = "IDENTITY_ENDPOINT";
    public const string IdentityHeader = "IDENTITY_HEADER";
    public const string ImdsEndpoint = "IMDS_ENDPOINT";
    public const string PodIdentityAuthorityHost = "AZURE_POD_IDENTITY_AUTHORITY_HOST";

    /// <summary>Every variable -EnvironmentVariable reads, in the order they are listed in messages.</summary>
    public static readonly IReadOnlyList<string> EnvironmentVariableNames =
        [TenantId, ClientId, ClientSecret, CertificatePath, CertificatePassword, FederatedTokenFile, Username, Password, AuthorityHost];

    /// <summary>
    /// Resolves what is read from the environment: -EnvironmentVariable becomes a client secret, certificate or
    /// workload identity spec; workload identity gets its tenant, client id and token file defaults. Any other spec
    /// is returned as is.
    /// </summary>
    public static CredentialSpec Resolve(CredentialSpec spec, Func<string, string?> read, Action<string> verbose) => spec.Kind switch
    {
        CredentialKind.EnvironmentVariable => FromEnvironment(spec, read, verbose),
        CredentialKind.WorkloadIdentity => WithWorkloadDefaults(spec, read, verbose),
        _ => spec,
    };

    /// <summary>
    /// The managed-identity endpoints of this process's environment (null when none of the variables is set: then
    /// IMDS at 169.254.169.254), with a sentence saying which source they select, as the native detection does.
    /// </summary>
    public static PmpManagedIdentityEndpoints? ManagedIdentityEndpoints(Func<string, string?> read, out string source)
    {
        string? endpoint = Get(read, IdentityEndpoint);
        string? header = Get(read, IdentityHeader);
        string? imds = Get(read, ImdsEndpoint);
        string? pod = Get(read, PodIdentityAuthorityHost);
        source = (endpoint, header, imds, pod) switch
        {
            ({ }, { }, _, _) => $"App Service ({IdentityEndpoint} and {IdentityHeader} are set)",
            ({ }, null, { }, _) => $"Azure Arc ({IdentityEndpoint} and {ImdsEndpoint} are set)",
            (_, _, _, { }) => $"IMDS at {pod} ({PodIdentityAuthorityHost})",
            _ => $"IMDS at 169.254.169.254 (none of {IdentityEndpoint} with {IdentityHeader}, {IdentityEndpoint} with {ImdsEndpoint}, or {PodIdentityAuthorityHost} is set)",
        };
        if (endpoint is null && header is null && imds is null && pod is null)
        {
            return null;
        }

        return new PmpManagedIdentityEndpoints
        {
            IdentityEndpoint = LocalUrl(IdentityEndpoint, endpoint),
            IdentityHeader = header,
            ImdsEndpoint = LocalUrl(ImdsEndpoint, imds),
            ImdsBaseUrl = LocalUrl(PodIdentityAuthorityHost, pod),
        };
    }

    private static CredentialSpec WithWorkloadDefaults(CredentialSpec spec, Func<string, string?> read, Action<string> verbose)
    {
        var used = new List<string>();
        string NotGiven(string parameter) => spec.ProfileName is null ? $"{parameter} was not given" : $"profile '{spec.ProfileName}' has no {parameter}";
        string tenant = spec.TenantId ?? FromVariable(read, TenantId, used) ?? throw new PmpMailSetupException(
            "WorkloadIdentityTenantMissing",
            $"Workload identity needs the tenant: {NotGiven("-TenantId")} and {TenantId} is not set.",
            $"Pass -TenantId, or set {TenantId} (AKS workload identity sets it in the pod).");
        string clientId = spec.ClientId ?? FromVariable(read, ClientId, used) ?? throw new PmpMailSetupException(
            "WorkloadIdentityClientIdMissing",
            $"Workload identity needs the client id of the app registration or user-assigned identity that holds the federated credential: {NotGiven("-ClientId")} and {ClientId} is not set.",
            $"Pass -ClientId, or set {ClientId} (AKS workload identity sets it from the service account's azure.workload.identity/client-id annotation).");
        string tokenFile = spec.FederatedTokenFile ?? FullPath(FromVariable(read, FederatedTokenFile, used)) ?? throw new PmpMailSetupException(
            "WorkloadIdentityTokenFileMissing",
            $"Workload identity needs the federated token file: the profile names none and {FederatedTokenFile} is not set.",
            $"Register the profile again with -FederatedTokenFile, or set {FederatedTokenFile}.");
        verbose(used.Count == 0
            ? $"Workload identity: app {clientId} in tenant {tenant}, token file '{tokenFile}' (read for every token request)."
            : $"Workload identity: app {clientId} in tenant {tenant}, token file '{tokenFile}' (read for every token request); from the environment: {string.Join(", ", used)}.");
        return spec.With(CredentialKind.WorkloadIdentity, tenant, clientId, used, federatedTokenFile: tokenFile);
    }

    private static CredentialSpec FromEnvironment(CredentialSpec spec, Func<string, string?> read, Action<string> verbose)
    {
        string? tenant = Get(read, TenantId);
        string? clientId = Get(read, ClientId);
        // Azure's EnvironmentCredential order: a client secret, else a certificate; then workload identity's file.
        string? credentialVariable = new[] { ClientSecret, CertificatePath, FederatedTokenFile }.FirstOrDefault(name => Get(read, name) is not null);
        if (credentialVariable is null)
        {
            if (Get(read, Username) is not null || Get(read, Password) is not null)
            {
                throw new PmpMailSetupException(
                    "EnvironmentUserCredentialNotSupported",
                    $"{Username}/{Password} hold a user's credentials, which PmpMail does not support: unattended mail is sent as an application (or a managed identity), never by signing in as a user. Read: {Inventory(read)}.",
                    $"Set {TenantId} and {ClientId} with {ClientSecret}, {CertificatePath} or {FederatedTokenFile} for an app registration with the Mail.Send application permission, or use -ManagedIdentity on Azure.");
            }

            throw NotFound(read, $"none of {ClientSecret}, {CertificatePath} or {FederatedTokenFile} is set");
        }

        string[] missing = new[] { (TenantId, tenant), (ClientId, clientId) }.Where(v => v.Item2 is null).Select(v => v.Item1).ToArray();
        if (missing.Length > 0)
        {
            throw NotFound(read, $"{credentialVariable} is set, but {string.Join(" and ", missing)} {(missing.Length == 1 ? "is" : "are")} not");
        }

        var used = new List<string> { TenantId, ClientId, credentialVariable };
        CredentialSpec resolved;
        switch (credentialVariable)
        {
            case ClientSecret:
                // Read again, by name, when the connection is made (ConnectionFactory), like -ClientSecretEnvironmentVariable.
                resolved = spec.With(CredentialKind.ClientSecretEnvironmentVariable, tenant, clientId, used, clientSecretEnvironmentVariable: ClientSecret);
                verbose($"-EnvironmentVariable: client secret from {ClientSecret} (value not shown) for app {clientId} ({ClientId}) in tenant {tenant} ({TenantId}).");
                break;
            case CertificatePath:
                string path = FullPath(Get(read, CertificatePath))!;
                if (!File.Exists(path))
                {
                    throw new PmpMailSetupException("CertificateFileNotFound", $"The certificate file '{path}' named by {CertificatePath} does not exist.", $"Correct {CertificatePath}: a PFX or PEM file with the certificate and its private key.");
                }

                string? password = Get(read, CertificatePassword);
                if (CertificateFile.IsPem(path))
                {
                    resolved = spec.With(CredentialKind.CertificatePem, tenant, clientId, used, certificatePath: path);
                    verbose($"-EnvironmentVariable: PEM certificate and private key from '{path}' ({CertificatePath}) for app {clientId} ({ClientId}) in tenant {tenant} ({TenantId}).");
                    if (password is not null)
                    {
                        verbose($"{CertificatePassword} is not used: it applies to PFX files, and a PEM private key must be unencrypted.");
                    }
                }
                else
                {
                    if (password is not null)
                    {
                        used.Add(CertificatePassword);
                    }

                    resolved = spec.With(CredentialKind.CertificatePath, tenant, clientId, used, certificatePath: path, certificatePassword: ToSecureString(password));
                    verbose($"-EnvironmentVariable: PFX certificate from '{path}' ({CertificatePath}{(password is null ? string.Empty : $", password from {CertificatePassword}, value not shown")}) for app {clientId} ({ClientId}) in tenant {tenant} ({TenantId}).");
                }

                break;
            default:
                string tokenFile = FullPath(Get(read, FederatedTokenFile))!;
                resolved = spec.With(CredentialKind.WorkloadIdentity, tenant, clientId, used, federatedTokenFile: tokenFile);
                verbose($"-EnvironmentVariable: workload identity with the token file '{tokenFile}' ({FederatedTokenFile}, read for every token request) for app {clientId} ({ClientId}) in tenant {tenant} ({TenantId}).");
                break;
        }

        if (resolved.AuthorityHost is null && Get(read, AuthorityHost) is string authority)
        {
            resolved.AuthorityHost = Uri.TryCreate(authority, UriKind.Absolute, out Uri? uri)
                ? uri
                : throw new PmpMailSetupException("EnvironmentAuthorityHostInvalid", $"{AuthorityHost} ('{authority}') is not an absolute URL.", $"Set it to the cloud's authority host, such as https://login.microsoftonline.us, or remove it (-Environment also selects the cloud).");
            used.Add(AuthorityHost);
            verbose($"-EnvironmentVariable: authority host {uri} from {AuthorityHost}.");
        }

        return resolved;
    }

    private static PmpMailSetupException NotFound(Func<string, string?> read, string what) => new(
        "EnvironmentCredentialNotFound",
        $"-EnvironmentVariable found no usable credential: {what}. Read: {Inventory(read)}.",
        $"Set {TenantId} and {ClientId} with one of {ClientSecret} (client secret), {CertificatePath} (PFX or PEM file; {CertificatePassword} for a PFX password) or {FederatedTokenFile} (workload identity) in the environment of the process that runs the cmdlet; or pass credential parameters.");

    /// <summary>"AZURE_TENANT_ID (set), AZURE_CLIENT_ID (not set), ...": names only, never values.</summary>
    private static string Inventory(Func<string, string?> read) =>
        string.Join(", ", EnvironmentVariableNames.Select(name => $"{name} ({(Get(read, name) is null ? "not set" : "set")})"));

    private static string? Get(Func<string, string?> read, string name) => read(name) is { } value && !string.IsNullOrWhiteSpace(value) ? value : null;

    private static string? FromVariable(Func<string, string?> read, string name, List<string> used)
    {
        string? value = Get(read, name);
        if (value is not null)
        {
            used.Add(name);
        }

        return value;
    }

    /// <summary>Relative paths in these variables are relative to the process, as for the Azure SDKs.</summary>
    private static string? FullPath(string? path) => path is null ? null : Path.GetFullPath(path.Trim());

    private static Uri? LocalUrl(string name, string? value)
    {
        if (value is null)
        {
            return null;
        }

        return Uri.TryCreate(value.Trim(), UriKind.Absolute, out Uri? uri)
            ? uri
            : throw new PmpMailSetupException("ManagedIdentityEndpointInvalid", $"{name} ('{value}') is not an absolute URL.", $"{name} is set by the platform (App Service, Azure Arc, AKS); correct or remove it in this process.");
    }

    private static SecureString? ToSecureString(string? value)
    {
        if (value is null)
        {
            return null;
        }

        var secure = new SecureString();
        foreach (char c in value)
        {
            secure.AppendChar(c);
        }

        secure.MakeReadOnly();
        return secure;
    }
}
