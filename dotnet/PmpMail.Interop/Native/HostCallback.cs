using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.RegularExpressions;

namespace PmpMail.Interop.Native;

/// <summary>
/// The state behind a host callback of the native library (<see cref="CertificateSigner"/>,
/// <see cref="AssertionCallback"/>): passed as the callback's userdata through a GCHandle the client's
/// <see cref="PmpClientHandle"/> owns, and disposed after <c>pmp_client_free</c>.
/// </summary>
/// <remarks>
/// Failures are kept per call of the callback, not per callback. The library calls it on its own threads (never the
/// thread of the <see cref="PmpMailClient"/> call that needs the token), so neither a shared "last failure" nor a
/// thread-local can say which call a failure belongs to. Instead the callback files each failure under a fresh number
/// and returns that number as its result; the library reports it in that call's <c>PMP_STATUS_SIGNER</c> error
/// ("… callback failed (returned N)"), and <see cref="FailureFor"/> finds exactly that exception again.
/// </remarks>
internal abstract class HostCallback : IDisposable
{
    /// <summary>Failure result when there is no state to file the exception with; never a failure number.</summary>
    protected const uint NoState = uint.MaxValue;

    /// <summary>Failure numbers run 1..this, then start again at 1.</summary>
    private const uint MaxFailureNumber = int.MaxValue;

    /// <summary>
    /// How many recent failures are kept. A failure no call ever reports (a refresh the library absorbs by
    /// serving the still-valid cached token) is dropped once this many newer ones were filed.
    /// </summary>
    private const int KeptFailures = 64;

    /// <summary>How <c>src/ffi/signer.rs</c> and <c>src/ffi/assertion.rs</c> word a failed callback in the error document.</summary>
    private static readonly Regex FailureNumberPattern = new(@"\(returned (\d+)\)", RegexOptions.CultureInvariant);

    private readonly object _failuresGate = new();
    private readonly Dictionary<uint, Exception> _failures = new();
    private readonly Queue<uint> _failureOrder = new();
    private uint _lastFailureNumber;

    /// <summary>
    /// The exception behind a <c>PMP_STATUS_SIGNER</c> error, found by the failure number its message carries;
    /// null when the error did not come from this callback (or the failure is no longer kept).
    /// </summary>
    public Exception? FailureFor(PmpErrorDetail? detail)
    {
        Match match = FailureNumberPattern.Match(detail?.Message ?? string.Empty);
        if (!match.Success || !uint.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out uint number))
        {
            return null;
        }

        lock (_failuresGate)
        {
            return _failures.TryGetValue(number, out Exception? failure) ? failure : null;
        }
    }

    /// <summary>Releases what the callback owns. The native client must be freed first.</summary>
    public virtual void Dispose()
    {
    }

    /// <summary>Keeps <paramref name="failure"/> under a new number, which the callback returns to the library.</summary>
    protected uint FileFailure(Exception failure)
    {
        lock (_failuresGate)
        {
            _lastFailureNumber = _lastFailureNumber >= MaxFailureNumber ? 1 : _lastFailureNumber + 1;
            uint number = _lastFailureNumber;
            _failures[number] = failure;
            _failureOrder.Enqueue(number);
            while (_failureOrder.Count > KeptFailures)
            {
                _failures.Remove(_failureOrder.Dequeue());
            }

            return number;
        }
    }
}
