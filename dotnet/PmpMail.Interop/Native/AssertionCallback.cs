using System;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

namespace PmpMail.Interop.Native;

/// <summary>
/// Hands the native library the client assertions the host's provider returns
/// (<c>pmp_client_new_with_assertion_callback</c>). The entry point is per target: <c>AssertionCallback.Net.cs</c>
/// (UnmanagedCallersOnly) and <c>AssertionCallback.NetStandard.cs</c> (a delegate). Failures reach the caller's
/// exception as <see cref="HostCallback"/> describes.
/// </summary>
internal sealed partial class AssertionCallback : HostCallback
{
    private const uint Ok = 0;

    private readonly Func<PmpClientAssertionRequest, string> _provider;
    private int _callCount;

    public AssertionCallback(Func<PmpClientAssertionRequest, string> provider) => _provider = provider;

    /// <summary>How many times the library asked for an assertion (diagnostics and tests).</summary>
    public int CallCount => Volatile.Read(ref _callCount);

    /// <summary>The body of the callback on both targets. Catches everything: nothing may unwind into native code.</summary>
    private static unsafe uint AssertCore(void* userdata, PmpAssertionParams* parameters, byte* assertionOut, nuint assertionCapacity, nuint* assertionLengthOut)
    {
        // Runs on a library thread: the provider must not need the caller's thread.
        AssertionCallback? callback = null;
        try
        {
            callback = userdata == null ? null : GCHandle.FromIntPtr((IntPtr)userdata).Target as AssertionCallback;
            if (callback is null)
            {
                return NoState;
            }

            if (parameters == null || assertionOut == null || assertionLengthOut == null)
            {
                throw new InvalidOperationException("The native library called the assertion callback with a NULL argument.");
            }

            var request = new PmpClientAssertionRequest(
                Utf8(parameters->ClientId, parameters->ClientIdLength),
                Utf8(parameters->TokenUrl, parameters->TokenUrlLength));
            *assertionLengthOut = (nuint)callback.WriteAssertion(request, assertionOut, assertionCapacity);
            return Ok;
        }
        catch (Exception ex)
        {
            try
            {
                return callback?.FileFailure(ex) ?? NoState;
            }
            catch
            {
                return NoState;
            }
        }
    }

    private unsafe int WriteAssertion(PmpClientAssertionRequest request, byte* destination, nuint capacity)
    {
        Interlocked.Increment(ref _callCount);
        string assertion = _provider(request)
            ?? throw new InvalidOperationException("The client-assertion provider returned null.");
        int length = Encoding.UTF8.GetByteCount(assertion);
        if ((nuint)length > capacity)
        {
            throw new InvalidOperationException($"The client assertion ({length} bytes) is larger than the native library accepts ({capacity} bytes).");
        }

        fixed (char* chars = assertion)
        {
            return Encoding.UTF8.GetBytes(chars, assertion.Length, destination, length);
        }
    }

    private static unsafe string Utf8(byte* bytes, nuint length) =>
        bytes == null ? string.Empty : Encoding.UTF8.GetString(bytes, checked((int)length));
}
