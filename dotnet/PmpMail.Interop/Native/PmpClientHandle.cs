using System;
using System.Runtime.InteropServices;

namespace PmpMail.Interop.Native;

/// <summary>
/// Owns one native <c>pmp_client</c>. When the client was made with a host callback (signer, client assertion) it also owns the
/// <see cref="GCHandle"/> passed as the callback's userdata: the native client may call back until
/// <c>pmp_client_free</c> returns, so the GCHandle is freed, and what the callback owns disposed,
/// only after that.
/// </summary>
internal sealed class PmpClientHandle : SafeHandle
{
    private GCHandle _callbackState;

    /// <summary>Creates an invalid handle; the marshaller fills it in.</summary>
    public PmpClientHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Hands the callback state to this handle, which releases it after the native client.</summary>
    internal void AttachCallbackState(GCHandle state) => _callbackState = state;

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        // May run on the finalizer thread: pmp_client_free never blocks on the caller and never fails.
        NativeMethods.ClientFree(handle);
        if (_callbackState.IsAllocated)
        {
            var callback = _callbackState.Target as HostCallback;
            _callbackState.Free();
            callback?.Dispose();
        }

        return true;
    }
}
