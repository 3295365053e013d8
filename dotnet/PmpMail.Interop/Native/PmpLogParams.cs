using System.Runtime.InteropServices;

namespace PmpMail.Interop.Native;

/// <summary>One log message passed to the log callback (<c>pmp_log_params</c>). Valid only during the callback.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PmpLogParams
{
    public uint Level;
    public byte* Message;
    public nuint MessageLength;
}
