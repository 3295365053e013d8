using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace PmpGraphEmulator.TestSupport;

/// <summary>
/// Builds HTTP handlers that trust exactly one CA (the emulator's) by real chain validation:
/// the server certificate must chain to that root, be valid now and match the host name.
/// Nothing here accepts an arbitrary certificate. Used by the fidelity tests, the interop tests and
/// the bench alike.
/// </summary>
public static class EmulatorTrust
{
    public static HttpClientHandler CreateHandler(X509Certificate2 trustedRoot)
    {
        ArgumentNullException.ThrowIfNull(trustedRoot);
        return new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, errors) =>
                Validate(trustedRoot, certificate, errors),
            // The emulator's endpoints are used as-is; no proxy on loopback.
            UseProxy = false,
        };
    }

    /// <summary>Chain validation against a custom root; the host name check stays the platform's.</summary>
    public static bool Validate(X509Certificate2 trustedRoot, X509Certificate2? certificate, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return false;
        }

        // A name mismatch or a missing certificate is never acceptable; only the chain verdict
        // (made against the system store, which does not hold the emulator CA) is redone here.
        if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(trustedRoot);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.NoFlag;
        if (!chain.Build(certificate))
        {
            return false;
        }

        var root = chain.ChainElements[^1].Certificate;
        return root.RawData.AsSpan().SequenceEqual(trustedRoot.RawData);
    }
}
