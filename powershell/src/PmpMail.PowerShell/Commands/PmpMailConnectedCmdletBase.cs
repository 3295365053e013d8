using System;
using System.Threading;
using System.Collections.Concurrent;
using System.Globalization;
using System.Management.Automation;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using PmpMail.Interop;

namespace PmpMail.Commands;

/// <summary>
/// Base of the cmdlets that talk to Entra ID and Graph. Credentials come, in this order, from the credential
/// parameters, -Connection, -ProfileName, or the connection Connect-PmpMail stored for the session.
/// </summary>
public abstract class PmpMailConnectedCmdletBase : PmpMailCredentialCmdletBase, IDisposable
{
    internal const string ConnectionSet = "Connection";
    internal const string ProfileSet = "Profile";
    internal const string SessionSet = "Session";

    private PmpMailConnection? _ownedConnection;

    /// <summary>The connection <see cref="AcquireConnection"/> returned: its -ClientAssertion script block runs in <see cref="RunNative{T}"/>.</summary>
    private PmpMailConnection? _activeConnection;
    private volatile bool _stopping;

    #region Parameters

    /// <summary>A connection from New-PmpMailConnection (or Connect-PmpMail -PassThru).</summary>
    [Parameter(ParameterSetName = ConnectionSet, Mandatory = true)]
    [ValidateNotNull]
    public PmpMailConnection? Connection { get; set; }

    /// <summary>The name of a profile saved with Register-PmpMailProfile.</summary>
    [Parameter(ParameterSetName = ProfileSet, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ProfileNameCompleter))]
    public string? ProfileName { get; set; }

    #endregion

    /// <summary>
    /// The connection this invocation uses. Connections built from parameters or profiles belong to the
    /// invocation and are freed when it ends; -Connection and the session connection are borrowed.
    /// </summary>
    internal PmpMailConnection AcquireConnection() => _activeConnection = AcquireConnectionCore();

    private PmpMailConnection AcquireConnectionCore()
    {
        if (Connection is not null)
        {
            RefuseEndpointOverrides("-Connection");
            return Connection.IsOpen
                ? Connection
                : throw new PmpMailSetupException("ConnectionClosed", "The connection passed to -Connection was closed.", "Create a new one with New-PmpMailConnection.");
        }

        CredentialSpec? spec = BuildCredentialSpec();
        if (spec is null && ProfileName is not null)
        {
            spec = ProfileStore.Load(ProfileName).ToCredentialSpec();
            ApplyEndpoints(spec);
            WriteVerbose($"Using profile '{ProfileName}' ({spec.Kind}) for {spec.Describe()}.");
        }

        if (spec is not null)
        {
            spec.MaxConcurrentPerMailbox = SendingLimitPerMailbox;
            _ownedConnection = ConnectionFactory.Create(spec, WriteVerbose);
            return _ownedConnection;
        }

        PmpMailConnection? session = SessionConnection.Current;
        if (session is null)
        {
            throw new PmpMailSetupException(
                "NoConnection",
                "No credentials were given and there is no session connection.",
                "Pass -TenantId and -ClientId with -ClientSecret, -ClientSecretCredential, -CertificateThumbprint, -Certificate or -CertificatePath; or -ManagedIdentity, -FederatedTokenFile or -EnvironmentVariable; or -Connection, -ProfileName; or run Connect-PmpMail first.");
        }

        RefuseEndpointOverrides("the Connect-PmpMail session connection");
        WriteVerbose($"Using the session connection from Connect-PmpMail: {session}.");
        return session;
    }

    /// <summary>Sends per mailbox a client made for this invocation allows (null: the library's default, 4).</summary>
    internal virtual int? SendingLimitPerMailbox => null;

    /// <summary>
    /// True after Ctrl+C. The native call in flight stops at its next wait (see <see cref="RunNative{T}"/>); the
    /// cmdlet checks this before starting the next one and sends nothing more.
    /// </summary>
    internal bool IsStopping => _stopping;

    /// <summary>Cancelled by Ctrl+C (StopProcessing). Not disposed: it holds no wait handle or timer.</summary>
    private readonly CancellationTokenSource _stop = new();

    /// <inheritdoc />
    protected override void StopProcessing()
    {
        _stopping = true;
        _stop.Cancel();
    }

    /// <summary>A retry wait at least this long is shown as a warning while it runs (shorter ones only with -Verbose).</summary>
    internal static readonly TimeSpan LongWait = TimeSpan.FromSeconds(3);

    /// <summary>How src/http/retry.rs words a retry in its log: "...; retrying in 60000 ms".</summary>
    private static readonly Regex RetryWaitPattern = new(@"^(?<what>.*); retrying in (?<ms>\d+) ms$", RegexOptions.CultureInvariant);

    /// <summary>
    /// Runs a native call (which blocks until its retries are over) on a worker thread and, meanwhile, writes a
    /// warning on the pipeline thread for each retry wait of <see cref="LongWait"/> or more that the native log
    /// announces, such as Entra ID's 429 with Retry-After: 60. Ctrl+C cancels the token the call gets: the native
    /// library stops at its next wait (a request already sent runs to its answer, never abandoned) and the call
    /// throws <see cref="PmpMailCancelledException"/>. The cmdlet waits for the call to return either way, so nothing
    /// goes out after the pipeline stopped. Meanwhile this thread also runs the connection's -ClientAssertion script
    /// block when the library asks for a token (<see cref="ScriptBlockAssertion"/>). The native log is process-wide, so a wait of another runspace's call in
    /// the same process would be shown too.
    /// </summary>
    internal T RunNative<T>(Func<CancellationToken, T> call) => RunNative(call, null);

    /// <summary>
    /// <see cref="RunNative{T}(Func{CancellationToken, T})"/> that also runs <paramref name="onWake"/> on the pipeline thread
    /// at least every 100 ms while the call runs (until Ctrl+C), e.g. to show the progress the call posted.
    /// </summary>
    internal T RunNative<T>(Func<CancellationToken, T> call, Action? onWake)
    {
        var waits = new ConcurrentQueue<string>();
        using (PmpMailLog.Subscribe((level, message) =>
        {
            Match match = RetryWaitPattern.Match(message);
            if (match.Success && long.TryParse(match.Groups["ms"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out long ms) && ms >= LongWait.TotalMilliseconds)
            {
                waits.Enqueue($"Waiting {Math.Round(ms / 1000.0, 1).ToString(CultureInfo.InvariantCulture)} s before retrying: {match.Groups["what"].Value}. Ctrl+C stops the wait (and sends nothing more).");
            }
        }))
        using (var pump = new ScriptBlockAssertion.Pump())
        using (_activeConnection?.Assertion?.Attach(pump))
        {
            CancellationToken stop = _stop.Token;
            Task<T> task = Task.Run(() => call(stop));
            // Not task.Wait: it would wrap the call's PmpMailException in an AggregateException. The pump's signal wakes
            // the loop when the library asks for a -ClientAssertion token, which only this thread may run.
            WaitHandle[] wake = [((IAsyncResult)task).AsyncWaitHandle, pump.Signal];
            while (WaitHandle.WaitAny(wake, TimeSpan.FromMilliseconds(100)) != 0)
            {
                pump.Run(IsStopping);
                ShowWaits(waits);
                if (!IsStopping)
                {
                    onWake?.Invoke();
                }
            }

            ShowWaits(waits);
            return task.GetAwaiter().GetResult();
        }
    }

    private void ShowWaits(ConcurrentQueue<string> waits)
    {
        while (waits.TryDequeue(out string? wait))
        {
            // After Ctrl+C, writing would throw PipelineStoppedException and abandon the call still running.
            if (!IsStopping)
            {
                WriteWarning(wait);
            }
        }
    }

    /// <summary>Frees a connection this invocation built. PowerShell calls it when the pipeline ends or stops.</summary>
    public void Dispose()
    {
        OnDisposing();
        _ownedConnection?.Dispose();
        _ownedConnection = null;
        GC.SuppressFinalize(this);
    }

    /// <summary>Runs first in <see cref="Dispose"/>, the last step PowerShell runs also after Ctrl+C or a terminating error.</summary>
    internal virtual void OnDisposing()
    {
    }

    /// <summary>Gives the owned connection to the caller (Connect-/New-PmpMailConnection) so Dispose keeps it.</summary>
    internal void ReleaseOwnership() => _ownedConnection = null;

    /// <summary>Runs an acquisition step and turns setup and native failures into terminating errors.</summary>
    internal PmpMailConnection AcquireConnectionOrStop()
    {
        try
        {
            return AcquireConnection();
        }
        catch (PmpMailSetupException ex)
        {
            ThrowSetupError(ex, TenantId ?? ProfileName);
            throw; // unreachable: ThrowTerminatingError always throws
        }
        catch (PmpMailException ex)
        {
            ThrowTerminatingError(ErrorMapper.ToErrorRecord(ex, "ConnectFailed", TenantId ?? ProfileName));
            throw;
        }
        catch (DllNotFoundException ex)
        {
            ThrowTerminatingError(ErrorMapper.Build(ex, "PmpMail.NativeLibraryNotFound", ErrorCategory.ResourceUnavailable, null, ex.Message, null));
            throw;
        }
        catch (Exception ex) when (ex is System.IO.IOException or UnauthorizedAccessException or ArgumentException)
        {
            ThrowTerminatingError(ErrorMapper.Build(ex, "PmpMail.InvalidArgument", ErrorCategory.InvalidArgument, TenantId ?? ProfileName, ex.Message, null));
            throw;
        }
    }

    private void RefuseEndpointOverrides(string source)
    {
        if (HasEndpointParameters)
        {
            throw new PmpMailSetupException(
                "EndpointOverrideIgnored",
                $"-Environment, -AuthorityHost, -GraphRoot, -TrustedCaPath, -Proxy, -NoProxy, -AssertionAlgorithm, -RetryUnknownOutcome, -TimeoutSeconds, -MaxRetryWaitSeconds and -MaxRetryAttempts apply only when credentials or a profile are given; {source} already has its settings.",
                "Remove those parameters, or pass credentials or -ProfileName.");
        }
    }
}
