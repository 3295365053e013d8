using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Runtime.InteropServices;
using System.Security;
using System.Threading;
using System.Threading.Tasks;
using PmpMail.Interop;

namespace PmpMail;

/// <summary>
/// -ClientAssertion: the caller's script block supplies each client assertion the native library asks for. The library
/// asks on its own threads, where PowerShell cannot run script; so the request is queued for the pipeline thread of the
/// cmdlet whose native call is waiting (<see cref="Commands.PmpMailConnectedCmdletBase"/>'s RunNative runs the queue),
/// and the library's thread waits for the answer. The script block runs in the caller's session, with its variables
/// and modules, once per token (tokens are cached), not once per mail.
/// </summary>
internal sealed class ScriptBlockAssertion
{
    private readonly ScriptBlock _script;
    private readonly object _gate = new();
    private readonly List<Pump> _pumps = new();

    public ScriptBlockAssertion(ScriptBlock script) => _script = script;

    /// <summary>The provider handed to <see cref="PmpMailClient.CreateWithClientAssertion"/>; runs on a library thread.</summary>
    public string Provide(PmpClientAssertionRequest request)
    {
        Pump? pump;
        lock (_gate)
        {
            pump = _pumps.LastOrDefault();
        }

        if (pump is null)
        {
            throw new InvalidOperationException("The -ClientAssertion script block runs only while a PmpMail cmdlet using this connection runs.");
        }

        var item = new WorkItem(request);
        pump.Post(item, this);
        return item.Result.GetAwaiter().GetResult();
    }

    /// <summary>Lets <paramref name="pump"/>'s pipeline thread answer requests until the result is disposed.</summary>
    public IDisposable Attach(Pump pump)
    {
        lock (_gate)
        {
            _pumps.Add(pump);
        }

        return new Detach(this, pump);
    }

    /// <summary>Runs the script block (pipeline thread) and takes its last output as the assertion.</summary>
    private string Invoke(PmpClientAssertionRequest request)
    {
        object? last = _script.Invoke(request).Where(o => o is not null).Select(o => o.BaseObject).LastOrDefault();
        return last switch
        {
            string text when !string.IsNullOrWhiteSpace(text) => text,
            SecureString secure => Plain(secure),
            null => throw new InvalidOperationException("The -ClientAssertion script block returned nothing; it must return the federated token (a JWT) as a string."),
            _ => throw new InvalidOperationException($"The -ClientAssertion script block returned a {last.GetType().Name}; it must return the federated token (a JWT) as a string."),
        };
    }

    private static string Plain(SecureString secure)
    {
        IntPtr chars = Marshal.SecureStringToGlobalAllocUnicode(secure);
        try
        {
            return Marshal.PtrToStringUni(chars, secure.Length);
        }
        finally
        {
            Marshal.ZeroFreeGlobalAllocUnicode(chars);
        }
    }

    /// <summary>One pipeline thread's queue of requests; <see cref="Run"/> is called on that thread while it waits for its native call.</summary>
    internal sealed class Pump : IDisposable
    {
        private readonly ConcurrentQueue<(ScriptBlockAssertion Owner, WorkItem Item)> _queue = new();

        /// <summary>Set when a request is queued, so the waiting pipeline thread wakes at once.</summary>
        public AutoResetEvent Signal { get; } = new(false);

        internal void Post(WorkItem item, ScriptBlockAssertion owner)
        {
            _queue.Enqueue((owner, item));
            Signal.Set();
        }

        /// <summary>Answers the queued requests; after Ctrl+C (<paramref name="stopping"/>) fails them instead of running script.</summary>
        public void Run(bool stopping)
        {
            while (_queue.TryDequeue(out var entry))
            {
                if (stopping)
                {
                    entry.Item.Fail(new OperationCanceledException("The pipeline was stopped before the -ClientAssertion script block ran."));
                    continue;
                }

                try
                {
                    entry.Item.Complete(entry.Owner.Invoke(entry.Item.Request));
                }
                catch (Exception ex)
                {
                    entry.Item.Fail(ex);
                }
            }
        }

        public void Dispose()
        {
            // Nothing may wait forever on a pump that is gone.
            Run(stopping: true);
            Signal.Dispose();
        }
    }

    /// <summary>One request and the answer the library's thread waits for.</summary>
    internal sealed class WorkItem(PmpClientAssertionRequest request)
    {
        private readonly TaskCompletionSource<string> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public PmpClientAssertionRequest Request { get; } = request;

        public Task<string> Result => _result.Task;

        public void Complete(string assertion) => _result.TrySetResult(assertion);

        public void Fail(Exception exception) => _result.TrySetException(exception);
    }

    private sealed class Detach(ScriptBlockAssertion owner, Pump pump) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._gate)
            {
                owner._pumps.Remove(pump);
            }
        }
    }
}
