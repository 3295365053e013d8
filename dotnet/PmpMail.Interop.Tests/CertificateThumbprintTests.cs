using System.Security.Cryptography.X509Certificates;
using Xunit;

namespace PmpMail.Interop.Tests;

/// <summary>
/// <see cref="PmpMailClient.CreateWithCertificateThumbprint"/> and <see cref="CertificateLocator"/>: the lookup in
/// CurrentUser\My then LocalMachine\My that C# hosts and the module share. X509Store works on Linux too
/// (CurrentUser\My is a folder under ~/.dotnet; LocalMachine\My does not exist there and is reported as such).
/// </summary>
[Collection(EmulatorCollection.Name)]
public sealed class CertificateThumbprintTests(EmulatorFixture emulator)
{
    [Fact]
    public void ACertificateInCurrentUserMyIsFoundByThumbprintAndSigns()
    {
        using var imported = new StoreEntry(emulator.Certificate, withPrivateKey: true);
        // Today's normalisation: lower case, colons and spaces between bytes are all accepted.
        string pasted = string.Join(":", Enumerable.Range(0, 20).Select(i => emulator.Certificate.Thumbprint.Substring(i * 2, 2))).ToLowerInvariant();

        PmpMailClient client = PmpMailClient.CreateWithCertificateThumbprint(emulator.Config(EmulatorFixture.CertificateApp, null), pasted);
        X509Certificate2 found;
        using (client)
        {
            Assert.Equal("signer", client.CredentialKind);
            Assert.Equal(StoreLocation.CurrentUser, client.SigningCertificateStoreLocation);
            found = client.SigningCertificate!;
            Assert.Equal(emulator.Certificate.Thumbprint, found.Thumbprint);
            Assert.NotSame(emulator.Certificate, found);

            PmpPermissionReport report = client.TestPermissions(forceRefresh: true);
            Assert.True(report.Authenticated, report.Error?.Message);
            Assert.Equal(EmulatorFixture.CertificateApp, report.AppId);

            string subject = "xunit thumbprint " + Guid.NewGuid();
            var message = new PmpMailMessage { From = EmulatorFixture.Mailbox, Subject = subject };
            message.To.Add("ops@contoso.com");
            Assert.Equal("sent", client.SendMail(message).Status);
            Assert.Single(emulator.Messages(), m => (string?)m!["subject"] == subject);
            Assert.True(client.Signer!.SignatureCount >= 1);
        }

        // The client owned the certificate it found and disposed it after the native client.
        Assert.Equal(IntPtr.Zero, found.Handle);
    }

    [Fact]
    public void AnUnknownThumbprintNamesBothStoresSearched()
    {
        string unknown = Convert.ToHexString(Guid.NewGuid().ToByteArray()) + "00C0FFEE";
        var ex = Assert.Throws<PmpMailCertificateNotFoundException>(() =>
            PmpMailClient.CreateWithCertificateThumbprint(emulator.Config(EmulatorFixture.CertificateApp, null), unknown.ToLowerInvariant()));

        Assert.Equal(unknown, ex.Thumbprint);
        Assert.Equal(PmpStatus.Credential, ex.Status);
        Assert.Equal("PMP_STATUS_CREDENTIAL", ex.Detail.StatusName);
        Assert.Equal("credential", ex.Category);
        Assert.Equal(2, ex.SearchedStores.Count);
        Assert.Contains($"No certificate with thumbprint {unknown} and a private key was found.", ex.Message);
        Assert.Contains(@"CurrentUser\My (not found)", ex.Message);
        Assert.Contains(@"LocalMachine\My", ex.Message);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Contains(@"LocalMachine\My (cannot be opened here:", ex.Message);
        }

        Assert.False(string.IsNullOrWhiteSpace(ex.Remedy));
        Assert.IsAssignableFrom<PmpMailException>(ex);
    }

    [Fact]
    public void ACertificateWithoutItsPrivateKeyInTheStoreIsNotUsedAndSaysSo()
    {
        using X509Certificate2 publicOnly = X509CertificateLoader.LoadCertificate(emulator.Certificate.RawData);
        using var imported = new StoreEntry(publicOnly, withPrivateKey: false);
        var ex = Assert.Throws<PmpMailCertificateNotFoundException>(() => CertificateLocator.FindByThumbprint(emulator.Certificate.Thumbprint));
        Assert.Contains(@"CurrentUser\My (found, but without a private key)", ex.Message);
    }

    [Theory]
    [InlineData("0a1b2c3d4e5f", "0A1B2C3D4E5F")]
    [InlineData("0A 1B 2C 3D 4E 5F", "0A1B2C3D4E5F")]
    [InlineData("0a:1b:2c:3d:4e:5f", "0A1B2C3D4E5F")]
    [InlineData("\u200E0a1b 2c3d\t4e5f\r\n", "0A1B2C3D4E5F")] // the left-to-right mark the Windows certificate dialog copies
    [InlineData("thumb: 0a1b", "B0A1B")] // every non-hex character is dropped, letters included: garbage is not rejected, it just finds nothing
    public void ThumbprintsAreNormalizedToTheirHexDigits(string given, string expected) =>
        Assert.Equal(expected, CertificateLocator.NormalizeThumbprint(given));

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("::")]
    [InlineData("zzz-yyy")]
    public void AThumbprintWithoutHexDigitsIsRejectedBeforeAnyStoreIsOpened(string given)
    {
        var ex = Assert.Throws<ArgumentException>(() => PmpMailClient.CreateWithCertificateThumbprint(emulator.Config(EmulatorFixture.CertificateApp, null), given));
        Assert.Equal("thumbprint", ex.ParamName);
        Assert.Contains("no hexadecimal digits", ex.Message);
        Assert.Throws<ArgumentNullException>(() => PmpMailClient.CreateWithCertificateThumbprint(emulator.Config(EmulatorFixture.CertificateApp, null), null!));
    }

    /// <summary>Puts a certificate into CurrentUser\My for the test's duration, as an import by an admin would.</summary>
    internal sealed class StoreEntry : IDisposable
    {
        private readonly X509Store _store = new(StoreName.My, StoreLocation.CurrentUser);
        private readonly X509Certificate2 _entry;

        public StoreEntry(X509Certificate2 certificate, bool withPrivateKey)
        {
            _store.Open(OpenFlags.ReadWrite);
            // Persist the key with the certificate, as an import into the store would.
            _entry = withPrivateKey
                ? X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx, "tmp"), "tmp", X509KeyStorageFlags.PersistKeySet | X509KeyStorageFlags.Exportable)
                : X509CertificateLoader.LoadCertificate(certificate.RawData);
            _store.Add(_entry);
        }

        public void Dispose()
        {
            _store.Remove(_entry);
            _store.Dispose();
            _entry.Dispose();
        }
    }
}
