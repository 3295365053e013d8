using System.Security;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using PmpMail.Interop.Native;
using Xunit;

namespace PmpMail.Interop.Tests;

/// <summary>Google Workspace through PmpMail.Interop: a key file the emulator issued, Gmail's send, the delegation test.</summary>
[Collection(EmulatorCollection.Name)]
public sealed class GoogleWorkspaceTests(EmulatorFixture emulator) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("pmp-mail-xunit-google-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void SendsThroughGmailWithAKeyFile()
    {
        string keyPath = Path.Combine(_directory, "sa.json");
        File.WriteAllText(keyPath, emulator.GoogleServiceAccountKey(EmulatorFixture.GoogleServiceAccount));
        byte[] content = RandomNumberGenerator.GetBytes(40_000);
        string subject = "Gmail from C# " + Guid.NewGuid().ToString("N");

        using (PmpMailClient client = PmpMailClient.Create(emulator.GoogleConfig(PmpMailCredential.FromServiceAccountKeyFile(keyPath))))
        {
            var message = new PmpMailMessage { From = EmulatorFixture.GoogleUser, Subject = subject, Body = "Sent through Gmail ✓" };
            message.To.Add("someone@elsewhere.example");
            message.Attachments.Add(PmpMailAttachment.FromBytes("data.bin", content));
            Assert.Equal("sent", client.SendMail(message).Status);
        }

        JsonNode recorded = Assert.Single(emulator.Messages(), m => (string?)m!["subject"] == subject)!;
        Assert.Equal("gmail", (string?)recorded["provider"]);
        Assert.Equal(EmulatorFixture.GoogleUser, (string?)recorded["mailbox"]);
        JsonNode attachment = Assert.Single(recorded["attachments"]!.AsArray())!;
        Assert.Equal("data.bin", (string?)attachment["name"]);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(content)).ToLowerInvariant(), ((string?)attachment["sha256"])?.ToLowerInvariant());
    }

    [Fact]
    public void MimeKitReadsTheMessageOurClientSentThroughGmail()
    {
        string keyPath = Path.Combine(_directory, "sa-mime.json");
        File.WriteAllText(keyPath, emulator.GoogleServiceAccountKey(EmulatorFixture.GoogleServiceAccount));
        byte[] report = RandomNumberGenerator.GetBytes(70_000);
        byte[] logo = RandomNumberGenerator.GetBytes(3_000);
        string subject = "Patch-Bericht: Grüße – 日本語 🚀 " + Guid.NewGuid().ToString("N");

        using (PmpMailClient client = PmpMailClient.Create(emulator.GoogleConfig(PmpMailCredential.FromServiceAccountKeyFile(keyPath))))
        {
            var message = new PmpMailMessage
            {
                From = "Alerts Zoë <" + EmulatorFixture.GoogleUser + ">",
                Subject = subject,
                Body = "<h1>Nightly publishing</h1><p>café, naïve <img src=\"cid:logo\"></p>",
                BodyAsHtml = true,
                Importance = PmpMailImportance.High,
            };
            message.To.Add("Jörg Müller <joerg@elsewhere.example>");
            message.Cc.Add("cc@elsewhere.example");
            message.Bcc.Add("hidden@elsewhere.example");
            message.ReplyTo.Add("Help <help@elsewhere.example>");
            message.Headers.Add(new KeyValuePair<string, string>("X-Run-Id", "42"));
            message.Attachments.Add(PmpMailAttachment.FromBytes("report ü.bin", report, "application/octet-stream"));
            message.Attachments.Add(PmpMailAttachment.FromBytes("logo.png", logo, "image/png", contentId: "logo"));
            Assert.Equal("sent", client.SendMail(message).Status);
        }

        JsonNode recorded = Assert.Single(emulator.Messages(), m => (string?)m!["subject"] == subject)!;
        string eml = Path.Combine(emulator.StateDir, "messages", (string)recorded["id"]! + ".eml");
        MimeKit.MimeMessage parsed = MimeKit.MimeMessage.Load(eml);

        Assert.Equal(subject, parsed.Subject);
        Assert.Equal(EmulatorFixture.GoogleUser, Assert.Single(parsed.From.Mailboxes).Address);
        Assert.Equal("Alerts Zoë", Assert.Single(parsed.From.Mailboxes).Name);
        MimeKit.MailboxAddress to = Assert.Single(parsed.To.Mailboxes);
        Assert.Equal(("joerg@elsewhere.example", "Jörg Müller"), (to.Address, to.Name));
        Assert.Equal("cc@elsewhere.example", Assert.Single(parsed.Cc.Mailboxes).Address);
        Assert.Equal("hidden@elsewhere.example", Assert.Single(parsed.Bcc.Mailboxes).Address);
        Assert.Equal("help@elsewhere.example", Assert.Single(parsed.ReplyTo.Mailboxes).Address);
        Assert.Equal(MimeKit.MessageImportance.High, parsed.Importance);
        Assert.Equal("42", parsed.Headers["X-Run-Id"]);
        Assert.Contains("<h1>Nightly publishing</h1>", parsed.HtmlBody, StringComparison.Ordinal);
        Assert.Contains("café, naïve", parsed.HtmlBody, StringComparison.Ordinal);

        byte[] Content(MimeKit.MimePart part)
        {
            using var bytes = new MemoryStream();
            part.Content!.DecodeTo(bytes);
            return bytes.ToArray();
        }

        MimeKit.MimePart attachment = Assert.Single(parsed.Attachments.OfType<MimeKit.MimePart>());
        Assert.Equal("report ü.bin", attachment.FileName);
        Assert.Equal(report, Content(attachment));
        MimeKit.MimePart inline = Assert.Single(parsed.BodyParts.OfType<MimeKit.MimePart>(), p => p.ContentId == "logo");
        Assert.Equal("image/png", inline.ContentType.MimeType);
        Assert.Equal(logo, Content(inline));
    }

    [Fact]
    public void SendsWithTheKeyJsonAndImpersonate()
    {
        string keyJson = emulator.GoogleServiceAccountKey(EmulatorFixture.GoogleServiceAccount);
        var secure = new SecureString();
        foreach (char c in keyJson)
        {
            secure.AppendChar(c);
        }

        PmpMailCredential credential = PmpMailCredential.FromServiceAccountKeyJson(secure);
        Assert.Equal("serviceAccountKey", credential.ToString());
        PmpMailConfig config = emulator.GoogleConfig(credential);
        config.Impersonate = EmulatorFixture.GoogleUser;
        string subject = "Gmail with keyJson " + Guid.NewGuid().ToString("N");
        using PmpMailClient client = PmpMailClient.Create(config);
        var message = new PmpMailMessage { From = EmulatorFixture.GoogleUser, Subject = subject, Body = "key from a vault" };
        message.To.Add("someone@elsewhere.example");
        client.SendMail(message);
        Assert.Equal("gmail", (string?)Assert.Single(emulator.Messages(), m => (string?)m!["subject"] == subject)!["provider"]);

        PmpPermissionReport report = client.TestPermissions();
        Assert.True(report.Authenticated);
        Assert.Equal("Granted", Assert.Single(report.Permissions, p => p.Name == "gmail.send").Status);
    }

    [Fact]
    public void TestPermissionsReportsDelegationGrantedAndMissing()
    {
        string good = emulator.GoogleServiceAccountKey(EmulatorFixture.GoogleServiceAccount);
        using (PmpMailClient client = PmpMailClient.Create(emulator.GoogleConfig(PmpMailCredential.FromServiceAccountKeyJson(good))))
        {
            PmpPermissionReport report = client.TestPermissions(EmulatorFixture.GoogleUser);
            Assert.True(report.Authenticated);
            Assert.Equal(EmulatorFixture.GoogleClientId, report.AppId);
            Assert.Equal("Granted", Assert.Single(report.Permissions, p => p.Name == "gmail.send").Status);
            Assert.DoesNotContain("PRIVATE KEY", string.Join("\n", report.Log));
        }

        string undelegated = emulator.GoogleServiceAccountKey(EmulatorFixture.GoogleUndelegatedAccount);
        using (PmpMailClient client = PmpMailClient.Create(emulator.GoogleConfig(PmpMailCredential.FromServiceAccountKeyJson(undelegated))))
        {
            PmpPermissionReport report = client.TestPermissions(EmulatorFixture.GoogleUser);
            Assert.False(report.Authenticated);
            Assert.Equal("Missing", Assert.Single(report.Permissions, p => p.Name == "gmail.send").Status);
            Assert.NotNull(report.Error);
            Assert.Equal("PMP_STATUS_PERMISSION_DENIED", report.Error!.StatusName);
            Assert.Contains("Domain-wide delegation", report.Error.Remedy);
            Assert.Contains("118000000000000000012", report.Error.Remedy);
        }
    }

    [Fact]
    public void TheConfigDocumentIsTheCoresGoogleDocument()
    {
        PmpMailConfig config = PmpMailConfig.ForGoogleWorkspace(PmpMailCredential.FromServiceAccountKeyFile("/keys/sa.json"), "alerts@xunit.example");
        config.GoogleTokenUri = new Uri("https://127.0.0.1:8443/token");
        config.GmailRoot = new Uri("https://127.0.0.1:8443/");
        config.TokenCache = PmpTokenCache.Client;
        using var buffer = new SensitiveBufferWriter();
        DocumentWriter.WriteConfig(buffer, config, hostAuth: null);
        JsonNode document = JsonNode.Parse(Encoding.UTF8.GetString(buffer.WrittenSpan))!;
        Assert.Equal(
            """{"provider":"googleWorkspace","auth":{"type":"serviceAccountKey","keyPath":"/keys/sa.json"},"google":{"impersonate":"alerts@xunit.example","tokenUri":"https://127.0.0.1:8443/token","gmailRoot":"https://127.0.0.1:8443"},"tokenCache":"client"}""",
            document.ToJsonString());

        // Entra-only settings are refused before the core sees them, and a key does not go into a Microsoft 365 config.
        config.GraphRoot = new Uri("https://127.0.0.1:8443/");
        using var refused = new SensitiveBufferWriter();
        Assert.Contains("GraphRoot", Assert.Throws<ArgumentException>(() => DocumentWriter.WriteConfig(refused, config, hostAuth: null)).Message);
        var microsoft = new PmpMailConfig(EmulatorFixture.TenantId, EmulatorFixture.SecretApp) { Credential = PmpMailCredential.FromServiceAccountKeyFile("/keys/sa.json") };
        Assert.Throws<ArgumentException>(() => PmpMailClient.Create(microsoft));
        Assert.Throws<ArgumentException>(() => PmpMailConfig.ForGoogleWorkspace(PmpMailCredential.FromClientSecret("s")));
    }

    [Fact]
    public void AKeyThatIsNotJsonIsRefusedWithoutEchoingIt()
    {
        const string notAKey = "-----BEGIN PRIVATE KEY-----MIIEvQIBADANBgkqhkiG9w0BAQEFAASC-----END PRIVATE KEY-----";
        PmpMailException e = Assert.ThrowsAny<PmpMailException>(() => PmpMailClient.Create(emulator.GoogleConfig(PmpMailCredential.FromServiceAccountKeyJson(notAKey))));
        Assert.DoesNotContain("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", e.Message + e.Detail.Remedy);
    }
}
