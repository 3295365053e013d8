using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Xunit;

namespace PmpGraphEmulator.Fidelity.Tests;

/// <summary>
/// Starts <c>pmp-graph-emulator serve</c> (<see cref="EmulatorProcess"/>) once for the whole
/// collection, with a directory file naming one tenant, one app (secret + certificate) and one
/// mailbox, and stops it at the end by closing its stdin (<c>--exit-on-stdin-eof</c>).
/// </summary>
public sealed class EmulatorFixture : IAsyncLifetime
{
    public const string TenantId = "5d3e1c2b-7a4f-4e8d-9c61-0f2a3b4c5d6e";
    public const string TenantDomain = "fidelity.onmicrosoft.com";
    public const string ClientId = "8f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
    public const string OtherClientId = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
    public const string AppDisplayName = "Fidelity test app";

    // Characters that must survive form encoding: '+', '&', '=', '%', '~', '/'.
    public const string ClientSecret = "Fx8~Q.s3cr3t+&=/%value";
    public const string Mailbox = "alerts@fidelity.onmicrosoft.com";
    public const string GraphScope = "https://graph.microsoft.com/.default";

    /// <summary>The App Service protocol's IDENTITY_HEADER secret.</summary>
    public const string IdentityHeader = "fidelity-identity-header";

    /// <summary>The host's system-assigned managed identity (Mail.Send).</summary>
    public const string SystemIdentityClientId = "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d";
    public const string SystemIdentityObjectId = "6a7b8c9d-0000-4a2b-8c3d-000000000001";

    /// <summary>A user-assigned managed identity without app roles.</summary>
    public const string UserIdentityClientId = "7b8c9d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e";
    public const string UserIdentityObjectId = "7b8c9d0e-0000-4b3c-9d4e-000000000001";
    public const string UserIdentityResourceId =
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/fidelity/providers/Microsoft.ManagedIdentity/userAssignedIdentities/fidelity-ua";

    /// <summary>The external issuer and subject of <see cref="OtherClientId"/>'s federated credential.</summary>
    public const string FederatedIssuer = "https://oidc.fidelity.example/cluster/";
    public const string FederatedSubject = "system:serviceaccount:mail:notifier";

    /// <summary>Google Workspace: a service account delegated gmail.send in <see cref="GoogleDomain"/>, one that is not.</summary>
    public const string GoogleProject = "pmp-fidelity";
    public const string GoogleServiceAccount = "sender@pmp-fidelity.iam.gserviceaccount.com";
    public const string GoogleClientId = "118000000000000000001";
    public const string GoogleUndelegatedAccount = "stranger@pmp-fidelity.iam.gserviceaccount.com";
    public const string GoogleDomain = "fidelity.example";
    public const string GoogleUser = "alerts@fidelity.example";
    public const string GmailSendScope = "https://www.googleapis.com/auth/gmail.send";

    public static readonly string[] GrantedRoles = ["Mail.Send", "Mail.ReadWrite"];
    public const string UnconsentedRole = "Mail.Read";

    private EmulatorProcess? _emulator;

    private EmulatorProcess Emulator => _emulator ?? throw new InvalidOperationException("the emulator is not started");

    public string BaseUrl => Emulator.BaseUrl;

    public string AuthorityHost => Emulator.AuthorityHost;

    public string GraphRoot => Emulator.GraphRoot;

    public string ControlUrl => Emulator.ControlUrl;

    public string StateDir => Emulator.StateDir;

    public X509Certificate2 Ca => Emulator.Ca;

    public X509Certificate2 AppCertificate { get; private set; } = null!;

    /// <summary>A certificate with a private key that is registered for no app.</summary>
    public X509Certificate2 UnregisteredCertificate { get; private set; } = null!;

    public ControlApi Control => Emulator.Control;

    public string Authority => $"{AuthorityHost}/{TenantId}/";

    public string Log => _emulator?.Log ?? string.Empty;

    public async Task InitializeAsync()
    {
        AppCertificate = CreateSelfSigned("CN=pmp-fidelity-app");
        UnregisteredCertificate = CreateSelfSigned("CN=pmp-fidelity-stranger");
        _emulator = await EmulatorProcess.StartAsync(new EmulatorStartOptions
        {
            TempPrefix = "pmp-fidelity-",
            ConfigFileName = "directory.toml",
            ConfigText = DirectoryToml(AppCertificate.ExportCertificatePem()),
            ControlTimeout = TimeSpan.FromSeconds(30),
        });
    }

    public async Task DisposeAsync()
    {
        if (_emulator is not null)
        {
            await _emulator.DisposeAsync();
        }

        AppCertificate?.Dispose();
        UnregisteredCertificate?.Dispose();
    }

    private static X509Certificate2 CreateSelfSigned(string subject)
    {
        using var rsa = RSA.Create(2048);
        var req = new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var now = DateTimeOffset.UtcNow;
        using var cert = req.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(2));
        // Round-trip through PKCS#12 so the key is usable by every platform API MSAL calls.
        var pfx = cert.Export(X509ContentType.Pkcs12, "fidelity");
        return X509CertificateLoader.LoadPkcs12(pfx, "fidelity", X509KeyStorageFlags.Exportable);
    }

    private static string TomlString(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in s)
        {
            sb.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                _ => c.ToString(),
            });
        }

        return sb.Append('"').ToString();
    }

    private static string DirectoryToml(string certPem)
    {
        var roles = string.Join(", ", GrantedRoles.Select(TomlString));
        var inv = CultureInfo.InvariantCulture;
        return string.Create(inv, $$"""
            tokenLifetimeSeconds = 3600
            identityHeader = {{TomlString(IdentityHeader)}}

            [[tenants]]
            id = {{TomlString(TenantId)}}
            domains = [{{TomlString(TenantDomain)}}]
            cloud = "global"

            [[apps]]
            tenant = {{TomlString(TenantId)}}
            clientId = {{TomlString(ClientId)}}
            displayName = {{TomlString(AppDisplayName)}}
            enabled = true
            roles = [{{roles}}]
            unconsentedRoles = [{{TomlString(UnconsentedRole)}}]
            secrets = [{ value = {{TomlString(ClientSecret)}}, expires = "2099-01-01T00:00:00Z" }]
            certificates = [{ pem = {{TomlString(certPem)}} }]

            [[apps]]
            tenant = {{TomlString(TenantId)}}
            clientId = {{TomlString(OtherClientId)}}
            displayName = "Fidelity other app"
            roles = ["Mail.Send"]
            secrets = [{ value = "other-secret" }]
            federatedCredentials = [{ issuer = {{TomlString(FederatedIssuer)}}, subject = {{TomlString(FederatedSubject)}} }]

            [[mailboxes]]
            tenant = {{TomlString(TenantId)}}
            address = {{TomlString(Mailbox)}}
            exists = true
            restEnabled = true

            [[managedIdentities]]
            tenant = {{TomlString(TenantId)}}
            kind = "system"
            clientId = {{TomlString(SystemIdentityClientId)}}
            objectId = {{TomlString(SystemIdentityObjectId)}}
            roles = ["Mail.Send"]

            [[managedIdentities]]
            tenant = {{TomlString(TenantId)}}
            kind = "user"
            clientId = {{TomlString(UserIdentityClientId)}}
            objectId = {{TomlString(UserIdentityObjectId)}}
            resourceId = {{TomlString(UserIdentityResourceId)}}

            [[google.projects]]
            id = {{TomlString(GoogleProject)}}

            [[google.serviceAccounts]]
            project = {{TomlString(GoogleProject)}}
            clientEmail = {{TomlString(GoogleServiceAccount)}}
            clientId = {{TomlString(GoogleClientId)}}

            [[google.serviceAccounts]]
            project = {{TomlString(GoogleProject)}}
            clientEmail = {{TomlString(GoogleUndelegatedAccount)}}
            clientId = "118000000000000000002"

            [[google.domains]]
            name = {{TomlString(GoogleDomain)}}
            users = [{ address = {{TomlString(GoogleUser)}} }]
            delegations = [{ clientId = {{TomlString(GoogleClientId)}}, scopes = [{{TomlString(GmailSendScope)}}] }]

            """);
    }
}

[CollectionDefinition(Name)]
public sealed class EmulatorCollection : ICollectionFixture<EmulatorFixture>
{
    public const string Name = "pmp-graph-emulator";
}
