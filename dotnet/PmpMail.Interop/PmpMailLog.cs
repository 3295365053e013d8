using System;
using System.Threading;
using PmpMail.Interop.Native;

namespace PmpMail.Interop;

/// <summary>Severity of a native log message (<c>PMP_LOG_LEVEL_*</c>).</summary>
public enum PmpLogLevel
{
    /// <summary>An error.</summary>
    Error = 1,
    /// <summary>Something the user should know (a draft left in place, a cached token kept after a failed refresh).</summary>
    Warn = 2,
    /// <summary>The steps of an operation: token source, request ids, retries and their waits.</summary>
    Info = 3,
    /// <summary>Details.</summary>
    Debug = 4,
}

/// <summary>
/// The native library's log messages as they happen (<c>pmp_set_log_callback</c>), e.g. "HTTP 429 ...; retrying in
/// 60000 ms" while a call is still waiting, where the result's <see cref="PmpSendResult.Log"/> only comes at its end.
/// The native log is process-wide: every subscriber sees the messages of every client in the process, from any
/// thread, possibly concurrently. Messages never contain secrets, tokens or assertions.
/// </summary>
public static unsafe partial class PmpMailLog
{
    private static readonly object Gate = new();
    private static Action<PmpLogLevel, string>[] _handlers = Array.Empty<Action<PmpLogLevel, string>>();

    /// <summary>
    /// Calls <paramref name="handler"/> with each native log message (all levels) until the returned object is
    /// disposed. The handler runs on library threads, possibly concurrently, and must be quick; an exception it
    /// throws is swallowed (nothing may unwind into native code). The native callback is installed with the first
    /// subscription and removed with the last.
    /// </summary>
    public static IDisposable Subscribe(Action<PmpLogLevel, string> handler)
    {
        Guard.NotNull(handler, nameof(handler));
        NativeLibraryResolver.EnsureRegistered();
        lock (Gate)
        {
            if (_handlers.Length == 0)
            {
                Install(true);
            }

            var handlers = new Action<PmpLogLevel, string>[_handlers.Length + 1];
            _handlers.CopyTo(handlers, 0);
            handlers[handlers.Length - 1] = handler;
            Volatile.Write(ref _handlers, handlers);
        }

        return new Subscription(handler);
    }

    private static void Unsubscribe(Action<PmpLogLevel, string> handler)
    {
        lock (Gate)
        {
            int index = Array.IndexOf(_handlers, handler);
            if (index < 0)
            {
                return;
            }

            var handlers = new Action<PmpLogLevel, string>[_handlers.Length - 1];
            Array.Copy(_handlers, 0, handlers, 0, index);
            Array.Copy(_handlers, index + 1, handlers, index, _handlers.Length - index - 1);
            Volatile.Write(ref _handlers, handlers);
            if (handlers.Length == 0)
            {
                Install(false);
            }
        }
    }

    private static void Install(bool on)
    {
        uint status = NativeMethods.SetLogCallback(on ? Callback : default, null, (uint)PmpLogLevel.Debug);
        if (status != 0)
        {
            throw PmpMailException.Create((PmpStatus)status, null);
        }
    }

    /// <summary>
    /// The body of the callback on both targets. Stateless (no userdata): a message emitted just after the callback
    /// was removed still finds a valid function and, at worst, no handler. Catches everything.
    /// </summary>
    private static void LogCore(void* userdata, PmpLogParams* parameters)
    {
        try
        {
            if (parameters == null || parameters->Message == null)
            {
                return;
            }

            Action<PmpLogLevel, string>[] handlers = Volatile.Read(ref _handlers);
            if (handlers.Length == 0)
            {
                return;
            }

            string message = System.Text.Encoding.UTF8.GetString(parameters->Message, checked((int)parameters->MessageLength));
            var level = (PmpLogLevel)parameters->Level;
            foreach (Action<PmpLogLevel, string> handler in handlers)
            {
                try
                {
                    handler(level, message);
                }
                catch (Exception)
                {
                    // A subscriber's failure must neither reach native code nor stop the others.
                }
            }
        }
        catch (Exception)
        {
            // Nothing may unwind through the native frames.
        }
    }

    private sealed class Subscription(Action<PmpLogLevel, string> handler) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Unsubscribe(handler);
            }
        }
    }
}
