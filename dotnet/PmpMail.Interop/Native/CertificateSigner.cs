using System;
using System.Collections.Generic;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using System.Threading;

namespace PmpMail.Interop.Native;

/// <summary>
/// Signs client assertions with a certificate's private key for the native library. The key is used
/// through <c>RSA.TrySignData</c> (<c>RSA.SignData</c> on netstandard2.0) and never exported, so
/// non-exportable store and CNG keys work. The entry point handed to the library is per target:
/// <c>CertificateSigner.Net.cs</c> (UnmanagedCallersOnly) and <c>CertificateSigner.NetStandard.cs</c> (a delegate).
/// </summary>
/// <remarks>
/// Failures are kept per signing, not per signer. The library calls the signer on its own threads (never the
/// thread of the <see cref="PmpMailClient"/> call that needs the token), so neither a shared "last failure"
/// nor a thread-local can say which call a failure belongs to. Instead the callback files each failure under
/// a fresh number and returns that number as its result; the library reports it in that call's
/// <c>PMP_STATUS_SIGNER</c> error ("the host signer callback failed (returned N)"), and
/// <see cref="FailureFor"/> finds exactly that exception again.
/// </remarks>
internal sealed partial class CertificateSigner : IDisposable
{
    internal const uint AlgorithmRs256 = 1;
    internal const uint AlgorithmPs256 = 2;
    private const uint Ok = 0;

    /// <summary>Failure result when there is no signer to file the exception with; never a failure number.</summary>
    private const uint NoSignerState = uint.MaxValue;

    /// <summary>Failure numbers run 1..this, then start again at 1.</summary>
    private const uint MaxFailureNumber = int.MaxValue;

    /// <summary>
    /// How many recent failures are kept. A failure no call ever reports (a refresh the library absorbs by
    /// serving the still-valid cached token) is dropped once this many newer ones were filed.
    /// </summary>
    private const int KeptFailures = 64;

    /// <summary>How <c>src/ffi/signer.rs</c> words a failed callback in the error document.</summary>
    private static readonly Regex FailureNumberPattern = new(@"\(returned (\d+)\)", RegexOptions.CultureInvariant);

    private readonly X509Certificate2 _certificate;
    private readonly bool _ownsCertificate;
    private readonly object _failuresGate = new();
    private readonly Dictionary<uint, Exception> _failures = new();
    private readonly Queue<uint> _failureOrder = new();
    private uint _lastFailureNumber;
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

    /// <summary>
    /// The exception behind a <c>PMP_STATUS_SIGNER</c> error, found by the failure number its message carries;
    /// null when the error did not come from this signer's callback (or the failure is no longer kept).
    /// </summary>
    public Exception? FailureFor(PmpErrorDetail? detail)
    {
        Match match = FailureNumberPattern.Match(detail?.Message ?? string.Empty);
        if (!match.Success || !uint.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out uint number))
        {
            return null;
        }

        lock (_failuresGate)
        {
            return _failures.TryGetValue(number, out Exception? failure) ? failure : null;
        }
    }

    /// <summary>Disposes the certificate when the signer owns it. The native client must be freed first.</summary>
    public void Dispose()
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
                return NoSignerState;
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
                return signer?.FileFailure(ex) ?? NoSignerState;
            }
            catch
            {
                return NoSignerState;
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

    /// <summary>Keeps <paramref name="failure"/> under a new number, which the callback returns to the library.</summary>
    private uint FileFailure(Exception failure)
    {
        lock (_failuresGate)
        {
            _lastFailureNumber = _lastFailureNumber >= MaxFailureNumber ? 1 : _lastFailureNumber + 1;
            uint number = _lastFailureNumber;
            _failures[number] = failure;
            _failureOrder.Enqueue(number);
            while (_failureOrder.Count > KeptFailures)
            {
                _failures.Remove(_failureOrder.Dequeue());
            }

            return number;
        }
    }
}
