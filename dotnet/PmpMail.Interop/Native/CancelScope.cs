using System;
using System.Threading;

namespace PmpMail.Interop.Native;

/// <summary>
/// The native cancel handle of one call: none when the token cannot be cancelled, else a <c>pmp_cancel</c> that the
/// token requests. Dispose it after the native call returned: the registration goes first (waiting for a running
/// callback), then the handle is freed.
/// </summary>
internal readonly struct CancelScope : IDisposable
{
    private readonly CancellationTokenRegistration _registration;

    private CancelScope(PmpCancelHandle handle, CancellationTokenRegistration registration)
    {
        Handle = handle;
        _registration = registration;
    }

    /// <summary>The handle to pass, or null for the plain (not cancellable) call.</summary>
    public PmpCancelHandle? Handle { get; }

    public static CancelScope For(CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled)
        {
            return default;
        }

        PmpCancelHandle cancel = PmpCancelHandle.Create();
        try
        {
            return new CancelScope(cancel, cancellationToken.Register(static state => ((PmpCancelHandle)state!).Request(), cancel));
        }
        catch
        {
            cancel.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _registration.Dispose();
        Handle?.Dispose();
    }
}
