using System;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Threading;

namespace PmpMail.Interop.Native;

/// <summary>
/// Signs client assertions with a certificate's private key for the native library. The key is used
/// through <c>RSA.TrySignData</c> (<c>RSA.SignData</c> on netstandard2.0) and never exported, so
/// non-exportable store and CNG keys work. The entry point handed to the library is per target:
/// <c>CertificateSigner.Net.cs</c> (UnmanagedCallersOnly) and <c>CertificateSigner.NetStandard.cs</c> (a delegate).
/// </summary>
/// <remarks>Failures reach the caller's exception as <see cref="HostCallback"/> describes.</remarks>
internal sealed partial class CertificateSigner : HostCallback
{
    internal const uint AlgorithmRs256 = 1;
    internal const uint AlgorithmPs256 = 2;
    private const uint Ok = 0;

    private readonly X509Certificate2 _certificate;
    private readonly bool _ownsCertificate;
    private int _signingCount;
    private int _signatureCount;

    /// <param name="certificate">The certificate whose private key signs.</param>
    /// <param name="ownsCertificate">True when the signer disposes <paramref name="certificate"/> (it was found by thumbprint).</param>
    public CertificateSigner(X509Certificate2 certificate, bool ownsCertificate)
    {
        _certificate = certificate;
        _ownsCertificate = ownsCertificate;
    }

    /// <summary>The signing certificate.</summary>
    public X509Certificate2 Certificate => _certificate;

    /// <summary>Number of signatures made (diagnostics and tests).</summary>
    public int SignatureCount => Volatile.Read(ref _signatureCount);

    /// <summary>
    /// Test seam: runs at the start of every signing with its 1-based number, on the library's thread; an
    /// exception it throws becomes that signing's failure.
    /// </summary>
    internal Action<int>? BeforeSigning { get; set; }

    /// <summary>Disposes the certificate when the signer owns it. The native client must be freed first.</summary>
    public override void Dispose()
    {
        if (_ownsCertificate)
        {
            _certificate.Dispose();
        }
    }

    /// <summary>The body of the callback on both targets. Catches everything: nothing may unwind into native code.</summary>
    private static unsafe uint SignCore(void* userdata, PmpSignParams* parameters, byte* signatureOut, nuint signatureCapacity, nuint* signatureLengthOut)
    {
        // Runs on a library thread: nothing here touches PowerShell.
        CertificateSigner? signer = null;
        try
        {
            signer = userdata == null ? null : GCHandle.FromIntPtr((IntPtr)userdata).Target as CertificateSigner;
            if (signer is null)
            {
                return NoState;
            }

            if (parameters == null || signatureOut == null || signatureLengthOut == null)
            {
                throw new InvalidOperationException("The native library called the signer with a NULL argument.");
            }

            var data = new ReadOnlySpan<byte>(parameters->Data, checked((int)parameters->DataLength));
            var destination = new Span<byte>(signatureOut, signatureCapacity > int.MaxValue ? int.MaxValue : (int)signatureCapacity);
            *signatureLengthOut = (nuint)signer.SignInto(parameters->Algorithm, data, destination);
            return Ok;
        }
        catch (Exception ex)
        {
            try
            {
                return signer?.FileFailure(ex) ?? NoState;
            }
            catch
            {
                return NoState;
            }
        }
    }

    private int SignInto(uint algorithm, ReadOnlySpan<byte> data, Span<byte> destination)
    {
        BeforeSigning?.Invoke(Interlocked.Increment(ref _signingCount));
        RSASignaturePadding padding = algorithm switch
        {
            AlgorithmRs256 => RSASignaturePadding.Pkcs1,
            // .NET's PSS uses MGF1 with the same hash and salt length = hash length (32): what PS256 requires.
            AlgorithmPs256 => RSASignaturePadding.Pss,
            _ => throw new NotSupportedException($"The native library asked for signing algorithm {algorithm}, which this host does not know."),
        };

        // A fresh key object per call: RSA instances are not documented as thread-safe, and calls may be concurrent.
        using RSA rsa = _certificate.GetRSAPrivateKey()
            ?? throw new CryptographicException($"Certificate {_certificate.Thumbprint} has no RSA private key this process can use.");
        if (!TrySign(rsa, data, destination, padding, out int written))
        {
            throw new InvalidOperationException($"The signature ({rsa.KeySize / 8} bytes) does not fit the native buffer ({destination.Length} bytes).");
        }

        Interlocked.Increment(ref _signatureCount);
        return written;
    }
}
