using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Xunit;

namespace PmpMail.Interop.Tests;

/// <summary>
/// Starts pmp-graph-emulator (<see cref="EmulatorProcess"/>: PMP_MAIL_EMULATOR, else PMP_EMULATOR_BIN,
/// CARGO_TARGET_DIR or target/debug) with a directory covering the tests; stops it at the end.
/// </summary>
public sealed class EmulatorFixture : IDisposable
{
    public const string TenantId = "11111111-1111-1111-1111-111111111111";
    public const string TenantDomain = "contoso.onmicrosoft.com";
    public const string SecretApp = "22222222-2222-2222-2222-222222222222";
    public const string CertificateApp = "33333333-3333-3333-3333-333333333333";
    public const string Secret = "xunit-secret-Ω";
    public const string Mailbox = "alerts@contoso.onmicrosoft.com";
    public const string MissingMailbox = "ghost@contoso.onmicrosoft.com";
    /// <summary>Two more ordinary mailboxes, for batches across several mailboxes (as tests/it/common.rs).</summary>
    public const string SiteAMailbox = "site-a@contoso.onmicrosoft.com";
    public const string SiteBMailbox = "site-b@contoso.onmicrosoft.com";

    /// <summary>Google Workspace: a service account delegated gmail.send in <see cref="GoogleDomain"/>, and one that is not.</summary>
    public const string GoogleProject = "pmp-xunit";
    public const string GoogleServiceAccount = "sender@pmp-xunit.iam.gserviceaccount.com";
    public const string GoogleClientId = "118000000000000000011";
    public const string GoogleUndelegatedAccount = "stranger@pmp-xunit.iam.gserviceaccount.com";
    public const string GoogleDomain = "xunit.example";
    public const string GoogleUser = "alerts@xunit.example";
    /// <summary>A second user of <see cref="GoogleDomain"/>: tokens are per user, so concurrency tests send as both.</summary>
    public const string GoogleUserB = "reports@xunit.example";

    private readonly EmulatorProcess _emulator;

    public EmulatorFixture()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=pmp-mail xunit", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        Certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));

        var directory = new JsonObject
        {
            ["throttling"] = new JsonObject { ["maxConcurrent"] = 64, ["maxRequests"] = 100000, ["windowSeconds"] = 600 },
            ["tenants"] = new JsonArray(new JsonObject { ["id"] = TenantId, ["domains"] = new JsonArray(TenantDomain) }),
            ["apps"] = new JsonArray(
                new JsonObject
                {
                    ["tenant"] = TenantId,
                    ["clientId"] = SecretApp,
                    ["displayName"] = "xunit secret app",
                    ["roles"] = new JsonArray("Mail.Send", "Mail.ReadWrite"),
                    ["secrets"] = new JsonArray(new JsonObject { ["value"] = Secret, ["expires"] = "2099-01-01T00:00:00Z" }),
                },
                new JsonObject
                {
                    ["tenant"] = TenantId,
                    ["clientId"] = CertificateApp,
                    ["displayName"] = "xunit certificate app",
                    ["roles"] = new JsonArray("Mail.Send"),
                    ["certificates"] = new JsonArray(new JsonObject { ["pem"] = Certificate.ExportCertificatePem() }),
                }),
            ["mailboxes"] = new JsonArray(
                new JsonObject { ["tenant"] = TenantId, ["address"] = Mailbox },
                new JsonObject { ["tenant"] = TenantId, ["address"] = SiteAMailbox },
                new JsonObject { ["tenant"] = TenantId, ["address"] = SiteBMailbox },
                new JsonObject { ["tenant"] = TenantId, ["address"] = MissingMailbox, ["exists"] = false }),
            ["google"] = new JsonObject
            {
                ["projects"] = new JsonArray(new JsonObject { ["id"] = GoogleProject }),
                ["serviceAccounts"] = new JsonArray(
                    new JsonObject { ["project"] = GoogleProject, ["clientEmail"] = GoogleServiceAccount, ["clientId"] = GoogleClientId },
                    new JsonObject { ["project"] = GoogleProject, ["clientEmail"] = GoogleUndelegatedAccount, ["clientId"] = "118000000000000000012" }),
                ["domains"] = new JsonArray(new JsonObject
                {
                    ["name"] = GoogleDomain,
                    ["users"] = new JsonArray(new JsonObject { ["address"] = GoogleUser }, new JsonObject { ["address"] = GoogleUserB }),
                    ["delegations"] = new JsonArray(new JsonObject
                    {
                        ["clientId"] = GoogleClientId,
                        ["scopes"] = new JsonArray("https://www.googleapis.com/auth/gmail.send"),
                    }),
                }),
            },
        };
        try
        {
            _emulator = EmulatorProcess.Start(new EmulatorStartOptions
            {
                Binary = Environment.GetEnvironmentVariable("PMP_MAIL_EMULATOR"),
                TempPrefix = "pmp-mail-xunit-",
                ConfigFileName = "directory.json",
                ConfigText = directory.ToJsonString(),
                Strict = true,
                StartupTimeout = TimeSpan.FromSeconds(30),
                StopTimeout = TimeSpan.FromSeconds(5),
            });
        }
        catch
        {
            Certificate.Dispose();
            throw;
        }

        BaseUrl = new Uri(_emulator.BaseUrl);
    }

    public string StateDir => _emulator.StateDir;
    public Uri BaseUrl { get; }
    public string CaPem => _emulator.CaPem;
    public string ControlUrl => _emulator.ControlUrl + "/";
    public X509Certificate2 Certificate { get; }

    public PmpMailConfig Config(string clientId, PmpMailCredential? credential) => new(TenantId, clientId)
    {
        AuthorityHost = BaseUrl,
        GraphRoot = BaseUrl,
        Credential = credential,
        Http = new PmpMailHttpOptions { ExtraCaCertificatesPem = CaPem },
    };

    public PmpMailConfig SecretConfig(string secret = Secret) => Config(SecretApp, PmpMailCredential.FromClientSecret(secret));

    /// <summary>A JSON key file the emulator issues (and registers at once) for <paramref name="clientEmail"/>.</summary>
    public string GoogleServiceAccountKey(string clientEmail) =>
        _emulator.Control.GoogleServiceAccountKeyAsync(clientEmail).GetAwaiter().GetResult();

    /// <summary>Tokens Google's token endpoint issued: (service account, subject) -> count.</summary>
    public int GoogleTokensIssued(string serviceAccount, string subject) =>
        _emulator.Control.GetAsync<JsonArray>("google/tokens").GetAwaiter().GetResult()
            .Where(t => string.Equals((string?)t!["serviceAccount"], serviceAccount, StringComparison.OrdinalIgnoreCase) && string.Equals((string?)t!["subject"], subject, StringComparison.OrdinalIgnoreCase))
            .Sum(t => (int)t!["issued"]!);

    /// <summary>A Google Workspace config with the emulator's token URI, Gmail root and CA.</summary>
    public PmpMailConfig GoogleConfig(PmpMailCredential credential)
    {
        PmpMailConfig config = PmpMailConfig.ForGoogleWorkspace(credential);
        config.GoogleTokenUri = new Uri(BaseUrl, "token");
        config.GmailRoot = BaseUrl;
        config.Http = new PmpMailHttpOptions { ExtraCaCertificatesPem = CaPem };
        return config;
    }

    // The control API goes over the same CA-pinned TLS (EmulatorTrust) as everything else.
    public JsonObject Counters() => _emulator.Control.GetAsync<JsonObject>("counters").GetAwaiter().GetResult();

    public JsonArray Messages() => _emulator.Control.GetAsync<JsonArray>("messages").GetAwaiter().GetResult();

    /// <summary>The request log (<c>GET requests</c>; connections dropped by a fault are not in it).</summary>
    public JsonArray Requests() => _emulator.Control.GetAsync<JsonArray>("requests").GetAwaiter().GetResult();

    /// <summary>Clears recorded messages, counters, faults and throttling windows (<c>POST reset</c>).</summary>
    public void Reset() => _emulator.Control.PostAsync("reset").GetAwaiter().GetResult();

    /// <summary>Replaces the fault plan with <paramref name="rules"/> (emulator/README.md, "Fault rules").</summary>
    public void SetFaults(params object[] rules) => _emulator.Control.SetFaultsAsync(new { rules }).GetAwaiter().GetResult();

    public void ClearFaults() => _emulator.Control.ClearFaultsAsync().GetAwaiter().GetResult();

    public void Dispose()
    {
        try
        {
            _emulator.Dispose();
        }
        finally
        {
            Certificate.Dispose();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class EmulatorCollection : ICollectionFixture<EmulatorFixture>
{
    public const string Name = "emulator";
}
