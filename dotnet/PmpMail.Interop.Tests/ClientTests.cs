using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using PmpMail.Interop.Native;
using Xunit;

namespace PmpMail.Interop.Tests;

[Collection(EmulatorCollection.Name)]
public sealed class ClientTests(EmulatorFixture emulator)
{
    [Fact]
    public void SendingLimitsReachTheNativeLibrary()
    {
        PmpMailConfig config = emulator.SecretConfig();
        config.Sending = new PmpMailSendingOptions { MaxConcurrentPerMailbox = 17 };
        PmpMailException e = Assert.ThrowsAny<PmpMailException>(() => PmpMailClient.Create(config));
        Assert.Contains("sending.maxConcurrentPerMailbox must be 1 to 16", e.Message);

        config.Sending = new PmpMailSendingOptions { MaxConcurrentPerMailbox = 2, MaxConcurrent = 8 };
        using PmpMailClient client = PmpMailClient.Create(config);
        Assert.True(client.TestPermissions().Authenticated);
    }

    [Fact]
    public void NativeVersionIsSemver() =>
        Assert.Matches(@"^\d+\.\d+\.\d+", PmpMailClient.NativeVersion);

    [Fact]
    public void StatusNamesComeFromTheLibrary() =>
        Assert.Equal("PMP_STATUS_THROTTLED", PmpMailClient.StatusName(PmpStatus.Throttled));

    // An exception made without an error document names its status as the C header does, not as the
    // C# enum does (PMP_STATUS_AUTHENTICATION_FAILED, not PMP_STATUS_AUTHENTICATIONFAILED).
    [Fact]
    public void ExceptionsWithoutADocumentUseTheNativeStatusNames()
    {
        var ex = new PmpMailAuthenticationException(PmpStatus.AuthenticationFailed, null);
        Assert.Equal("PMP_STATUS_AUTHENTICATION_FAILED", ex.Detail.StatusName);
        Assert.Equal((uint)PmpStatus.AuthenticationFailed, ex.Detail.Status);

        foreach (PmpStatus status in Enum.GetValues<PmpStatus>())
        {
            Assert.Equal(PmpMailClient.StatusName(status), PmpMailException.Create(status, null).Detail.StatusName);
        }

        Assert.Equal("PMP_STATUS_OUTCOME_UNKNOWN", PmpMailException.Create(PmpStatus.OutcomeUnknown, null).Detail.StatusName);
        Assert.Equal("PMP_STATUS_UNKNOWN", new PmpMailException((PmpStatus)999, null).Detail.StatusName);
    }

    // PmpStatus mirrors the C enum by hand: every number must carry the same name on both sides,
    // and the library must know no status beyond the last one mirrored here.
    [Fact]
    public void StatusEnumMirrorsTheNativeEnum()
    {
        PmpStatus[] statuses = Enum.GetValues<PmpStatus>();
        foreach (PmpStatus status in statuses)
        {
            string snake = System.Text.RegularExpressions.Regex.Replace(status.ToString(), "(?<=[a-z])(?=[A-Z])", "_");
            Assert.Equal("PMP_STATUS_" + snake.ToUpperInvariant(), PmpMailClient.StatusName(status));
        }

        PmpStatus next = (PmpStatus)((uint)statuses.Max() + 1);
        Assert.Equal("PMP_STATUS_UNKNOWN", PmpMailClient.StatusName(next));
    }

    [Fact]
    public void ClientSecretAuthenticatesAndSends()
    {
        using PmpMailClient client = PmpMailClient.Create(emulator.SecretConfig());
        PmpPermissionReport report = client.TestPermissions();
        Assert.True(report.Authenticated);
        Assert.Equal(EmulatorFixture.SecretApp, report.AppId);
        Assert.Contains(report.Permissions, p => p.Name == "Mail.Send" && p.Status == "Granted" && p.Required);

        string subject = "xunit secret " + Guid.NewGuid();
        var message = new PmpMailMessage { From = EmulatorFixture.Mailbox, Subject = subject, Body = "Grüße ✓", BodyAsHtml = false };
        message.To.Add("Ann Ärger <ann@contoso.com>");
        message.Attachments.Add(PmpMailAttachment.FromBytes("data.bin", new byte[] { 0, 1, 2, 255 }));
        message.Headers.Add(new("x-test", "1"));
        PmpSendResult result = client.SendMail(message);
        Assert.Equal("sent", result.Status);
        Assert.False(string.IsNullOrEmpty(result.RequestId));

        JsonNode recorded = emulator.Messages().Single(m => (string?)m!["subject"] == subject)!;
        Assert.Equal("Grüße ✓", (string?)recorded["body"]);
        Assert.Equal("Ann Ärger", (string?)recorded["to"]![0]!["name"]);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(new byte[] { 0, 1, 2, 255 })).ToLowerInvariant(), (string?)recorded["attachments"]![0]!["sha256"]);
    }

    [Fact]
    public void CertificateSignsThroughTheHostCallback()
    {
        PmpMailConfig config = emulator.Config(EmulatorFixture.CertificateApp, null);
        using PmpMailClient client = PmpMailClient.CreateWithCertificate(config, emulator.Certificate);
        PmpPermissionReport report = client.TestPermissions(forceRefresh: true);
        Assert.True(report.Authenticated, report.Error?.Message);
        Assert.Equal(EmulatorFixture.CertificateApp, report.AppId);
        Assert.True(client.Signer!.SignatureCount >= 1);
        Assert.Same(emulator.Certificate, client.SigningCertificate);
        Assert.Null(client.SigningCertificateStoreLocation);

        foreach (PmpAssertionAlgorithm algorithm in new[] { PmpAssertionAlgorithm.RS256, PmpAssertionAlgorithm.PS256 })
        {
            PmpMailConfig withAlgorithm = emulator.Config(EmulatorFixture.CertificateApp, null);
            withAlgorithm.AssertionAlgorithm = algorithm;
            using PmpMailClient c = PmpMailClient.CreateWithCertificate(withAlgorithm, emulator.Certificate);
            Assert.True(c.TestPermissions().Authenticated, algorithm.ToString());
        }
    }

    [Fact]
    public void CertificateWithoutPrivateKeyIsRejectedBeforeTheNativeCall()
    {
        using var publicOnly = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(emulator.Certificate.RawData);
        var ex = Assert.Throws<PmpMailCredentialException>(() => PmpMailClient.CreateWithCertificate(emulator.Config(EmulatorFixture.CertificateApp, null), publicOnly));
        Assert.Contains("private key", ex.Message);
    }

    [Fact]
    public void WrongSecretIsReportedInTheReportAndAsTypedExceptionOnSend()
    {
        using PmpMailClient client = PmpMailClient.Create(emulator.SecretConfig("wrong"));
        PmpPermissionReport report = client.TestPermissions();
        Assert.False(report.Authenticated);
        Assert.Equal(7000215, report.Error!.Aadsts);

        var message = new PmpMailMessage { From = EmulatorFixture.Mailbox, Subject = "never" };
        message.To.Add("ops@contoso.com");
        var ex = Assert.Throws<PmpMailAuthenticationException>(() => client.SendMail(message));
        Assert.Equal(PmpStatus.AuthenticationFailed, ex.Status);
        Assert.Equal(7000215, ex.Aadsts);
        Assert.Equal("authentication", ex.Category);
        Assert.False(string.IsNullOrWhiteSpace(ex.Remedy));
        Assert.Contains("Remedy:", ex.Message);
    }

    [Fact]
    public void GraphErrorDocumentBecomesTypedException()
    {
        using PmpMailClient client = PmpMailClient.Create(emulator.SecretConfig());
        var message = new PmpMailMessage { From = EmulatorFixture.MissingMailbox, Subject = "to nobody" };
        message.To.Add("ops@contoso.com");
        var ex = Assert.Throws<PmpMailGraphException>(() => client.SendMail(message));
        Assert.Equal("ErrorInvalidUser", ex.Detail.GraphCode);
        Assert.Equal(404, ex.Detail.HttpStatus);
        Assert.Equal("failed", ex.Detail.Outcome);
        Assert.False(string.IsNullOrEmpty(ex.Detail.RequestId));
    }

    [Fact]
    public void InvalidDocumentsBecomeInvalidArgumentExceptions()
    {
        using PmpMailClient client = PmpMailClient.Create(emulator.SecretConfig());
        var message = new PmpMailMessage { From = EmulatorFixture.Mailbox, Subject = "bad header" };
        message.To.Add("ops@contoso.com");
        message.Headers.Add(new("Not-X", "1"));
        var ex = Assert.Throws<PmpMailInvalidArgumentException>(() => client.SendMail(message));
        Assert.Equal(PmpStatus.InvalidArgument, ex.Status);

        var badConfig = new PmpMailConfig(EmulatorFixture.TenantId, "not a guid") { Credential = PmpMailCredential.FromClientSecret("x") };
        Assert.ThrowsAny<PmpMailInvalidArgumentException>(() => PmpMailClient.Create(badConfig));
    }

    [Fact]
    public void DisposeIsIdempotentAndUseAfterDisposeThrows()
    {
        PmpMailClient client = PmpMailClient.Create(emulator.SecretConfig());
        client.Dispose();
        client.Dispose();
        Assert.True(client.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => client.TestPermissions());
    }

    [Fact]
    public void FinalizerFreesUndisposedClientsAndTheirSignerState()
    {
        WeakReference signer = CreateAndDropCertificateClient();
        for (int i = 0; i < 20; i++)
        {
            CreateAndDropSecretClient();
        }

        // The GCHandle kept the signer alive; ReleaseHandle (run by the handle's finalizer) frees it after
        // pmp_client_free, and only a later collection can reclaim the signer. When finalizers run is the
        // GC's business: give it many full rounds before calling it a leak.
        for (int round = 0; round < 50 && signer.IsAlive; round++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            if (signer.IsAlive)
            {
                Thread.Sleep(20);
            }
        }

        Assert.False(signer.IsAlive, "The signer of an undisposed client was still alive after 50 rounds of GC.Collect + WaitForPendingFinalizers: its GCHandle was never freed.");
    }

    // The margin makes the config's cache key one no other test of this emulator uses: the first
    // client's token request is this test's own.
    [Fact]
    public void TwoClientsWithTheSameConfigShareOneToken()
    {
        PmpMailConfig config = emulator.SecretConfig();
        config.TokenRefreshMarginSeconds = 271;
        int before = (int)emulator.Counters()["tokenRequests"]!;
        using (PmpMailClient first = PmpMailClient.Create(config))
        {
            Assert.Equal("endpoint", first.TestPermissions().TokenSource);
        }

        // The first client is disposed: its token stays in the process for the next one.
        using PmpMailClient second = PmpMailClient.Create(config);
        using PmpMailClient third = PmpMailClient.Create(config);
        Assert.Equal("cache", second.TestPermissions().TokenSource);
        var message = new PmpMailMessage { From = EmulatorFixture.Mailbox, Subject = "xunit shared token " + Guid.NewGuid() };
        message.To.Add("ops@contoso.com");
        third.SendMail(message);
        Assert.Equal(before + 1, (int)emulator.Counters()["tokenRequests"]!);
    }

    [Fact]
    public void TokenCacheClientKeepsATokenPerClient()
    {
        PmpMailConfig config = emulator.SecretConfig();
        config.TokenRefreshMarginSeconds = 272;
        config.TokenCache = PmpTokenCache.Client;
        int before = (int)emulator.Counters()["tokenRequests"]!;
        using PmpMailClient first = PmpMailClient.Create(config);
        using PmpMailClient second = PmpMailClient.Create(config);
        Assert.Equal("endpoint", first.TestPermissions().TokenSource);
        Assert.Equal("endpoint", second.TestPermissions().TokenSource);
        Assert.Equal("cache", first.TestPermissions().TokenSource);
        Assert.Equal(before + 2, (int)emulator.Counters()["tokenRequests"]!);
    }

    [Fact]
    public void ConcurrentSendsThroughOneClientShareOneToken()
    {
        using PmpMailClient client = PmpMailClient.Create(emulator.SecretConfig());
        client.TestPermissions(); // warm the cache so the count below is exact
        int tokensBefore = (int)emulator.Counters()["tokenRequests"]!;
        string run = Guid.NewGuid().ToString("N");
        const int Threads = 8, PerThread = 5;
        var failures = new System.Collections.Concurrent.ConcurrentBag<Exception>();
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                try
                {
                    var message = new PmpMailMessage { From = EmulatorFixture.Mailbox, Subject = $"{run} {t}-{i}" };
                    message.To.Add("ops@contoso.com");
                    client.SendMail(message);
                }
                catch (Exception ex)
                {
                    failures.Add(ex);
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Empty(failures);
        var subjects = emulator.Messages().Select(m => (string?)m!["subject"]).Where(s => s is not null && s.StartsWith(run, StringComparison.Ordinal)).ToList();
        Assert.Equal(Threads * PerThread, subjects.Count);
        Assert.Equal(Threads * PerThread, subjects.Distinct().Count());
        Assert.Equal(tokensBefore, (int)emulator.Counters()["tokenRequests"]!);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private WeakReference CreateAndDropCertificateClient()
    {
        PmpMailClient client = PmpMailClient.CreateWithCertificate(emulator.Config(EmulatorFixture.CertificateApp, null), emulator.Certificate);
        Assert.True(client.TestPermissions().Authenticated);
        return new WeakReference(client.Signer);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CreateAndDropSecretClient() => _ = PmpMailClient.Create(emulator.SecretConfig());
}

public sealed class NativeLibraryResolverTests
{
    [Fact]
    public void MissingLibraryListsEveryPathSearched()
    {
        string missingDir = Path.Combine(Path.GetTempPath(), "pmp-no-such-dir-" + Guid.NewGuid().ToString("N"));
        var ex = Assert.Throws<DllNotFoundException>(() => NativeLibraryResolver.Load(missingDir, overridePath: null, assembly: null, searchPath: null));
        Assert.Contains(Path.Combine(missingDir, "runtimes", NativeLibraryResolver.RuntimeIdentifier, "native", NativeLibraryResolver.PlatformFileName) + " (not found)", ex.Message);
        Assert.Contains(Path.Combine(missingDir, NativeLibraryResolver.PlatformFileName) + " (not found)", ex.Message);
        Assert.Contains(NativeLibraryResolver.PathOverrideVariable, ex.Message);
    }

    [Fact]
    public void APinnedPathIsTheOnlyCandidate()
    {
        string missingDir = Path.Combine(Path.GetTempPath(), "pmp-no-such-dir-" + Guid.NewGuid().ToString("N"));
        string overridePath = Path.Combine(missingDir, "override", NativeLibraryResolver.PlatformFileName);
        var ex = Assert.Throws<DllNotFoundException>(() => NativeLibraryResolver.Load(missingDir, overridePath, assembly: null, searchPath: null));
        Assert.Contains(overridePath + " (not found)", ex.Message);
        Assert.DoesNotContain("runtimes", ex.Message.Replace(overridePath, string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("nothing else was tried", ex.Message);
    }

    [Fact]
    public void PlatformNamesFollowTheConvention()
    {
        Assert.Equal(OperatingSystem.IsWindows() ? "pmp_mail.dll" : OperatingSystem.IsMacOS() ? "libpmp_mail.dylib" : "libpmp_mail.so", NativeLibraryResolver.PlatformFileName);
        Assert.Matches("^(win|linux|osx)-(x64|x86|arm64|arm)", NativeLibraryResolver.RuntimeIdentifier);
    }

    [Fact]
    public void TheAssemblyFolderLayoutIsSearched()
    {
        IReadOnlyList<string> paths = NativeLibraryResolver.CandidatePaths("/opt/app");
        Assert.Contains(Path.Combine("/opt/app", "runtimes", NativeLibraryResolver.RuntimeIdentifier, "native", NativeLibraryResolver.PlatformFileName), paths);
    }
}
