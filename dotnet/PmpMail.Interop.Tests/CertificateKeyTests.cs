using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Xunit;

namespace PmpMail.Interop.Tests;

/// <summary>
/// Entra ID client assertions are signed with RSA (PS256 or RS256) only. A certificate with any other key is
/// refused when the client is created, with the real cause, not later as "the host signer callback failed".
/// </summary>
[Collection(EmulatorCollection.Name)]
public sealed class CertificateKeyTests(EmulatorFixture emulator)
{
    private const string RsaRemedy = "Entra ID client assertions need an RSA key; create an RSA certificate (2048-bit or more).";

    [Fact]
    public void AnEcdsaCertificateIsRefusedWhenTheClientIsCreated()
    {
        using X509Certificate2 ecdsa = NewEcdsaCertificate();
        var before = emulator.Counters();

        var ex = Assert.Throws<PmpMailCredentialException>(() =>
            PmpMailClient.CreateWithCertificate(emulator.Config(EmulatorFixture.CertificateApp, null), ecdsa));

        Assert.Equal(PmpStatus.Credential, ex.Status);
        Assert.Equal("PMP_STATUS_CREDENTIAL", ex.Detail.StatusName);
        Assert.Equal("credential", ex.Category);
        Assert.Equal(RsaRemedy, ex.Remedy);
        Assert.Contains(ecdsa.Thumbprint, ex.Message);
        Assert.Contains("ECDSA", ex.Message);
        Assert.DoesNotContain("signer callback", ex.Message);
        // Refused before any request: no token was asked for.
        Assert.Equal((int)before["tokenRequests"]!, (int)emulator.Counters()["tokenRequests"]!);
    }

    [Fact]
    public void AnEcdsaCertificateFoundByThumbprintIsRefusedAndDisposed()
    {
        using X509Certificate2 ecdsa = NewEcdsaCertificate();
        using var store = new X509Store(StoreName.My, StoreLocation.CurrentUser);
        store.Open(OpenFlags.ReadWrite);
        using X509Certificate2 entry = X509CertificateLoader.LoadPkcs12(ecdsa.Export(X509ContentType.Pfx, "tmp"), "tmp", X509KeyStorageFlags.PersistKeySet | X509KeyStorageFlags.Exportable);
        store.Add(entry);
        try
        {
            var ex = Assert.Throws<PmpMailCredentialException>(() =>
                PmpMailClient.CreateWithCertificateThumbprint(emulator.Config(EmulatorFixture.CertificateApp, null), ecdsa.Thumbprint));
            Assert.Equal(RsaRemedy, ex.Remedy);
            Assert.Contains("ECDSA", ex.Message);
        }
        finally
        {
            store.Remove(entry);
        }
    }

    private static X509Certificate2 NewEcdsaCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=pmp-mail ecdsa test", key, HashAlgorithmName.SHA256);
        DateTimeOffset now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));
    }
}
