using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using System.Text;
using PmpMail.Interop.Native;
using Xunit;

namespace PmpMail.Interop.Tests;

/// <summary>
/// Google Workspace with a key held in .NET (<see cref="PmpMailCredential.FromServiceAccountCertificate"/>): the
/// emulator issues a key file, its private key goes into a self-signed certificate, as when an administrator uploads
/// a certificate's public key to the service account, and the client signs through the host signer path.
/// </summary>
[Collection(EmulatorCollection.Name)]
public sealed class GoogleSignerTests(EmulatorFixture emulator)
{
    /// <summary>A key the emulator registered for the service account, as a certificate with that private key.</summary>
    private (X509Certificate2 Certificate, string KeyId, string PemLine) NewKeyCertificate()
    {
        JsonNode key = JsonNode.Parse(emulator.GoogleServiceAccountKey(EmulatorFixture.GoogleServiceAccount))!;
        string pem = (string)key["private_key"]!;
        using RSA rsa = RSA.Create();
        rsa.ImportFromPem(pem);
        var request = new CertificateRequest("CN=pmp-mail google signer", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        // A line from the middle of the PEM body: what a leak would show.
        return (certificate, (string)key["private_key_id"]!, pem.Split('\n')[5]);
    }

    private static PmpMailMessage Message(string subject)
    {
        var message = new PmpMailMessage { From = EmulatorFixture.GoogleUser, Subject = subject, Body = "signed in .NET" };
        message.To.Add("someone@elsewhere.example");
        return message;
    }

    [Fact]
    public void SendsThroughGmailWithACertificateThatSignsInDotNet()
    {
        (X509Certificate2 certificate, string keyId, _) = NewKeyCertificate();
        using (certificate)
        {
            int tokensBefore = emulator.GoogleTokensIssued(EmulatorFixture.GoogleServiceAccount, EmulatorFixture.GoogleUser);
            PmpMailCredential credential = PmpMailCredential.FromServiceAccountCertificate(EmulatorFixture.GoogleServiceAccount, certificate, keyId, EmulatorFixture.GoogleClientId);
            Assert.Equal("serviceAccountCertificate", credential.ToString());
            string first = "Gmail signed in .NET " + Guid.NewGuid().ToString("N");
            string second = "Gmail signed in .NET, cached token " + Guid.NewGuid().ToString("N");
            using (PmpMailClient client = PmpMailClient.Create(emulator.GoogleConfig(credential)))
            {
                Assert.Equal("serviceAccountCertificate", client.CredentialKind);
                Assert.Same(certificate, client.SigningCertificate);
                Assert.Equal("sent", client.SendMail(Message(first)).Status);
                Assert.Equal("sent", client.SendMail(Message(second)).Status);
                // One token for the user, so one signature: the second send used the cached token.
                Assert.Equal(1, client.Signer!.SignatureCount);

                PmpPermissionReport report = client.TestPermissions(EmulatorFixture.GoogleUser);
                Assert.True(report.Authenticated, report.Error?.Message);
                Assert.Equal("Granted", Assert.Single(report.Permissions, p => p.Name == "gmail.send").Status);
                Assert.Equal(1, client.Signer.SignatureCount);
            }

            Assert.Equal(1, emulator.GoogleTokensIssued(EmulatorFixture.GoogleServiceAccount, EmulatorFixture.GoogleUser) - tokensBefore);
            foreach (string subject in new[] { first, second })
            {
                JsonNode recorded = Assert.Single(emulator.Messages(), m => (string?)m!["subject"] == subject)!;
                Assert.Equal("gmail", (string?)recorded["provider"]);
                Assert.Equal(EmulatorFixture.GoogleUser, (string?)recorded["mailbox"]);
            }

            // The caller's certificate is borrowed: the client did not dispose it.
            Assert.NotEqual(IntPtr.Zero, certificate.Handle);
        }
    }

    [Fact]
    public void AWrongKeyIdIsGooglesSignatureErrorWithItsRemedyAndNoKeyMaterial()
    {
        (X509Certificate2 certificate, _, string pemLine) = NewKeyCertificate();
        using (certificate)
        {
            const string wrongKeyId = "0000000000000000000000000000000000000bad";
            PmpMailCredential credential = PmpMailCredential.FromServiceAccountCertificate(EmulatorFixture.GoogleServiceAccount, certificate, wrongKeyId);
            using PmpMailClient client = PmpMailClient.Create(emulator.GoogleConfig(credential));
            PmpMailAuthenticationException e = Assert.Throws<PmpMailAuthenticationException>(() => client.SendMail(Message("never " + Guid.NewGuid())));
            Assert.Equal(PmpStatus.AuthenticationFailed, e.Status);
            Assert.Equal("invalid_grant", e.Detail.EntraError);
            Assert.Contains("signature", e.Message, StringComparison.Ordinal);
            Assert.Contains(wrongKeyId, e.Message, StringComparison.Ordinal);
            Assert.Contains("Invalid JWT Signature.", e.Message, StringComparison.Ordinal);
            Assert.Contains("Keys", e.Remedy, StringComparison.Ordinal);
            Assert.Contains(EmulatorFixture.GoogleServiceAccount, e.Remedy, StringComparison.Ordinal);
            Assert.Equal(1, client.Signer!.SignatureCount);

            string text = e + "\n" + e.Remedy + "\n" + string.Join("\n", e.Detail.Log);
            Assert.DoesNotContain(pemLine, text, StringComparison.Ordinal);
            Assert.DoesNotContain("PRIVATE KEY", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ACertificateInCurrentUserMyIsFoundByThumbprintAndOwnedByTheClient()
    {
        (X509Certificate2 certificate, string keyId, _) = NewKeyCertificate();
        using (certificate)
        using (new CertificateThumbprintTests.StoreEntry(certificate, withPrivateKey: true))
        {
            PmpMailCredential credential = PmpMailCredential.FromServiceAccountCertificateThumbprint(EmulatorFixture.GoogleServiceAccount, certificate.Thumbprint.ToLowerInvariant(), keyId);
            string subject = "Gmail signed by a store certificate " + Guid.NewGuid().ToString("N");
            X509Certificate2 found;
            using (PmpMailClient client = PmpMailClient.Create(emulator.GoogleConfig(credential)))
            {
                Assert.Equal(StoreLocation.CurrentUser, client.SigningCertificateStoreLocation);
                found = client.SigningCertificate!;
                Assert.Equal(certificate.Thumbprint, found.Thumbprint);
                Assert.Equal("sent", client.SendMail(Message(subject)).Status);
                Assert.Equal(1, client.Signer!.SignatureCount);
            }

            Assert.Single(emulator.Messages(), m => (string?)m!["subject"] == subject);
            Assert.Equal(IntPtr.Zero, found.Handle);
        }

        string unknown = Convert.ToHexString(Guid.NewGuid().ToByteArray()) + "00C0FFEE";
        PmpMailCredential missing = PmpMailCredential.FromServiceAccountCertificateThumbprint(EmulatorFixture.GoogleServiceAccount, unknown, "abc");
        var notFound = Assert.Throws<PmpMailCertificateNotFoundException>(() => PmpMailClient.Create(emulator.GoogleConfig(missing)));
        Assert.Contains(@"CurrentUser\My", notFound.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheConfigDocumentIsTheCoresSignerDocument()
    {
        (X509Certificate2 certificate, _, _) = NewKeyCertificate();
        using (certificate)
        {
            PmpMailConfig config = PmpMailConfig.ForGoogleWorkspace(PmpMailCredential.FromServiceAccountCertificate(" sender@p.iam.gserviceaccount.com ", certificate, "k1", "118"), "alerts@xunit.example");
            config.GmailRoot = new Uri("https://127.0.0.1:8443/");
            using var buffer = new SensitiveBufferWriter();
            DocumentWriter.WriteConfig(buffer, config, hostAuth: "signer");
            Assert.Equal(
                """{"provider":"googleWorkspace","auth":{"type":"signer"},"google":{"serviceAccountEmail":"sender@p.iam.gserviceaccount.com","privateKeyId":"k1","clientId":"118","impersonate":"alerts@xunit.example","gmailRoot":"https://127.0.0.1:8443"}}""",
                JsonNode.Parse(Encoding.UTF8.GetString(buffer.WrittenSpan))!.ToJsonString());

            // The certificate is the credential's: the Entra entry points refuse a Google config, and a key credential is no signer.
            Assert.Contains("FromServiceAccountCertificate", Assert.Throws<ArgumentException>(() => PmpMailClient.CreateWithCertificate(config, certificate)).Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentException>(() => PmpMailClient.CreateWithCertificateThumbprint(config, certificate.Thumbprint));
            var microsoft = new PmpMailConfig(EmulatorFixture.TenantId, EmulatorFixture.CertificateApp) { Credential = config.Credential };
            Assert.Contains("ForGoogleWorkspace", Assert.Throws<ArgumentException>(() => PmpMailClient.Create(microsoft)).Message, StringComparison.Ordinal);
            using var refused = new SensitiveBufferWriter();
            Assert.Throws<ArgumentException>(() => DocumentWriter.WriteConfig(refused, PmpMailConfig.ForGoogleWorkspace(PmpMailCredential.FromServiceAccountKeyFile("/k.json")), hostAuth: "signer"));
        }
    }

    [Fact]
    public void ArgumentsAreCheckedWhenTheCredentialIsMade()
    {
        (X509Certificate2 certificate, string keyId, _) = NewKeyCertificate();
        using (certificate)
        {
            const string sa = EmulatorFixture.GoogleServiceAccount;
            Assert.Equal("serviceAccountEmail", Assert.Throws<ArgumentException>(() => PmpMailCredential.FromServiceAccountCertificate(" ", certificate, keyId)).ParamName);
            ArgumentException notEmail = Assert.Throws<ArgumentException>(() => PmpMailCredential.FromServiceAccountCertificate("sender", certificate, keyId));
            Assert.Equal("serviceAccountEmail", notEmail.ParamName);
            Assert.Contains("not an email address", notEmail.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentNullException>(() => PmpMailCredential.FromServiceAccountCertificate(sa, null!, keyId));
            Assert.Equal("privateKeyId", Assert.Throws<ArgumentException>(() => PmpMailCredential.FromServiceAccountCertificate(sa, certificate, "")).ParamName);
            Assert.Equal("privateKeyId", Assert.Throws<ArgumentException>(() => PmpMailCredential.FromServiceAccountCertificate(sa, certificate, "key id")).ParamName);
            Assert.Equal("clientId", Assert.Throws<ArgumentException>(() => PmpMailCredential.FromServiceAccountCertificate(sa, certificate, keyId, "")).ParamName);
            Assert.Equal("thumbprint", Assert.Throws<ArgumentException>(() => PmpMailCredential.FromServiceAccountCertificateThumbprint(sa, " :: ", keyId)).ParamName);

            // The public certificate alone cannot sign.
            using X509Certificate2 publicOnly = X509CertificateLoader.LoadCertificate(certificate.RawData);
            ArgumentException noKey = Assert.Throws<ArgumentException>(() => PmpMailCredential.FromServiceAccountCertificate(sa, publicOnly, keyId));
            Assert.Equal("certificate", noKey.ParamName);
            Assert.Contains("no private key", noKey.Message, StringComparison.Ordinal);

            // Google's assertions are RS256: an ECDSA key is refused before any request.
            using ECDsa ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            using X509Certificate2 ecdsa = new CertificateRequest("CN=ec", ec, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            ArgumentException notRsa = Assert.Throws<ArgumentException>(() => PmpMailCredential.FromServiceAccountCertificate(sa, ecdsa, keyId));
            Assert.Contains("ECDSA", notRsa.Message, StringComparison.Ordinal);
            Assert.Contains("RS256", notRsa.Message, StringComparison.Ordinal);
        }
    }
}
