using System;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace PmpMail.Interop.Native;

// netstandard2.0 (.NET Framework hosts): a cdecl delegate kept in a static field, and RSA.SignData into an array.
internal sealed partial class CertificateSigner
{
    // A static field keeps the delegate (and so the thunk behind the function pointer) alive for the process.
    private static readonly unsafe SignDelegate SignKeepAlive = SignCore;

    /// <summary>The callback handed to <c>pmp_client_new_with_signer</c>.</summary>
    internal static readonly IntPtr Callback = Marshal.GetFunctionPointerForDelegate(SignKeepAlive);

    // SignCore catches every exception: none may unwind through the native frames.
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private unsafe delegate uint SignDelegate(void* userdata, PmpSignParams* parameters, byte* signatureOut, nuint signatureCapacity, nuint* signatureLengthOut);

    private static bool TrySign(RSA rsa, ReadOnlySpan<byte> data, Span<byte> destination, RSASignaturePadding padding, out int written)
    {
        byte[] signature = rsa.SignData(data.ToArray(), HashAlgorithmName.SHA256, padding);
        if (signature.Length > destination.Length)
        {
            written = 0;
            return false;
        }

        signature.CopyTo(destination);
        written = signature.Length;
        return true;
    }
}
