using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Google.Apis.Auth.OAuth2;
using Google.Apis.Auth.OAuth2.Responses;
using Google.Apis.Http;
using MimeKit;
using MimeKit.Utils;
using Xunit;

namespace PmpGraphEmulator.Fidelity.Tests;

/// <summary>
/// Google's own .NET auth client (Google.Apis.Auth) gets domain-wide-delegation tokens from the
/// emulator's token endpoint unchanged, from a JSON key file the emulator issued; MimeKit builds a
/// message that goes out through Gmail's send, and parses what the emulator recorded.
/// </summary>
[Collection(EmulatorCollection.Name)]
public sealed class GoogleWorkspaceTests(EmulatorFixture emu)
{
    private const string NonAscii = "Grüße, Ærøskøbing – 測試 ✓";

    /// <summary>Google's HTTP stack with the emulator's CA as the only trust anchor.</summary>
    private sealed class TrustedGoogleHttpClientFactory(X509Certificate2 ca) : HttpClientFactory
    {
        protected override HttpMessageHandler CreateHandler(CreateHttpClientArgs args) => EmulatorTrust.CreateHandler(ca);
    }

    private GoogleCredential Credential(string keyJson, string subject) =>
        CredentialFactory.FromJson<ServiceAccountCredential>(keyJson)
            .ToGoogleCredential()
            .CreateScoped(EmulatorFixture.GmailSendScope)
            .CreateWithUser(subject)
            .CreateWithHttpClientFactory(new TrustedGoogleHttpClientFactory(emu.Ca));

    private static Task<string> TokenAsync(GoogleCredential credential) =>
        ((ITokenAccess)credential).GetAccessTokenForRequestAsync();

    [Fact]
    public async Task GoogleApisAuth_KeyFileWithUser_GetsADelegatedToken()
    {
        var keyJson = await emu.Control.GoogleServiceAccountKeyAsync(EmulatorFixture.GoogleServiceAccount);
        using (var doc = JsonDocument.Parse(keyJson))
        {
            Assert.Equal($"{emu.BaseUrl}/token", doc.RootElement.GetProperty("token_uri").GetString());
        }

        var before = await emu.Control.GoogleTokensAsync();
        var credential = Credential(keyJson, EmulatorFixture.GoogleUser);
        var token = await TokenAsync(credential);
        Assert.StartsWith("ya29.", token);
        // Cached by the client: a second call asks the emulator for nothing.
        Assert.Equal(token, await TokenAsync(credential));

        var after = await emu.Control.GoogleTokensAsync();
        long Issued(List<GoogleTokenCountRecord> l) => l
            .Where(t => t.ServiceAccount == EmulatorFixture.GoogleServiceAccount && t.Subject == EmulatorFixture.GoogleUser)
            .Sum(t => t.Issued);
        Assert.Equal(1, Issued(after) - Issued(before));

        var sa = (ServiceAccountCredential)credential.UnderlyingCredential;
        Assert.Equal(EmulatorFixture.GoogleUser, sa.User);
        Assert.InRange((sa.Token.ExpiresInSeconds ?? 0), 3500, 3599);
    }

    [Fact]
    public async Task GoogleApisAuth_WithoutDelegation_GetsUnauthorizedClient()
    {
        var keyJson = await emu.Control.GoogleServiceAccountKeyAsync(EmulatorFixture.GoogleUndelegatedAccount);
        var ex = await Assert.ThrowsAsync<TokenResponseException>(() => TokenAsync(Credential(keyJson, EmulatorFixture.GoogleUser)));
        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
        Assert.Equal("unauthorized_client", ex.Error.Error);
        Assert.Equal(
            "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
            ex.Error.ErrorDescription);

        // A user outside the directory: invalid_grant, as Google answers it.
        var good = await emu.Control.GoogleServiceAccountKeyAsync(EmulatorFixture.GoogleServiceAccount);
        var ex2 = await Assert.ThrowsAsync<TokenResponseException>(() => TokenAsync(Credential(good, $"nobody@{EmulatorFixture.GoogleDomain}")));
        Assert.Equal("invalid_grant", ex2.Error.Error);
        Assert.Equal("Invalid email or User ID", ex2.Error.ErrorDescription);
    }

    [Fact]
    public async Task MimeKitMessage_SentRaw_IsRecordedAndParsesBackIdentically()
    {
        var keyJson = await emu.Control.GoogleServiceAccountKeyAsync(EmulatorFixture.GoogleServiceAccount);
        var token = await TokenAsync(Credential(keyJson, EmulatorFixture.GoogleUser));

        var subject = $"Fidelity Gmail {Guid.NewGuid():N} {NonAscii}";
        var attachment = RandomNumberGenerator.GetBytes(300 * 1024);
        var image = RandomNumberGenerator.GetBytes(20 * 1024);
        var builder = new BodyBuilder { TextBody = $"Plain {NonAscii}" };
        var inline = builder.LinkedResources.Add("logo.png", image, new ContentType("image", "png"));
        inline.ContentId = MimeUtils.GenerateMessageId();
        builder.HtmlBody = $"<p>{NonAscii}</p><img src=\"cid:{inline.ContentId}\">";
        builder.Attachments.Add("Bericht März.bin", attachment, new ContentType("application", "octet-stream"));
        var message = new MimeMessage
        {
            Subject = subject,
            Body = builder.ToMessageBody(),
        };
        message.From.Add(new MailboxAddress("Alerts Ü", EmulatorFixture.GoogleUser));
        message.To.Add(new MailboxAddress("Ops", "ops@contoso.example"));
        message.Cc.Add(new MailboxAddress("Ærø", "aero@contoso.example"));
        message.Headers.Add("X-Patch-Run", "42");
        using var raw = new MemoryStream();
        await message.WriteToAsync(raw);
        var rawBase64Url = Convert.ToBase64String(raw.ToArray()).TrimEnd('=').Replace('+', '-').Replace('/', '_');

        using var http = new HttpClient(EmulatorTrust.CreateHandler(emu.Ca));
        using var req = new HttpRequestMessage(HttpMethod.Post, $"{emu.BaseUrl}/gmail/v1/users/me/messages/send")
        {
            Content = JsonContent.Create(new { raw = rawBase64Url }),
        };
        req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var resp = await http.SendAsync(req);
        var text = await resp.Content.ReadAsStringAsync();
        Assert.True(resp.IsSuccessStatusCode, text);
        using var answer = JsonDocument.Parse(text);
        var id = answer.RootElement.GetProperty("id").GetString()!;
        Assert.Equal(["SENT"], answer.RootElement.GetProperty("labelIds").EnumerateArray().Select(e => e.GetString()!).ToArray());

        // The recorded .eml parses back with MimeKit: same subject, bodies, bytes.
        var eml = Path.Combine(emu.StateDir, "messages", $"{id}.eml");
        var back = await MimeMessage.LoadAsync(eml);
        Assert.Equal(subject, back.Subject);
        Assert.Equal($"Plain {NonAscii}", (back.TextBody ?? string.Empty).TrimEnd());
        Assert.Contains(NonAscii, back.HtmlBody ?? string.Empty);
        var attached = Assert.Single(back.Attachments.OfType<MimePart>());
        Assert.Equal("Bericht März.bin", attached.FileName);
        Assert.Equal(attachment, Decode(attached));
        var linked = back.BodyParts.OfType<MimePart>().Single(p => p.ContentId == inline.ContentId);
        Assert.Equal(image, Decode(linked));

        // The emulator's own record (mail-parser) agrees with MimeKit's reading.
        var rec = Assert.Single(await emu.Control.MessagesAsync(), m => m.Id == id);
        Assert.Equal("gmail", rec.Provider);
        Assert.Equal("gmail:raw", rec.Via);
        Assert.Equal(EmulatorFixture.GoogleUser, rec.Mailbox);
        Assert.Equal(EmulatorFixture.GoogleServiceAccount, rec.AppId);
        Assert.Equal(subject, rec.Subject);
        Assert.Equal("Alerts Ü", rec.From?.Name);
        Assert.Equal(["ops@contoso.example"], rec.To.Select(r => r.Address).ToArray());
        Assert.Equal("Ærø", Assert.Single(rec.Cc).Name);
        Assert.Contains(rec.Headers, h => h.Name == "X-Patch-Run" && h.Value == "42");
        var recAttachment = Assert.Single(rec.Attachments, a => !a.IsInline);
        Assert.Equal("Bericht März.bin", recAttachment.Name);
        Assert.Equal(Sha256Hex(attachment), recAttachment.Sha256);
        var recInline = Assert.Single(rec.Attachments, a => a.IsInline);
        Assert.Equal(inline.ContentId, recInline.ContentId);
        Assert.Equal(Sha256Hex(image), recInline.Sha256);
    }

    private static byte[] Decode(MimePart part)
    {
        using var ms = new MemoryStream();
        Assert.NotNull(part.Content);
        part.Content.DecodeTo(ms);
        return ms.ToArray();
    }

    private static string Sha256Hex(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();
}
