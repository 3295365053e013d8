using System.Runtime.InteropServices;

namespace PmpMail.Interop.Native;

/// <summary>Signing request passed to the host signer (<c>pmp_sign_params</c>). Valid only during the callback.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PmpSignParams
{
    public uint Algorithm;
    public byte* Data;
    public nuint DataLength;
}
