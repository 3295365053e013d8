using System;
using System.Runtime.InteropServices;

namespace PmpMail.Interop.Native;

/// <summary>
/// Owns one native <c>pmp_cancel</c>. <c>pmp_cancel_request</c> on it is thread-safe and idempotent; the handle is
/// freed only after the call using it has returned and the token registration that requests it has been disposed
/// (the SafeHandle's reference count also keeps it alive while a request is being made).
/// </summary>
internal sealed class PmpCancelHandle : SafeHandle
{
    /// <summary>Creates an invalid handle; the marshaller fills it in.</summary>
    public PmpCancelHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Creates a new, not cancelled handle.</summary>
    internal static PmpCancelHandle Create()
    {
        uint status = NativeMethods.CancelNew(out PmpCancelHandle cancel);
        if (status != 0)
        {
            cancel.Dispose();
            throw PmpMailException.Create((PmpStatus)status, null);
        }

        return cancel;
    }

    /// <summary>Asks the call using this handle to stop at its next wait. Safe on any thread, any number of times.</summary>
    internal void Request()
    {
        bool added = false;
        try
        {
            DangerousAddRef(ref added);
            NativeMethods.CancelRequest(handle);
        }
        catch (ObjectDisposedException)
        {
            // The call has finished and freed the handle: nothing left to cancel.
        }
        finally
        {
            if (added)
            {
                DangerousRelease();
            }
        }
    }

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        NativeMethods.CancelFree(handle);
        return true;
    }
}
