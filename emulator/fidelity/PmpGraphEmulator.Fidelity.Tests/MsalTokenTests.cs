using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Identity.Client;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;
using Xunit;

namespace PmpGraphEmulator.Fidelity.Tests;

/// <summary>MSAL.NET's confidential client against the emulator's Entra v2.0 authority.</summary>
[Collection(EmulatorCollection.Name)]
public sealed class MsalTokenTests(EmulatorFixture emu) : IDisposable
{
    private readonly TrustedMsalHttpClientFactory _http = new(emu.Ca);

    public void Dispose() => _http.Dispose();

    private static void AssertGraphAppToken(string accessToken)
    {
        var claims = Jwt.Payload(accessToken);
        Assert.Equal(EmulatorFixture.TenantId, Jwt.String(claims, "tid"));
        Assert.Equal(EmulatorFixture.ClientId, Jwt.String(claims, "appid"));
        Assert.Equal("https://graph.microsoft.com", Jwt.String(claims, "aud"));
        Assert.Equal("app", Jwt.String(claims, "idtyp"));
        var roles = Jwt.StringArray(claims, "roles");
        Assert.Equal(EmulatorFixture.GrantedRoles.Order(), roles.Order());
        Assert.DoesNotContain(EmulatorFixture.UnconsentedRole, roles);
        Assert.Equal("RS256", Jwt.String(Jwt.Header(accessToken), "alg"));
    }

    private string TokenEndpoint(string tenant = EmulatorFixture.TenantId) =>
        $"{emu.AuthorityHost}/{tenant}/oauth2/v2.0/token";

    /// <summary>The single token request MSAL sent; it went to the emulator and nowhere else.</summary>
    private SentRequest SingleTokenRequest(string tenant = EmulatorFixture.TenantId)
    {
        Assert.All(_http.Sent, r => Assert.StartsWith(emu.AuthorityHost + "/", r.Uri.AbsoluteUri, StringComparison.Ordinal));
        var req = Assert.Single(_http.Sent, r => r.Method == HttpMethod.Post);
        Assert.Equal(TokenEndpoint(tenant), req.Uri.GetLeftPart(UriPartial.Path));
        Assert.Equal("client_credentials", req.Form["grant_type"]);
        Assert.Equal(EmulatorFixture.ClientId, req.Form["client_id"]);
        Assert.Equal(EmulatorFixture.GraphScope, req.Form["scope"]);
        return req;
    }

    [Fact]
    public async Task ClientSecret_TokenHasGraphRolesAndIsRecorded()
    {
        var before = await emu.Control.CountersAsync();
        var tokensBefore = (await emu.Control.TokensAsync()).Count;
        var app = Msal.Builder(emu, _http).WithClientSecret(EmulatorFixture.ClientSecret).Build();

        var result = await app.AcquireTokenForClient([EmulatorFixture.GraphScope]).ExecuteAsync();

        Assert.Equal(TokenSource.IdentityProvider, result.AuthenticationResultMetadata.TokenSource);
        Assert.Equal("Bearer", result.TokenType);
        Assert.True(result.ExpiresOn > DateTimeOffset.UtcNow.AddMinutes(50), $"expires {result.ExpiresOn}");
        AssertGraphAppToken(result.AccessToken);
        Assert.Equal("1", Jwt.String(Jwt.Payload(result.AccessToken), "appidacr"));

        // A second request is served from MSAL's cache: the response was cacheable as MSAL parses it.
        var again = await app.AcquireTokenForClient([EmulatorFixture.GraphScope]).ExecuteAsync();
        Assert.Equal(TokenSource.Cache, again.AuthenticationResultMetadata.TokenSource);
        Assert.Equal(result.AccessToken, again.AccessToken);

        // What MSAL sent: the secret in the form, exactly (its '+', '&', '=', '%' survived encoding),
        // and with instance discovery off, no other request at all.
        var sent = SingleTokenRequest();
        Assert.Equal(EmulatorFixture.ClientSecret, sent.Form["client_secret"]);
        Assert.False(sent.Form.ContainsKey("client_assertion"));
        Assert.Single(_http.Sent);

        var after = await emu.Control.CountersAsync();
        Assert.Equal(1, after.TokenRequests - before.TokenRequests);
        Assert.Equal(1, after.TokensIssued - before.TokensIssued);
        var tokens = await emu.Control.TokensAsync();
        var rec = Assert.Single(tokens.Skip(tokensBefore));
        Assert.Equal("secret", rec.Credential);
        Assert.Equal(EmulatorFixture.ClientId, rec.AppId);
        Assert.Equal(EmulatorFixture.TenantId, rec.TenantId);
        Assert.Equal(Jwt.String(Jwt.Payload(result.AccessToken), "uti"), Jwt.String(rec.Claims, "uti"));
    }

    [Fact]
    public async Task Certificate_Ps256Assertion_TokenIsRecordedAsCertificate()
    {
        var tokensBefore = (await emu.Control.TokensAsync()).Count;
        var app = Msal.Builder(emu, _http).WithCertificate(emu.AppCertificate).Build();

        var result = await app.AcquireTokenForClient([EmulatorFixture.GraphScope]).ExecuteAsync();

        Assert.Equal(TokenSource.IdentityProvider, result.AuthenticationResultMetadata.TokenSource);
        AssertGraphAppToken(result.AccessToken);
        Assert.Equal("2", Jwt.String(Jwt.Payload(result.AccessToken), "appidacr"));
        var rec = Assert.Single((await emu.Control.TokensAsync()).Skip(tokensBefore));
        Assert.Equal("certificate", rec.Credential);
        Assert.Equal(EmulatorFixture.ClientId, rec.AppId);

        // The assertion the emulator accepted has MSAL.NET's AAD shape: PS256 + x5t#S256,
        // aud = the token URL, iss = sub = client id, nbf/exp as JSON strings, a jti.
        var sent = SingleTokenRequest();
        Assert.False(sent.Form.ContainsKey("client_secret"));
        Assert.Equal("urn:ietf:params:oauth:client-assertion-type:jwt-bearer", sent.Form["client_assertion_type"]);
        var assertion = sent.Form["client_assertion"];
        var header = Jwt.Header(assertion);
        Assert.Equal("PS256", Jwt.String(header, "alg"));
        Assert.Equal(
            Base64UrlEncoder.Encode(SHA256.HashData(emu.AppCertificate.RawData)),
            Jwt.String(header, "x5t#S256"));
        Assert.False(header.TryGetProperty("x5t", out _));
        Assert.False(header.TryGetProperty("x5c", out _));
        var payload = Jwt.Payload(assertion);
        Assert.Equal(TokenEndpoint(), Jwt.String(payload, "aud"));
        Assert.Equal(EmulatorFixture.ClientId, Jwt.String(payload, "iss"));
        Assert.Equal(EmulatorFixture.ClientId, Jwt.String(payload, "sub"));
        Assert.Equal(JsonValueKind.String, payload.GetProperty("nbf").ValueKind);
        Assert.Equal(JsonValueKind.String, payload.GetProperty("exp").ValueKind);
        Assert.False(string.IsNullOrEmpty(Jwt.String(payload, "jti")));
    }

    [Fact]
    public async Task Certificate_WithX5c_IsAccepted()
    {
        var tokensBefore = (await emu.Control.TokensAsync()).Count;
        var app = Msal.Builder(emu, _http).WithCertificate(emu.AppCertificate, sendX5C: true).Build();

        var result = await app.AcquireTokenForClient([EmulatorFixture.GraphScope]).ExecuteAsync();

        AssertGraphAppToken(result.AccessToken);
        var rec = Assert.Single((await emu.Control.TokensAsync()).Skip(tokensBefore));
        Assert.Equal("certificate", rec.Credential);

        // MSAL.NET sends x5c as one base64 DER string (not an array) beside x5t#S256.
        var header = Jwt.Header(SingleTokenRequest().Form["client_assertion"]);
        Assert.Equal(JsonValueKind.String, header.GetProperty("x5c").ValueKind);
        Assert.Equal(emu.AppCertificate.RawData, Convert.FromBase64String(Jwt.String(header, "x5c")!));
    }

    [Fact]
    public async Task InstanceDiscoveryFromEmulator_AndDomainTenant_Works()
    {
        var requestsBefore = (await emu.Control.RequestsAsync()).Count;
        var app = Msal.Builder(emu, _http, discovery: MsalDiscovery.FromEmulator, tenant: EmulatorFixture.TenantDomain)
            .WithClientSecret(EmulatorFixture.ClientSecret)
            .Build();

        var result = await app.AcquireTokenForClient([EmulatorFixture.GraphScope]).ExecuteAsync();

        AssertGraphAppToken(result.AccessToken);
        var paths = (await emu.Control.RequestsAsync()).Skip(requestsBefore).Select(r => $"{r.Method} {r.Path} {r.Status}").ToList();
        Assert.Contains(paths, p => p.StartsWith("GET /common/discovery/instance", StringComparison.Ordinal) && p.EndsWith(" 200", StringComparison.Ordinal));
        Assert.Contains($"POST /{EmulatorFixture.TenantDomain}/oauth2/v2.0/token 200", paths);
        var discovery = Assert.Single(_http.Sent, r => r.Method == HttpMethod.Get);
        Assert.Equal($"{emu.AuthorityHost}/common/discovery/instance", discovery.Uri.GetLeftPart(UriPartial.Path));
        SingleTokenRequest(EmulatorFixture.TenantDomain);
    }

    [Fact]
    public async Task WrongSecret_IsInvalidClient7000215()
    {
        var app = Msal.Builder(emu, _http).WithClientSecret("not-the-secret").Build();

        var ex = await Assert.ThrowsAsync<MsalServiceException>(
            () => app.AcquireTokenForClient([EmulatorFixture.GraphScope]).ExecuteAsync());

        Assert.Equal("invalid_client", ex.ErrorCode);
        Assert.Equal(401, ex.StatusCode);
        Assert.Contains("AADSTS7000215", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnregisteredCertificate_IsRejected()
    {
        var before = await emu.Control.CountersAsync();
        var app = Msal.Builder(emu, _http).WithCertificate(emu.UnregisteredCertificate).Build();

        var ex = await Assert.ThrowsAsync<MsalServiceException>(
            () => app.AcquireTokenForClient([EmulatorFixture.GraphScope]).ExecuteAsync());

        Assert.Equal("invalid_client", ex.ErrorCode);
        Assert.Matches("AADSTS700027|AADSTS700024|AADSTS50012", ex.Message);
        var after = await emu.Control.CountersAsync();
        Assert.Equal(0, after.TokensIssued - before.TokensIssued);
    }

    [Fact]
    public async Task NonDefaultScope_IsInvalidScope()
    {
        var app = Msal.Builder(emu, _http).WithClientSecret(EmulatorFixture.ClientSecret).Build();

        var ex = await Assert.ThrowsAsync<MsalServiceException>(
            () => app.AcquireTokenForClient(["https://graph.microsoft.com/Mail.Send"]).ExecuteAsync());

        Assert.Equal("invalid_scope", ex.ErrorCode);
        Assert.Contains("AADSTS1002012", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Microsoft.IdentityModel (what Graph-side validators use) reads the emulator's OpenID
    /// configuration and JWKS and validates an MSAL-acquired token's signature, issuer and audience.
    /// </summary>
    [Fact]
    public async Task AccessToken_ValidatesAgainstPublishedJwks()
    {
        var app = Msal.Builder(emu, _http).WithCertificate(emu.AppCertificate).Build();
        var result = await app.AcquireTokenForClient([EmulatorFixture.GraphScope]).ExecuteAsync();

        var metadata = $"{emu.AuthorityHost}/{EmulatorFixture.TenantId}/v2.0/.well-known/openid-configuration";
        var retriever = new HttpDocumentRetriever(_http.GetHttpClient()) { RequireHttps = true };
        var config = await OpenIdConnectConfigurationRetriever.GetAsync(metadata, retriever, CancellationToken.None);
        Assert.StartsWith(emu.AuthorityHost + "/", config.TokenEndpoint, StringComparison.Ordinal);
        Assert.NotEmpty(config.SigningKeys);

        var validation = await new JsonWebTokenHandler().ValidateTokenAsync(result.AccessToken, new TokenValidationParameters
        {
            ValidAudience = "https://graph.microsoft.com",
            ValidIssuer = $"https://sts.windows.net/{EmulatorFixture.TenantId}/",
            IssuerSigningKeys = config.SigningKeys,
            ValidateLifetime = true,
        });
        Assert.True(validation.IsValid, validation.Exception?.ToString());

        // And a token whose payload was altered does not validate.
        var parts = result.AccessToken.Split('.');
        var claims = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(Jwt.Base64UrlDecode(parts[1]))!;
        claims["roles"] = JsonSerializer.SerializeToElement(new[] { "Mail.Send", "Directory.ReadWrite.All" });
        var forged = $"{parts[0]}.{Base64UrlEncoder.Encode(JsonSerializer.SerializeToUtf8Bytes(claims))}.{parts[2]}";
        var forgedResult = await new JsonWebTokenHandler().ValidateTokenAsync(forged, new TokenValidationParameters
        {
            ValidAudience = "https://graph.microsoft.com",
            ValidIssuer = $"https://sts.windows.net/{EmulatorFixture.TenantId}/",
            IssuerSigningKeys = config.SigningKeys,
        });
        Assert.False(forgedResult.IsValid);
    }
}
