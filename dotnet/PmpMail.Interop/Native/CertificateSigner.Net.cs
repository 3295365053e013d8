using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace PmpMail.Interop.Native;

// net8.0: an UnmanagedCallersOnly function pointer; no delegate, nothing for the GC to collect.
internal sealed partial class CertificateSigner
{
    /// <summary>The callback handed to <c>pmp_client_new_with_signer</c>.</summary>
    internal static unsafe delegate* unmanaged[Cdecl]<void*, PmpSignParams*, byte*, nuint, nuint*, uint> Callback => &Sign;

    // SignCore catches every exception: none may unwind through the native frames.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe uint Sign(void* userdata, PmpSignParams* parameters, byte* signatureOut, nuint signatureCapacity, nuint* signatureLengthOut) =>
        SignCore(userdata, parameters, signatureOut, signatureCapacity, signatureLengthOut);

    private static bool TrySign(RSA rsa, ReadOnlySpan<byte> data, Span<byte> destination, RSASignaturePadding padding, out int written) =>
        rsa.TrySignData(data, destination, HashAlgorithmName.SHA256, padding, out written);
}
