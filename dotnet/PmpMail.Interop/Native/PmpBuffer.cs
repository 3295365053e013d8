using System.Runtime.InteropServices;

namespace PmpMail.Interop.Native;

/// <summary>
/// A borrowed byte buffer (<c>pmp_buffer</c>): <see cref="Length"/> bytes at <see cref="Data"/>, NULL with length 0
/// allowed. The native library reads it only during the call it is passed to, so it must stay pinned until then.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PmpBuffer
{
    public byte* Data;
    public nuint Length;
}
