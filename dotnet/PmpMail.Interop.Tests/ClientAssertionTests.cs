using Xunit;

namespace PmpMail.Interop.Tests;

/// <summary>
/// <see cref="PmpMailClient.CreateWithClientAssertion"/> against the identity emulator, whose app trusts an external
/// OIDC issuer (a federated credential): the provider's token is the client assertion, asked for once per token, and a
/// provider that throws fails the call with its own exception inside.
/// </summary>
[Collection(IdentityCollection.Name)]
public sealed class ClientAssertionTests
{
    private const string App = IdentityEmulatorFixture.FederatedApp;

    private readonly IdentityEmulatorFixture _emulator;

    public ClientAssertionTests(IdentityEmulatorFixture emulator)
    {
        _emulator = emulator;
        _emulator.Reset();
    }

    private static PmpMailMessage Message(string subject)
    {
        var message = new PmpMailMessage { From = IdentityEmulatorFixture.Mailbox, Subject = subject, Body = "hello" };
        message.To.Add("ops@example.com");
        return message;
    }

    private PmpMailConfig Config()
    {
        PmpMailConfig config = _emulator.AtEmulator(new PmpMailConfig(IdentityEmulatorFixture.TenantId, App));
        config.TokenRefreshMarginSeconds = 0;
        return config;
    }

    [Fact]
    public void TheProvidersTokenIsTheCredentialAndIsAskedForOncePerToken()
    {
        string token = _emulator.FederatedToken(IdentityEmulatorFixture.AppSubject);
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
        Assert.Equal(App, only.ClientId);
        Assert.Equal($"{_emulator.BaseUrl.AbsoluteUri.TrimEnd('/')}/{IdentityEmulatorFixture.TenantId}/oauth2/v2.0/token", only.TokenUrl);
        Assert.Equal(1, client.Assertion!.CallCount);
        TokenRecord issued = Assert.Single(_emulator.Tokens());
        Assert.Equal("federated", issued.Credential);
        Assert.All(_emulator.Messages(), m => Assert.Equal(App, (string?)m!["appId"]));
        Assert.Equal(2, _emulator.Messages().Count);
    }

    [Fact]
    public void AProviderThatThrowsFailsTheCallWithItsException()
    {
        var outage = new HttpRequestException("OIDC endpoint unreachable");
        using PmpMailClient client = PmpMailClient.CreateWithClientAssertion(Config(), _ => throw outage);

        PmpMailSignerException e = Assert.Throws<PmpMailSignerException>(() => client.SendMail(Message("never")));
        Assert.Same(outage, e.InnerException);
        Assert.Contains("client-assertion callback failed", e.Message);
        Assert.Empty(_emulator.Messages());
        Assert.Empty(_emulator.Tokens());
    }

    [Fact]
    public void ATokenForAnotherSubjectIsRefusedWithTheAadstsCode()
    {
        string wrong = _emulator.FederatedToken(IdentityEmulatorFixture.Subject); // the user-assigned identity's subject
        using PmpMailClient client = PmpMailClient.CreateWithClientAssertion(Config(), _ => wrong);

        PmpPermissionReport report = client.TestPermissions();
        Assert.False(report.Authenticated);
        Assert.Equal(700213, report.Error!.Aadsts); // no federated credential of the app matches the subject
        Assert.DoesNotContain(wrong, report.Error.Message);
    }

    [Fact]
    public void ArgumentsAreChecked()
    {
        Assert.Throws<ArgumentNullException>(() => PmpMailClient.CreateWithClientAssertion(Config(), null!));
        Assert.Throws<ArgumentNullException>(() => PmpMailClient.CreateWithClientAssertion(null!, _ => "x.y.z"));
    }
}
