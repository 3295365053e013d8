using System.Collections.Concurrent;
using PmpMail.Interop.Native;
using Xunit;

namespace PmpMail.Interop.Tests;

/// <summary>
/// The host signer's failures belong to the call whose signing failed. The library signs on its own threads and,
/// for one client, one signing at a time; calls that need a token meanwhile queue behind it and then sign
/// themselves. Faults are injected through <see cref="CertificateSigner.BeforeSigning"/>.
/// </summary>
[Collection(EmulatorCollection.Name)]
public sealed class SignerTests(EmulatorFixture emulator)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task WhenOneOfTwoConcurrentSigningsFailsEachCallerSeesItsOwnResult()
    {
        using PmpMailClient client = PmpMailClient.CreateWithCertificate(emulator.Config(EmulatorFixture.CertificateApp, null), emulator.Certificate);
        var firstSigning = new ManualResetEventSlim();
        var releaseFirst = new ManualResetEventSlim();
        var keyFailure = new InjectedSigningFailure(1);
        client.Signer!.BeforeSigning = number =>
        {
            if (number == 1)
            {
                // Hold A's signing until B's call is under way too, then fail it.
                firstSigning.Set();
                releaseFirst.Wait(Patience);
                throw keyFailure;
            }
        };

        Task<PmpPermissionReport> a = Task.Factory.StartNew(() => client.TestPermissions(forceRefresh: true), TaskCreationOptions.LongRunning);
        Assert.True(firstSigning.Wait(Patience), "A's signing never started.");
        Task<PmpPermissionReport> b = Task.Factory.StartNew(() => client.TestPermissions(forceRefresh: true), TaskCreationOptions.LongRunning);
        await Task.Delay(200); // lets B reach the native call and queue for the token; the assertions hold either way
        releaseFirst.Set();

        var failure = await Assert.ThrowsAsync<PmpMailSignerException>(() => a);
        Assert.Same(keyFailure, failure.InnerException);
        Assert.Equal(PmpStatus.Signer, failure.Status);
        Assert.Contains("(returned ", failure.Detail.Message);
        Assert.True((await b.WaitAsync(Patience)).Authenticated, "B, whose signing succeeded, must not fail.");
        Assert.Equal(1, client.Signer.SignatureCount);
    }

    [Fact]
    public void ManyConcurrentCallsNeverShareOrSwapASigningFailure()
    {
        using PmpMailClient client = PmpMailClient.CreateWithCertificate(emulator.Config(EmulatorFixture.CertificateApp, null), emulator.Certificate);
        var injected = new ConcurrentBag<InjectedSigningFailure>();
        client.Signer!.BeforeSigning = number =>
        {
            if (number % 2 == 1)
            {
                var failure = new InjectedSigningFailure(number);
                injected.Add(failure);
                throw failure;
            }
        };

        const int Calls = 16;
        var start = new Barrier(Calls);
        var seen = new ConcurrentBag<Exception?>();
        var threads = Enumerable.Range(0, Calls).Select(_ => new Thread(() =>
        {
            start.SignalAndWait();
            try
            {
                Assert.True(client.TestPermissions(forceRefresh: true).Authenticated);
                seen.Add(null);
            }
            catch (Exception ex)
            {
                seen.Add(ex);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => Assert.True(t.Join(Patience)));

        // Every failed call failed in the signer and carries an injected failure; each injected failure reached
        // exactly one call (a failed token fetch is not shared, and nothing is attributed twice or swapped in).
        List<Exception> failures = seen.Where(e => e is not null).Select(e => e!).ToList();
        Assert.All(failures, e => Assert.IsType<InjectedSigningFailure>(Assert.IsType<PmpMailSignerException>(e).InnerException));
        List<Exception> inner = failures.Select(e => e.InnerException!).ToList();
        Assert.Equal(inner.Count, inner.Distinct().Count());
        Assert.Equal(injected.OrderBy(f => f.Number), inner.Cast<InjectedSigningFailure>().OrderBy(f => f.Number));
        Assert.NotEmpty(failures);
        Assert.Contains(null, seen);
    }

    [Fact]
    public void ASignerFailureWithoutANumberFromThisSignerGetsNoInnerException()
    {
        using PmpMailClient client = PmpMailClient.CreateWithCertificate(emulator.Config(EmulatorFixture.CertificateApp, null), emulator.Certificate);
        client.Signer!.BeforeSigning = number => throw new InjectedSigningFailure(number);
        var first = Assert.Throws<PmpMailSignerException>(() => client.TestPermissions(forceRefresh: true));
        Assert.IsType<InjectedSigningFailure>(first.InnerException);

        // Signer errors the callback did not file (e.g. the library's own checks), or numbers it never handed
        // out, find nothing: an unrelated earlier failure is never attached.
        Assert.Null(client.Signer.FailureFor(new PmpErrorDetail { Message = "the host signer reported an invalid signature length (0)" }));
        Assert.Null(client.Signer.FailureFor(new PmpErrorDetail { Message = "the host signer callback failed (returned 999)" }));
        Assert.Null(client.Signer.FailureFor(null));
        Assert.Same(first.InnerException, client.Signer.FailureFor(first.Detail));
    }

    private sealed class InjectedSigningFailure(int number) : Exception($"injected failure of signing #{number}")
    {
        public int Number { get; } = number;
    }
}
