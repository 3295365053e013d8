using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Xunit;

namespace PmpMail.Interop.Tests;

/// <summary>
/// Managed identity (App Service, IMDS, Azure Arc) and workload identity federation through
/// <see cref="PmpMailClient.Create"/>, over HTTPS to the emulator, checked against what the emulator recorded:
/// the messages and the app id they were sent with, the tokens it issued and how, the requests it answered.
/// </summary>
[Collection(IdentityCollection.Name)]
public sealed class IdentityTests
{
    private const string MailSendRoleId = "b633e1c5-b582-4048-a93e-9f11b44c7e96";
    private const string GraphAppId = "00000003-0000-0000-c000-000000000000";

    private readonly IdentityEmulatorFixture _emulator;

    public IdentityTests(IdentityEmulatorFixture emulator)
    {
        _emulator = emulator;
        _emulator.Reset();
    }

    public static TheoryData<string> IdForms => new() { "system", "clientId", "objectId", "resourceId" };

    [Fact]
    public void AppServiceSystemAssignedSendsWithATokenFromTheMsiEndpoint()
    {
        PmpMailConfig config = _emulator.ManagedIdentityConfig(
            PmpMailCredential.FromManagedIdentity(PmpManagedIdentityId.SystemAssigned, PmpManagedIdentitySource.AppService),
            _emulator.AppService);
        Assert.Null(config.Tenant);
        Assert.Null(config.ClientId);
        using PmpMailClient client = PmpMailClient.Create(config);
        Assert.Equal("managedIdentity", client.CredentialKind);
        Assert.Null(client.ClientId);

        string subject = "xunit app service " + Guid.NewGuid();
        PmpSendResult result = client.SendMail(NewMessage(subject));
        Assert.Equal("sent", result.Status);

        JsonNode recorded = Assert.Single(_emulator.Messages())!;
        Assert.Equal(subject, (string?)recorded["subject"]);
        Assert.Equal(IdentityEmulatorFixture.SystemClientId, (string?)recorded["appId"]);

        // One token, issued by the App Service endpoint (GET /MSI/token), none by Entra ID's token endpoint.
        TokenRecord token = Assert.Single(_emulator.Tokens());
        Assert.Equal("managedIdentity:appService", token.Credential);
        Assert.Equal(IdentityEmulatorFixture.SystemClientId, token.AppId);
        Assert.Equal("https://graph.microsoft.com", token.Claims.GetProperty("aud").GetString());
        List<RequestRecord> requests = _emulator.Requests();
        Assert.Contains(requests, r => r.Method == "GET" && r.Path == "/MSI/token" && r.Status == 200);
        Assert.DoesNotContain(requests, r => r.Path.EndsWith("/oauth2/v2.0/token", StringComparison.Ordinal));

        PmpPermissionReport report = client.TestPermissions();
        Assert.True(report.Authenticated, report.Error?.Message);
        Assert.Equal(IdentityEmulatorFixture.SystemClientId, report.AppId);
        Assert.Equal(IdentityEmulatorFixture.TenantId, report.TenantId);
        Assert.Equal("cache", report.TokenSource);
        Assert.Contains(report.Permissions, p => p.Name == "Mail.Send" && p.Status == "Granted" && p.Required);
        Assert.Single(_emulator.Tokens());

        // Source Auto with an identity endpoint and header given detects App Service, as the Azure SDKs do
        // (with a token cache of its own: the token request is what shows the source detected).
        PmpMailConfig auto = _emulator.ManagedIdentityConfig(PmpMailCredential.FromManagedIdentity(), _emulator.AppService);
        auto.TokenCache = PmpTokenCache.Client;
        using PmpMailClient detected = PmpMailClient.Create(auto);
        Assert.True(detected.TestPermissions().Authenticated);
        Assert.Equal(["managedIdentity:appService", "managedIdentity:appService"], _emulator.Tokens().Select(t => t.Credential));
    }

    [Theory]
    [MemberData(nameof(IdForms))]
    public void ImdsSendsAsTheIdentitySelectedByEachIdForm(string form)
    {
        PmpManagedIdentityId id = form switch
        {
            "clientId" => PmpManagedIdentityId.FromClientId(IdentityEmulatorFixture.UserClientId),
            "objectId" => PmpManagedIdentityId.FromObjectId(IdentityEmulatorFixture.UserObjectId),
            "resourceId" => PmpManagedIdentityId.FromResourceId(IdentityEmulatorFixture.UserResourceId),
            _ => PmpManagedIdentityId.SystemAssigned,
        };
        string expected = form == "system" ? IdentityEmulatorFixture.SystemClientId : IdentityEmulatorFixture.UserClientId;
        Assert.Equal(form == "system", id.IsSystemAssigned);

        using PmpMailClient client = PmpMailClient.Create(_emulator.ManagedIdentityConfig(
            PmpMailCredential.FromManagedIdentity(id, PmpManagedIdentitySource.Imds), _emulator.Imds));
        PmpPermissionReport report = client.TestPermissions();
        Assert.True(report.Authenticated, report.Error?.Message);
        Assert.Equal(expected, report.AppId);

        string subject = $"xunit imds {form} {Guid.NewGuid()}";
        client.SendMail(NewMessage(subject));
        JsonNode recorded = Assert.Single(_emulator.Messages())!;
        Assert.Equal(subject, (string?)recorded["subject"]);
        Assert.Equal(expected, (string?)recorded["appId"]);

        TokenRecord token = Assert.Single(_emulator.Tokens());
        Assert.Equal("managedIdentity:imds", token.Credential);
        Assert.Equal(expected, token.AppId);
        Assert.Contains(_emulator.Requests(), r => r.Method == "GET" && r.Path == "/metadata/identity/oauth2/token" && r.Status == 200);
    }

    [Fact]
    public void ArcSystemAssignedAnswersTheKeyFileChallenge()
    {
        // IDENTITY_ENDPOINT + IMDS_ENDPOINT without a header: Auto detects Azure Arc.
        PmpMailConfig config = _emulator.ManagedIdentityConfig(PmpMailCredential.FromManagedIdentity(), new PmpManagedIdentityEndpoints
        {
            IdentityEndpoint = new Uri(_emulator.Emulator.ArcIdentityEndpoint),
            ImdsEndpoint = _emulator.BaseUrl,
            ArcKeyDirectory = _emulator.Emulator.ArcKeyDirectory,
        });
        using PmpMailClient client = PmpMailClient.Create(config);
        string subject = "xunit arc " + Guid.NewGuid();
        client.SendMail(NewMessage(subject));

        JsonNode recorded = Assert.Single(_emulator.Messages())!;
        Assert.Equal(subject, (string?)recorded["subject"]);
        Assert.Equal(IdentityEmulatorFixture.SystemClientId, (string?)recorded["appId"]);
        TokenRecord token = Assert.Single(_emulator.Tokens());
        Assert.Equal("managedIdentity:arc", token.Credential);

        // The challenge (401 naming a key file), then the request with the key.
        List<int> arc = _emulator.Requests().Where(r => r.Path == "/arc/metadata/identity/oauth2/token").Select(r => r.Status).ToList();
        Assert.Equal([401, 200], arc);
    }

    [Fact]
    public void ArcKeyFileOutsideTheKeyDirectoryIsRefusedAndNothingIsSent()
    {
        string elsewhere = Directory.CreateTempSubdirectory("pmp-mail-xunit-arc-").FullName;
        try
        {
            PmpMailConfig config = _emulator.ManagedIdentityConfig(PmpMailCredential.FromManagedIdentity(source: PmpManagedIdentitySource.Arc), new PmpManagedIdentityEndpoints
            {
                IdentityEndpoint = new Uri(_emulator.Emulator.ArcIdentityEndpoint),
                ImdsEndpoint = _emulator.BaseUrl,
                ArcKeyDirectory = elsewhere,
            });
            using PmpMailClient client = PmpMailClient.Create(config);

            var ex = Assert.Throws<PmpMailAuthenticationException>(() => client.SendMail(NewMessage("xunit arc refused")));
            Assert.Equal(PmpStatus.AuthenticationFailed, ex.Status);
            Assert.Contains("outside the agent's key directory", ex.Message, StringComparison.Ordinal);
            Assert.Contains(elsewhere, ex.Detail.Message, StringComparison.Ordinal);
            Assert.Contains(_emulator.Emulator.ArcKeyDirectory, ex.Detail.Message, StringComparison.Ordinal);
            Assert.False(string.IsNullOrWhiteSpace(ex.Remedy));

            // The challenge came, the key was never sent back, no token was issued and nothing was sent.
            List<int> arc = _emulator.Requests().Where(r => r.Path == "/arc/metadata/identity/oauth2/token").Select(r => r.Status).ToList();
            Assert.Equal([401], arc);
            Assert.Empty(_emulator.Tokens());
            Assert.Empty(_emulator.Messages());
            Assert.Equal(0, (int)_emulator.Counters()["sendMailRequests"]!);
        }
        finally
        {
            Directory.Delete(elsewhere, recursive: true);
        }
    }

    [Fact]
    public void WorkloadIdentityRereadsTheRotatedTokenFile()
    {
        string dir = Directory.CreateTempSubdirectory("pmp-mail-xunit-wi-").FullName;
        string file = Path.Combine(dir, "azure-identity-token");
        try
        {
            File.WriteAllText(file, _emulator.FederatedToken(IdentityEmulatorFixture.Subject));
            // The user-assigned identity that holds the federated credential signs in like an app.
            PmpMailConfig config = _emulator.AtEmulator(new PmpMailConfig(IdentityEmulatorFixture.TenantId, IdentityEmulatorFixture.UserClientId)
            {
                Credential = PmpMailCredential.FromWorkloadIdentity(file),
            });
            using PmpMailClient client = PmpMailClient.Create(config);
            Assert.Equal("workloadIdentity", client.CredentialKind);

            string subject = "xunit federated " + Guid.NewGuid();
            client.SendMail(NewMessage(subject));
            JsonNode recorded = Assert.Single(_emulator.Messages())!;
            Assert.Equal(subject, (string?)recorded["subject"]);
            Assert.Equal(IdentityEmulatorFixture.UserClientId, (string?)recorded["appId"]);
            TokenRecord token = Assert.Single(_emulator.Tokens());
            Assert.Equal("federated", token.Credential);
            Assert.Equal(IdentityEmulatorFixture.UserClientId, token.AppId);

            // Rotated to a token of a subject no federated credential names: the next token request reads it.
            File.WriteAllText(file, _emulator.FederatedToken("system:serviceaccount:mail:someone-else"));
            PmpPermissionReport report = client.TestPermissions(forceRefresh: true);
            Assert.False(report.Authenticated);
            Assert.Equal(700213, report.Error!.Aadsts);
            Assert.Contains("system:serviceaccount:mail:someone-else", report.Error.Message, StringComparison.Ordinal);

            // The right subject, the wrong audience: AADSTS70021.
            File.WriteAllText(file, _emulator.FederatedToken(IdentityEmulatorFixture.Subject, audience: "api://not-the-exchange"));
            report = client.TestPermissions(forceRefresh: true);
            Assert.False(report.Authenticated);
            Assert.Equal(70021, report.Error!.Aadsts);

            // Rotated back: picked up again.
            File.WriteAllText(file, _emulator.FederatedToken(IdentityEmulatorFixture.Subject));
            report = client.TestPermissions(forceRefresh: true);
            Assert.True(report.Authenticated, report.Error?.Message);
            Assert.Equal(IdentityEmulatorFixture.UserClientId, report.AppId);
            Assert.Equal("endpoint", report.TokenSource);
            Assert.Equal(2, _emulator.Tokens().Count(t => t.Credential == "federated"));
            client.SendMail(NewMessage(subject + " again"));
            Assert.Equal(2, _emulator.Messages().Count);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void WorkloadIdentityTakesTenantClientIdAndTokenFileFromTheEnvironment()
    {
        string dir = Directory.CreateTempSubdirectory("pmp-mail-xunit-wi-env-").FullName;
        string file = Path.Combine(dir, "azure-identity-token");
        try
        {
            File.WriteAllText(file, _emulator.FederatedToken(IdentityEmulatorFixture.AppSubject));
            using (new EnvironmentScope(
                ("AZURE_TENANT_ID", IdentityEmulatorFixture.TenantId),
                ("AZURE_CLIENT_ID", IdentityEmulatorFixture.FederatedApp),
                ("AZURE_FEDERATED_TOKEN_FILE", file)))
            {
                PmpMailConfig config = _emulator.AtEmulator(new PmpMailConfig(PmpMailCredential.FromWorkloadIdentity()));
                using PmpMailClient client = PmpMailClient.Create(config);
                string subject = "xunit federated from the environment " + Guid.NewGuid();
                client.SendMail(NewMessage(subject));

                JsonNode recorded = Assert.Single(_emulator.Messages())!;
                Assert.Equal(subject, (string?)recorded["subject"]);
                Assert.Equal(IdentityEmulatorFixture.FederatedApp, (string?)recorded["appId"]);
                TokenRecord token = Assert.Single(_emulator.Tokens());
                Assert.Equal("federated", token.Credential);
                Assert.Equal(IdentityEmulatorFixture.TenantId, token.TenantId);
                Assert.Contains(_emulator.Requests(), r => r.Path == $"/{IdentityEmulatorFixture.TenantId}/oauth2/v2.0/token" && r.Status == 200);
            }

            // Without the variables the same config names what is missing, and nothing is requested.
            using (new EnvironmentScope(("AZURE_TENANT_ID", null), ("AZURE_CLIENT_ID", null), ("AZURE_FEDERATED_TOKEN_FILE", null)))
            {
                PmpMailConfig config = _emulator.AtEmulator(new PmpMailConfig(PmpMailCredential.FromWorkloadIdentity()));
                var ex = Assert.Throws<PmpMailInvalidArgumentException>(() => PmpMailClient.Create(config));
                Assert.Equal(PmpStatus.InvalidConfig, ex.Status);
                Assert.Contains("AZURE_CLIENT_ID", ex.Message, StringComparison.Ordinal);
            }

            Assert.Single(_emulator.Tokens());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ManagedIdentityTakesItsEndpointsFromTheEnvironment()
    {
        // App Service sets IDENTITY_ENDPOINT and IDENTITY_HEADER; Auto detects it from them.
        using (new EnvironmentScope(
            ("IDENTITY_ENDPOINT", _emulator.Emulator.IdentityEndpoint),
            ("IDENTITY_HEADER", _emulator.Emulator.IdentityHeader),
            ("IMDS_ENDPOINT", null),
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", null)))
        {
            // Its own token cache: the token request is what shows the source detected.
            PmpMailConfig config = _emulator.ManagedIdentityConfig(PmpMailCredential.FromManagedIdentity(), null);
            config.TokenCache = PmpTokenCache.Client;
            using PmpMailClient client = PmpMailClient.Create(config);
            string subject = "xunit app service from the environment " + Guid.NewGuid();
            client.SendMail(NewMessage(subject));
            Assert.Equal(IdentityEmulatorFixture.SystemClientId, (string?)Assert.Single(_emulator.Messages())!["appId"]);
            Assert.Equal("managedIdentity:appService", Assert.Single(_emulator.Tokens()).Credential);
        }

        // AZURE_POD_IDENTITY_AUTHORITY_HOST moves IMDS, as in the Azure SDKs.
        _emulator.Reset();
        using (new EnvironmentScope(
            ("IDENTITY_ENDPOINT", null),
            ("IDENTITY_HEADER", null),
            ("IMDS_ENDPOINT", null),
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", _emulator.Emulator.BaseUrl)))
        {
            PmpMailConfig config = _emulator.ManagedIdentityConfig(
                PmpMailCredential.FromManagedIdentity(PmpManagedIdentityId.FromClientId(IdentityEmulatorFixture.UserClientId)), null);
            config.TokenCache = PmpTokenCache.Client;
            using PmpMailClient client = PmpMailClient.Create(config);
            PmpPermissionReport report = client.TestPermissions();
            Assert.True(report.Authenticated, report.Error?.Message);
            Assert.Equal(IdentityEmulatorFixture.UserClientId, report.AppId);
            Assert.Equal("managedIdentity:imds", Assert.Single(_emulator.Tokens()).Credential);
        }
    }

    [Fact]
    public void IdentityWithoutMailSendGetsTheGrantCommandsForItsObjectId()
    {
        using PmpMailClient client = PmpMailClient.Create(_emulator.ManagedIdentityConfig(
            PmpMailCredential.FromManagedIdentity(PmpManagedIdentityId.FromClientId(IdentityEmulatorFixture.IdleClientId), PmpManagedIdentitySource.AppService),
            _emulator.AppService));
        PmpPermissionReport report = client.TestPermissions();
        Assert.True(report.Authenticated, report.Error?.Message);
        Assert.Equal(IdentityEmulatorFixture.IdleClientId, report.AppId);
        Assert.Empty(report.Roles);
        Assert.Contains(report.Permissions, p => p.Name == "Mail.Send" && p.Status == "Missing" && p.Required);

        const string Oid = IdentityEmulatorFixture.IdleObjectId;
        string grant = Assert.Single(report.Warnings, w => w.Contains("New-MgServicePrincipalAppRoleAssignment", StringComparison.Ordinal));
        Assert.Contains($"object id {Oid}", grant, StringComparison.Ordinal);
        Assert.Contains($"-ServicePrincipalId {Oid} -PrincipalId {Oid} -ResourceId $graph.Id -AppRoleId {MailSendRoleId}", grant, StringComparison.Ordinal);
        Assert.Contains($"az rest -m POST -u https://graph.microsoft.com/v1.0/servicePrincipals/{Oid}/appRoleAssignments", grant, StringComparison.Ordinal);
        Assert.Contains(GraphAppId, grant, StringComparison.Ordinal);
        // A managed identity has no app registration: no advice to grant admin consent to one.
        Assert.DoesNotContain(report.Warnings, w => w.Contains("grant admin consent", StringComparison.OrdinalIgnoreCase));

        // Graph refuses the send for lack of the role; nothing arrives.
        Assert.Throws<PmpMailPermissionException>(() => client.SendMail(NewMessage("xunit idle identity")));
        Assert.Empty(_emulator.Messages());
    }

    [Fact]
    public void NoImdsFailsWithAClearNetworkError()
    {
        // A loopback port nobody listens on.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        PmpMailConfig config = _emulator.ManagedIdentityConfig(
            PmpMailCredential.FromManagedIdentity(source: PmpManagedIdentitySource.Imds),
            new PmpManagedIdentityEndpoints { ImdsBaseUrl = new Uri($"http://127.0.0.1:{port}") });
        using PmpMailClient client = PmpMailClient.Create(config);
        var watch = Stopwatch.StartNew();
        var ex = Assert.Throws<PmpMailNetworkException>(() => client.SendMail(NewMessage("xunit no imds")));
        // A hang guard, not a timing claim.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), watch.Elapsed.ToString());
        Assert.Equal(PmpStatus.Network, ex.Status);
        Assert.Equal("network", ex.Category);
        Assert.Contains("no answer from the IMDS managed-identity endpoint", ex.Message, StringComparison.Ordinal);
        Assert.Contains("does not look like an Azure VM", ex.Remedy, StringComparison.Ordinal);
        Assert.Equal(1, ex.Detail.Attempts);
        Assert.Empty(_emulator.Messages());
    }

    private static PmpMailMessage NewMessage(string subject)
    {
        var message = new PmpMailMessage { From = IdentityEmulatorFixture.Mailbox, Subject = subject, Body = "body" };
        message.To.Add("ops@contoso.com");
        return message;
    }

    /// <summary>Sets environment variables (null = unset) and restores them on dispose.</summary>
    private sealed class EnvironmentScope : IDisposable
    {
        private readonly List<(string Name, string? Old)> _saved = [];

        public EnvironmentScope(params (string Name, string? Value)[] variables)
        {
            foreach ((string name, string? value) in variables)
            {
                _saved.Add((name, Environment.GetEnvironmentVariable(name)));
                Environment.SetEnvironmentVariable(name, value);
            }
        }

        public void Dispose()
        {
            foreach ((string name, string? old) in _saved)
            {
                Environment.SetEnvironmentVariable(name, old);
            }
        }
    }
}

/// <summary>Argument checks of the identity API, made before anything reaches the native library.</summary>
public sealed class IdentityArgumentTests
{
    [Fact]
    public void ConfigWithoutTenantRefusesCredentialsOfAnAppRegistration()
    {
        var ex = Assert.Throws<ArgumentException>(() => new PmpMailConfig(PmpMailCredential.FromClientSecret("x")));
        Assert.Equal("credential", ex.ParamName);
        Assert.Contains("PmpMailConfig(tenant, clientId)", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new PmpMailConfig(PmpMailCredential.FromPemFiles("cert.pem", "key.pem")));
        Assert.Throws<ArgumentNullException>(() => new PmpMailConfig((PmpMailCredential)null!));

        // The identity credentials are accepted without a tenant and client id.
        Assert.Same(PmpMailCredential.FromManagedIdentity().GetType(), new PmpMailConfig(PmpMailCredential.FromManagedIdentity()).Credential!.GetType());
        Assert.Null(new PmpMailConfig(PmpMailCredential.FromWorkloadIdentity("/var/run/token")).Tenant);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void EmptyIdentityIdsAreRefused(string? id)
    {
        Assert.Equal("clientId", Assert.ThrowsAny<ArgumentException>(() => PmpManagedIdentityId.FromClientId(id!)).ParamName);
        Assert.Equal("objectId", Assert.ThrowsAny<ArgumentException>(() => PmpManagedIdentityId.FromObjectId(id!)).ParamName);
        Assert.Equal("resourceId", Assert.ThrowsAny<ArgumentException>(() => PmpManagedIdentityId.FromResourceId(id!)).ParamName);
    }

    [Fact]
    public void EmptyTokenFileIsRefused() =>
        Assert.Equal("tokenFile", Assert.Throws<ArgumentException>(() => PmpMailCredential.FromWorkloadIdentity("")).ParamName);

    [Fact]
    public void IdentityIdsDescribeThemselves()
    {
        Assert.True(PmpManagedIdentityId.SystemAssigned.IsSystemAssigned);
        Assert.False(PmpManagedIdentityId.FromClientId("b0000000-0000-4000-8000-000000000001").IsSystemAssigned);
        Assert.Equal("user-assigned (objectId b0000000-0000-4000-8000-0000000000b1)", PmpManagedIdentityId.FromObjectId("b0000000-0000-4000-8000-0000000000b1").ToString());
    }

    [Fact]
    public void ManagedIdentityWithAnAppRegistrationsClientIdIsRefusedByTheLibrary()
    {
        var config = new PmpMailConfig(EmulatorFixture.TenantId, EmulatorFixture.SecretApp) { Credential = PmpMailCredential.FromManagedIdentity() };
        var ex = Assert.ThrowsAny<PmpMailInvalidArgumentException>(() => PmpMailClient.Create(config));
        Assert.Contains("clientId must be absent", ex.Message, StringComparison.Ordinal);
    }
}
