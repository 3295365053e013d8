using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PmpMail.Interop.Native;

/// <summary>
/// Signs client assertions with a certificate's private key for the native library. The key is used
/// through <c>RSA.TrySignData</c> (<c>RSA.SignData</c> on netstandard2.0)
/// and never exported, so non-exportable store and CNG keys work.
/// </summary>
internal sealed class CertificateSigner
{
    internal const uint AlgorithmRs256 = 1;
    internal const uint AlgorithmPs256 = 2;
    private const uint Ok = 0;
    private const uint Failed = 1;
    private const uint BufferTooSmall = 2;
    private const uint UnknownAlgorithm = 3;

    private readonly X509Certificate2 _certificate;

    public CertificateSigner(X509Certificate2 certificate)
    {
        _certificate = certificate;
    }

    /// <summary>The most recent failure inside the callback, surfaced as the inner exception of a signer error.</summary>
    public Exception? LastFailure { get; private set; }

    /// <summary>Number of signatures made (diagnostics and tests).</summary>
    public int SignatureCount => _signatureCount;

    private int _signatureCount;

#if NET
    /// <summary>The callback handed to <c>pmp_client_new_with_signer</c>: no delegate, nothing for the GC to collect.</summary>
    internal static unsafe delegate* unmanaged[Cdecl]<void*, PmpSignParams*, byte*, nuint, nuint*, uint> Callback => &Sign;

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
#else
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private unsafe delegate uint SignDelegate(void* userdata, PmpSignParams* parameters, byte* signatureOut, nuint signatureCapacity, nuint* signatureLengthOut);

    // A static field keeps the delegate (and so the thunk behind the function pointer) alive for the process.
    private static readonly unsafe SignDelegate SignKeepAlive = Sign;

    /// <summary>The callback handed to <c>pmp_client_new_with_signer</c>.</summary>
    internal static readonly IntPtr Callback = Marshal.GetFunctionPointerForDelegate(SignKeepAlive);
#endif
    private static unsafe uint Sign(void* userdata, PmpSignParams* parameters, byte* signatureOut, nuint signatureCapacity, nuint* signatureLengthOut)
    {
        // Runs on a native thread: nothing may escape, and nothing here touches PowerShell.
        CertificateSigner? signer = null;
        try
        {
            if (userdata == null || parameters == null || signatureOut == null || signatureLengthOut == null)
            {
                return Failed;
            }

            signer = GCHandle.FromIntPtr((IntPtr)userdata).Target as CertificateSigner;
            if (signer is null)
            {
                return Failed;
            }

            var data = new ReadOnlySpan<byte>(parameters->Data, checked((int)parameters->DataLength));
            var destination = new Span<byte>(signatureOut, signatureCapacity > int.MaxValue ? int.MaxValue : (int)signatureCapacity);
            return signer.SignInto(parameters->Algorithm, data, destination, out int written, signatureLengthOut);
        }
        catch (Exception ex)
        {
            if (signer is not null)
            {
                signer.LastFailure = ex;
            }

            return Failed;
        }
    }

    private unsafe uint SignInto(uint algorithm, ReadOnlySpan<byte> data, Span<byte> destination, out int written, nuint* signatureLengthOut)
    {
        written = 0;
        RSASignaturePadding padding;
        switch (algorithm)
        {
            case AlgorithmRs256:
                padding = RSASignaturePadding.Pkcs1;
                break;
            case AlgorithmPs256:
                // .NET's PSS uses MGF1 with the same hash and salt length = hash length (32): what PS256 requires.
                padding = RSASignaturePadding.Pss;
                break;
            default:
                LastFailure = new NotSupportedException($"The native library asked for signing algorithm {algorithm}, which this host does not know.");
                return UnknownAlgorithm;
        }

        // A fresh key object per call: RSA instances are not documented as thread-safe, and calls may be concurrent.
        using RSA rsa = _certificate.GetRSAPrivateKey()
            ?? throw new CryptographicException($"Certificate {_certificate.Thumbprint} has no RSA private key this process can use.");
#if NET
        if (!rsa.TrySignData(data, destination, HashAlgorithmName.SHA256, padding, out written))
        {
            LastFailure = new InvalidOperationException($"The signature ({rsa.KeySize / 8} bytes) does not fit the native buffer ({destination.Length} bytes).");
            return BufferTooSmall;
        }
#else
        byte[] signature = rsa.SignData(data.ToArray(), HashAlgorithmName.SHA256, padding);
        if (signature.Length > destination.Length)
        {
            LastFailure = new InvalidOperationException($"The signature ({signature.Length} bytes) does not fit the native buffer ({destination.Length} bytes).");
            return BufferTooSmall;
        }

        signature.CopyTo(destination);
        written = signature.Length;
#endif

        *signatureLengthOut = (nuint)written;
        System.Threading.Interlocked.Increment(ref _signatureCount);
        return Ok;
    }
}
