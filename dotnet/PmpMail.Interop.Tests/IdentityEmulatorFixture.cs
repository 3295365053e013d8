using System.Text.Json.Nodes;
using Xunit;

namespace PmpMail.Interop.Tests;

/// <summary>
/// An emulator whose host has managed identities (the system-assigned one and two user-assigned ones) and whose
/// directory has federated credentials of one external issuer, for <see cref="IdentityTests"/>. Its own process, so
/// resetting it never disturbs <see cref="EmulatorFixture"/>'s tests.
/// </summary>
public sealed class IdentityEmulatorFixture : IDisposable
{
    public const string TenantId = EmulatorFixture.TenantId;
    public const string Mailbox = EmulatorFixture.Mailbox;

    /// <summary>The host's system-assigned identity (Mail.Send).</summary>
    public const string SystemClientId = "a0000000-0000-4000-8000-000000000001";
    public const string SystemObjectId = "a0000000-0000-4000-8000-0000000000a1";

    /// <summary>A user-assigned identity with Mail.Send and a federated credential.</summary>
    public const string UserClientId = "b0000000-0000-4000-8000-000000000001";
    public const string UserObjectId = "b0000000-0000-4000-8000-0000000000b1";
    public const string UserResourceId = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/sender";

    /// <summary>A user-assigned identity without app roles.</summary>
    public const string IdleClientId = "c0000000-0000-4000-8000-000000000001";
    public const string IdleObjectId = "c0000000-0000-4000-8000-0000000000c1";

    /// <summary>An app registration whose only credential is a federated one (no secret, no certificate).</summary>
    public const string FederatedApp = "d0000000-0000-4000-8000-000000000001";

    /// <summary>The external OIDC issuer (a Kubernetes cluster) and the subject its federated credentials accept.</summary>
    public const string Issuer = "https://oidc.cluster.example.test/xunit";
    public const string Subject = "system:serviceaccount:mail:sender";
    public const string AppSubject = "system:serviceaccount:mail:app";

    private readonly EmulatorProcess _emulator;

    public IdentityEmulatorFixture()
    {
        var directory = new JsonObject
        {
            ["throttling"] = new JsonObject { ["maxConcurrent"] = 64, ["maxRequests"] = 100000, ["windowSeconds"] = 600 },
            ["tenants"] = new JsonArray(new JsonObject { ["id"] = TenantId, ["domains"] = new JsonArray(EmulatorFixture.TenantDomain) }),
            ["apps"] = new JsonArray(new JsonObject
            {
                ["tenant"] = TenantId,
                ["clientId"] = FederatedApp,
                ["displayName"] = "xunit federated app",
                ["roles"] = new JsonArray("Mail.Send"),
                ["federatedCredentials"] = new JsonArray(new JsonObject { ["name"] = "aks-app", ["issuer"] = Issuer, ["subject"] = AppSubject }),
            }),
            ["managedIdentities"] = new JsonArray(
                new JsonObject
                {
                    ["tenant"] = TenantId,
                    ["kind"] = "system",
                    ["clientId"] = SystemClientId,
                    ["objectId"] = SystemObjectId,
                    ["displayName"] = "xunit host",
                    ["roles"] = new JsonArray("Mail.Send"),
                },
                new JsonObject
                {
                    ["tenant"] = TenantId,
                    ["kind"] = "user",
                    ["clientId"] = UserClientId,
                    ["objectId"] = UserObjectId,
                    ["resourceId"] = UserResourceId,
                    ["displayName"] = "sender",
                    ["roles"] = new JsonArray("Mail.Send"),
                    ["federatedCredentials"] = new JsonArray(new JsonObject { ["name"] = "aks", ["issuer"] = Issuer, ["subject"] = Subject }),
                },
                new JsonObject
                {
                    ["tenant"] = TenantId,
                    ["kind"] = "user",
                    ["clientId"] = IdleClientId,
                    ["objectId"] = IdleObjectId,
                    ["resourceId"] = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/idle",
                    ["displayName"] = "idle",
                    ["roles"] = new JsonArray(),
                }),
            ["mailboxes"] = new JsonArray(new JsonObject { ["tenant"] = TenantId, ["address"] = Mailbox }),
        };
        _emulator = EmulatorProcess.Start(new EmulatorStartOptions
        {
            Binary = Environment.GetEnvironmentVariable("PMP_MAIL_EMULATOR"),
            TempPrefix = "pmp-mail-xunit-identity-",
            ConfigFileName = "directory.json",
            ConfigText = directory.ToJsonString(),
            Strict = true,
            StartupTimeout = TimeSpan.FromSeconds(30),
            StopTimeout = TimeSpan.FromSeconds(5),
        });
        BaseUrl = new Uri(_emulator.BaseUrl);
    }

    public Uri BaseUrl { get; }

    public EmulatorProcess Emulator => _emulator;

    public ControlApi Control => _emulator.Control;

    public string StateDir => _emulator.StateDir;

    /// <summary>The App Service endpoint and its secret header.</summary>
    public PmpManagedIdentityEndpoints AppService => new()
    {
        IdentityEndpoint = new Uri(_emulator.IdentityEndpoint),
        IdentityHeader = _emulator.IdentityHeader,
    };

    /// <summary>IMDS at the emulator.</summary>
    public PmpManagedIdentityEndpoints Imds => new() { ImdsBaseUrl = BaseUrl };

    /// <summary>A managed-identity config: no tenant, no client id; Graph is the emulator, trusted through its CA only.</summary>
    public PmpMailConfig ManagedIdentityConfig(PmpMailCredential credential, PmpManagedIdentityEndpoints? endpoints) => new(credential)
    {
        GraphRoot = BaseUrl,
        ManagedIdentityEndpoints = endpoints,
        Http = new PmpMailHttpOptions { ExtraCaCertificatesPem = _emulator.CaPem, UseSystemProxy = false },
        Retry = new PmpMailRetryOptions { MaxAttempts = 3, MaxTotalWaitSeconds = 10 },
    };

    /// <summary>Points a workload-identity (or any) config at the emulator for Entra ID and Graph.</summary>
    public PmpMailConfig AtEmulator(PmpMailConfig config)
    {
        config.AuthorityHost = BaseUrl;
        config.GraphRoot = BaseUrl;
        config.Http = new PmpMailHttpOptions { ExtraCaCertificatesPem = _emulator.CaPem, UseSystemProxy = false };
        return config;
    }

    /// <summary>A token of <see cref="Issuer"/> for <paramref name="subject"/>, as a federated token file holds it.</summary>
    public string FederatedToken(string subject, string? audience = null, long? lifetimeSeconds = null) =>
        _emulator.Control.FederatedTokenAsync(Issuer, subject, audience, lifetimeSeconds).GetAwaiter().GetResult();

    public JsonArray Messages() => _emulator.Control.GetAsync<JsonArray>("messages").GetAwaiter().GetResult();

    public List<TokenRecord> Tokens() => _emulator.Control.TokensAsync().GetAwaiter().GetResult();

    public List<RequestRecord> Requests() => _emulator.Control.RequestsAsync().GetAwaiter().GetResult();

    public JsonObject Counters() => _emulator.Control.GetAsync<JsonObject>("counters").GetAwaiter().GetResult();

    /// <summary>Clears recorded messages, tokens, requests and counters (<c>POST reset</c>).</summary>
    public void Reset() => _emulator.Control.PostAsync("reset").GetAwaiter().GetResult();

    public void Dispose() => _emulator.Dispose();
}

/// <summary>
/// Managed and workload identity tests: one emulator, reset by each test, and no parallelism, because some tests
/// set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE in the process environment.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class IdentityCollection : ICollectionFixture<IdentityEmulatorFixture>
{
    public const string Name = "identity";
}
