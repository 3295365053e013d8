using System.Runtime.InteropServices;

namespace PmpMail.Interop.Native;

/// <summary>What the client-assertion callback is asked for (<c>pmp_assertion_params</c>). Valid only during the callback.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PmpAssertionParams
{
    public byte* ClientId;
    public nuint ClientIdLength;
    public byte* TokenUrl;
    public nuint TokenUrlLength;
}
