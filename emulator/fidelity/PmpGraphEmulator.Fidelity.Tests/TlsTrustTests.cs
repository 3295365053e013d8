using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Xunit;

namespace PmpGraphEmulator.Fidelity.Tests;

/// <summary>The trust the other tests rely on is real: only the emulator's CA makes a connection.</summary>
[Collection(EmulatorCollection.Name)]
public sealed class TlsTrustTests(EmulatorFixture emu)
{
    private async Task<Exception?> ConnectAsync(HttpMessageHandler handler)
    {
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(15) };
        try
        {
            using var resp = await http.GetAsync($"{emu.ControlUrl}/counters");
            resp.EnsureSuccessStatusCode();
            return null;
        }
        catch (HttpRequestException e)
        {
            return e;
        }
    }

    [Fact]
    public async Task EmulatorCa_IsTrusted()
    {
        Assert.Null(await ConnectAsync(EmulatorTrust.CreateHandler(emu.Ca)));
    }

    [Fact]
    public async Task SystemTrustAlone_Rejects()
    {
        var e = await ConnectAsync(new HttpClientHandler());
        Assert.NotNull(e);
        Assert.IsType<AuthenticationException>(e.InnerException);
    }

    [Fact]
    public async Task OtherCa_Rejects()
    {
        using var rsa = RSA.Create(2048);
        var req = new CertificateRequest("CN=not the emulator CA", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var otherCa = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));

        var e = await ConnectAsync(EmulatorTrust.CreateHandler(otherCa));
        Assert.NotNull(e);
        Assert.IsType<AuthenticationException>(e.InnerException);
    }

    [Fact]
    public async Task ServerCertificate_NamesLoopback()
    {
        X509Certificate2? seen = null;
        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, cert, _, errors) =>
            {
                seen = cert is null ? null : X509CertificateLoader.LoadCertificate(cert.RawData);
                return EmulatorTrust.Validate(emu.Ca, cert, errors);
            },
        };
        using var http = new HttpClient(handler);
        using var resp = await http.GetAsync($"{emu.ControlUrl}/counters");
        resp.EnsureSuccessStatusCode();

        Assert.NotNull(seen);
        var san = seen.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        var ips = san.EnumerateIPAddresses().Select(ip => ip.ToString()).ToList();
        Assert.Contains("127.0.0.1", ips);
        Assert.Contains("::1", ips);
        Assert.Contains("localhost", san.EnumerateDnsNames());
        seen.Dispose();
    }
}
