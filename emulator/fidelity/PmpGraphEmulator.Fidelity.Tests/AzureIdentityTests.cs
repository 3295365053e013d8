using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Xunit;

namespace PmpGraphEmulator.Fidelity.Tests;

/// <summary>
/// Azure.Identity's own credentials, unchanged, against the emulator: ManagedIdentityCredential
/// over the App Service protocol (IDENTITY_ENDPOINT + IDENTITY_HEADER) and
/// WorkloadIdentityCredential with a federated token file. Only the emulator CA is trusted
/// (an Azure.Core transport with <see cref="EmulatorTrust"/>).
/// </summary>
[Collection(EmulatorCollection.Name)]
public sealed class AzureIdentityTests(EmulatorFixture emu)
{
    private static readonly TokenRequestContext Graph = new([EmulatorFixture.GraphScope]);

    private HttpClientTransport Transport() => new(EmulatorTrust.CreateHandler(emu.Ca));

    /// <summary>The App Service environment, nothing else that would pick another source.</summary>
    private EnvironmentScope AppServiceEnvironment() => new(
        ("IDENTITY_ENDPOINT", $"{emu.BaseUrl}/MSI/token"),
        ("IDENTITY_HEADER", EmulatorFixture.IdentityHeader),
        ("IDENTITY_SERVER_THUMBPRINT", null),
        ("IMDS_ENDPOINT", null),
        ("MSI_ENDPOINT", null),
        ("MSI_SECRET", null),
        ("AZURE_FEDERATED_TOKEN_FILE", null),
        ("AZURE_CLIENT_ID", null),
        ("AZURE_TENANT_ID", null));

    private ManagedIdentityCredential Managed(ManagedIdentityId id) =>
        new(new ManagedIdentityCredentialOptions(id) { Transport = Transport() });

    [Fact]
    public async Task ManagedIdentityCredential_app_service_system_assigned_sends_mail()
    {
        using var env = AppServiceEnvironment();
        var token = await Managed(ManagedIdentityId.SystemAssigned).GetTokenAsync(Graph, default);

        var claims = Jwt.Payload(token.Token);
        Assert.Equal(EmulatorFixture.SystemIdentityClientId, Jwt.String(claims, "appid"));
        Assert.Equal(EmulatorFixture.SystemIdentityObjectId, Jwt.String(claims, "oid"));
        Assert.Equal(EmulatorFixture.TenantId, Jwt.String(claims, "tid"));
        Assert.Equal("https://graph.microsoft.com", Jwt.String(claims, "aud"));
        Assert.Equal(["Mail.Send"], Jwt.StringArray(claims, "roles"));
        // expires_on (a string of epoch seconds) became the token's expiry.
        Assert.InRange(token.ExpiresOn, DateTimeOffset.UtcNow.AddMinutes(55), DateTimeOffset.UtcNow.AddMinutes(61));

        // It came over the App Service protocol, to the emulator.
        var requests = await emu.Control.RequestsAsync();
        Assert.Contains(requests, r => r.Method == "GET" && r.Path == "/MSI/token" && r.Status == 200);

        using var http = new HttpClient(EmulatorTrust.CreateHandler(emu.Ca));
        using var req = new HttpRequestMessage(HttpMethod.Post, $"{emu.GraphRoot}/v1.0/users/{EmulatorFixture.Mailbox}/sendMail")
        {
            Content = JsonContent.Create(new
            {
                message = new
                {
                    subject = "Managed identity fidelity",
                    body = new { contentType = "Text", content = "sent with a managed identity token" },
                    toRecipients = new[] { new { emailAddress = new { address = "ops@example.com" } } },
                },
                saveToSentItems = false,
            }),
        };
        req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Token);
        using var resp = await http.SendAsync(req);
        Assert.Equal(HttpStatusCode.Accepted, resp.StatusCode);
        var messages = await emu.Control.MessagesAsync();
        Assert.Contains(messages, m => m.Subject == "Managed identity fidelity" && m.AppId == EmulatorFixture.SystemIdentityClientId);
    }

    [Fact]
    public async Task ManagedIdentityCredential_app_service_user_assigned_by_each_id()
    {
        using var env = AppServiceEnvironment();
        ManagedIdentityId[] ids =
        [
            ManagedIdentityId.FromUserAssignedClientId(EmulatorFixture.UserIdentityClientId),
            ManagedIdentityId.FromUserAssignedObjectId(EmulatorFixture.UserIdentityObjectId),
            ManagedIdentityId.FromUserAssignedResourceId(new ResourceIdentifier(EmulatorFixture.UserIdentityResourceId)),
        ];
        foreach (var id in ids)
        {
            var token = await Managed(id).GetTokenAsync(Graph, default);
            var claims = Jwt.Payload(token.Token);
            Assert.Equal(EmulatorFixture.UserIdentityClientId, Jwt.String(claims, "appid"));
            // No app roles assigned: no roles claim.
            Assert.False(claims.TryGetProperty("roles", out _), claims.ToString());
        }
    }

    [Fact]
    public async Task ManagedIdentityCredential_app_service_unknown_identity_fails()
    {
        using var env = AppServiceEnvironment();
        var cred = Managed(ManagedIdentityId.FromUserAssignedClientId("00000000-1111-2222-3333-444444444444"));
        var e = await Assert.ThrowsAnyAsync<AuthenticationFailedException>(() => cred.GetTokenAsync(Graph, default).AsTask());
        Assert.Contains("Unable to load the proper Managed Identity.", e.ToString(), StringComparison.Ordinal);
    }

    private async Task<string> FederatedTokenFileAsync(string subject)
    {
        using var http = new HttpClient(EmulatorTrust.CreateHandler(emu.Ca));
        using var resp = await http.PostAsJsonAsync(
            $"{emu.ControlUrl}/federation/token",
            new { issuer = EmulatorFixture.FederatedIssuer, subject });
        resp.EnsureSuccessStatusCode();
        var body = await resp.Content.ReadFromJsonAsync<JsonElement>();
        var file = Path.Combine(emu.StateDir, $"federated-{Guid.NewGuid():N}.jwt");
        await File.WriteAllTextAsync(file, body.GetProperty("token").GetString());
        return file;
    }

    private WorkloadIdentityCredential Workload(string file) => new(new WorkloadIdentityCredentialOptions
    {
        TenantId = EmulatorFixture.TenantId,
        ClientId = EmulatorFixture.OtherClientId,
        TokenFilePath = file,
        AuthorityHost = new Uri(emu.AuthorityHost),
        DisableInstanceDiscovery = true,
        Transport = Transport(),
    });

    [Fact]
    public async Task WorkloadIdentityCredential_exchanges_the_federated_token()
    {
        var file = await FederatedTokenFileAsync(EmulatorFixture.FederatedSubject);
        var token = await Workload(file).GetTokenAsync(Graph, default);
        var claims = Jwt.Payload(token.Token);
        Assert.Equal(EmulatorFixture.OtherClientId, Jwt.String(claims, "appid"));
        Assert.Equal(["Mail.Send"], Jwt.StringArray(claims, "roles"));
        var tokens = await emu.Control.TokensAsync();
        Assert.Contains(tokens, t => t.AppId == EmulatorFixture.OtherClientId && t.Credential == "federated");
    }

    [Fact]
    public async Task WorkloadIdentityCredential_wrong_subject_gets_AADSTS700213()
    {
        var file = await FederatedTokenFileAsync("system:serviceaccount:mail:someone-else");
        var e = await Assert.ThrowsAnyAsync<AuthenticationFailedException>(() => Workload(file).GetTokenAsync(Graph, default).AsTask());
        Assert.Contains("AADSTS700213", e.ToString(), StringComparison.Ordinal);
    }

    /// <summary>Sets environment variables (null = unset) and restores them on dispose.</summary>
    private sealed class EnvironmentScope : IDisposable
    {
        private readonly List<(string Name, string? Old)> _saved = [];

        public EnvironmentScope(params (string Name, string? Value)[] vars)
        {
            foreach (var (name, value) in vars)
            {
                _saved.Add((name, Environment.GetEnvironmentVariable(name)));
                Environment.SetEnvironmentVariable(name, value);
            }
        }

        public void Dispose()
        {
            foreach (var (name, old) in _saved)
            {
                Environment.SetEnvironmentVariable(name, old);
            }
        }
    }
}
