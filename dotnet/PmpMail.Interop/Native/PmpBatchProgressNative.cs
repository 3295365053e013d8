using System.Runtime.InteropServices;

namespace PmpMail.Interop.Native;

/// <summary>Where a batch stands (<c>pmp_batch_progress</c>): size_t counts and a uint64 pause. Valid only during the callback.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PmpBatchProgressNative
{
    public nuint Total;
    public nuint Done;
    public nuint Sent;
    public nuint Failed;
    public nuint Unknown;
    public nuint Cancelled;
    public nuint WaitingForThrottle;
    public ulong ThrottledForMs;
}
