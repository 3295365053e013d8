using System.Net.Http.Json;
using System.Text.Json.Nodes;
using PmpGraphEmulator.TestSupport;
using Xunit;

namespace PmpMail.Interop.Tests;

/// <summary>
/// <see cref="PmpMailClient.CreateWithClientAssertion"/> against an emulator whose app trusts an external OIDC issuer
/// (a federated credential): the provider's token is the client assertion, asked for once per token, and a
/// provider that throws fails the call with its own exception inside.
/// </summary>
public sealed class ClientAssertionTests : IDisposable
{
    private const string TenantId = "11111111-1111-1111-1111-111111111111";
    private const string FederatedApp = "44444444-4444-4444-4444-444444444444";
    private const string Mailbox = "alerts@contoso.onmicrosoft.com";
    private const string Issuer = "https://token.actions.githubusercontent.com";
    private const string Subject = "repo:contoso/patches:ref:refs/heads/main";

    private readonly EmulatorProcess _emulator;
    private readonly HttpClient _control;

    public ClientAssertionTests()
    {
        var directory = new JsonObject
        {
            ["tenants"] = new JsonArray(new JsonObject { ["id"] = TenantId, ["domains"] = new JsonArray("contoso.onmicrosoft.com") }),
            ["apps"] = new JsonArray(new JsonObject
            {
                ["tenant"] = TenantId,
                ["clientId"] = FederatedApp,
                ["displayName"] = "xunit federated app",
                ["roles"] = new JsonArray("Mail.Send"),
                ["federatedCredentials"] = new JsonArray(new JsonObject { ["name"] = "gh", ["issuer"] = Issuer, ["subject"] = Subject }),
            }),
            ["mailboxes"] = new JsonArray(new JsonObject { ["tenant"] = TenantId, ["address"] = Mailbox }),
        };
        _emulator = EmulatorProcess.Start(new EmulatorStartOptions
        {
            Binary = Environment.GetEnvironmentVariable("PMP_MAIL_EMULATOR"),
            TempPrefix = "pmp-mail-xunit-assertion-",
            ConfigFileName = "directory.json",
            ConfigText = directory.ToJsonString(),
            Strict = true,
            StartupTimeout = TimeSpan.FromSeconds(30),
            StopTimeout = TimeSpan.FromSeconds(5),
        });
        _control = new HttpClient(EmulatorTrust.CreateHandler(_emulator.Ca));
    }

    private static PmpMailMessage Message(string subject)
    {
        var message = new PmpMailMessage { From = Mailbox, Subject = subject, Body = "hello" };
        message.To.Add("ops@example.com");
        return message;
    }

    private PmpMailConfig Config() => new(TenantId, FederatedApp)
    {
        AuthorityHost = new Uri(_emulator.BaseUrl),
        GraphRoot = new Uri(_emulator.BaseUrl),
        Http = new PmpMailHttpOptions { ExtraCaCertificatesPem = _emulator.CaPem },
        TokenRefreshMarginSeconds = 0,
    };

    /// <summary>A token of the external issuer, minted by the emulator (what a CI system's OIDC endpoint returns).</summary>
    private async Task<string> FederatedTokenAsync(string subject = Subject)
    {
        using HttpResponseMessage response = await _control.PostAsJsonAsync($"{_emulator.ControlUrl}/federation/token", new { issuer = Issuer, subject });
        response.EnsureSuccessStatusCode();
        JsonNode body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        return (string)body["token"]!;
    }

    [Fact]
    public async Task TheProvidersTokenIsTheCredentialAndIsAskedForOncePerToken()
    {
        string token = await FederatedTokenAsync();
        var requests = new List<PmpClientAssertionRequest>();
        using PmpMailClient client = PmpMailClient.CreateWithClientAssertion(Config(), request =>
        {
            lock (requests)
            {
                requests.Add(request);
            }

            return token;
        });

        Assert.Equal("clientAssertion", client.CredentialKind);
        Assert.Equal("sent", client.SendMail(Message("federated from C#")).Status);
        Assert.Equal("sent", client.SendMail(Message("again, with the cached token")).Status);

        PmpClientAssertionRequest only = Assert.Single(requests);
        Assert.Equal(FederatedApp, only.ClientId);
        Assert.Equal($"{_emulator.BaseUrl}/{TenantId}/oauth2/v2.0/token", only.TokenUrl);
        Assert.Equal(1, client.Assertion!.CallCount);
        List<TokenRecord> tokens = await _emulator.Control.TokensAsync();
        TokenRecord issued = Assert.Single(tokens);
        Assert.Equal("federated", issued.Credential);
        List<RecordedMessage> messages = await _emulator.Control.MessagesAsync();
        Assert.Equal(2, messages.Count);
        Assert.All(messages, m => Assert.Equal(FederatedApp, m.AppId));
    }

    [Fact]
    public async Task AProviderThatThrowsFailsTheCallWithItsException()
    {
        var outage = new HttpRequestException("OIDC endpoint unreachable");
        using PmpMailClient client = PmpMailClient.CreateWithClientAssertion(Config(), _ => throw outage);

        PmpMailSignerException e = Assert.Throws<PmpMailSignerException>(() =>
            client.SendMail(Message("never")));
        Assert.Same(outage, e.InnerException);
        Assert.Contains("client-assertion callback failed", e.Message);
        Assert.Empty(await _emulator.Control.MessagesAsync());
    }

    [Fact]
    public async Task ATokenForAnotherSubjectIsRefusedWithTheAadstsCode()
    {
        string wrong = await FederatedTokenAsync("repo:contoso/patches:pull_request");
        using PmpMailClient client = PmpMailClient.CreateWithClientAssertion(Config(), _ => wrong);

        PmpPermissionReport report = client.TestPermissions();
        Assert.False(report.Authenticated);
        Assert.Equal(700213, report.Error!.Aadsts); // no federated credential matches the subject
        Assert.DoesNotContain(wrong, report.Error.Message);
    }

    [Fact]
    public void ArgumentsAreChecked()
    {
        Assert.Throws<ArgumentNullException>(() => PmpMailClient.CreateWithClientAssertion(Config(), null!));
        Assert.Throws<ArgumentNullException>(() => PmpMailClient.CreateWithClientAssertion(null!, _ => "x.y.z"));
    }

    public void Dispose()
    {
        _control.Dispose();
        _emulator.Dispose();
    }
}
