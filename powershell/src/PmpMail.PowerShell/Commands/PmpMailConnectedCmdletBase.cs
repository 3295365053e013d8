using System;
using System.Management.Automation;
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
    internal PmpMailConnection AcquireConnection()
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
            WriteVerbose($"Using profile '{ProfileName}' ({spec.Kind}) for app {spec.ClientId} in tenant {spec.TenantId}.");
        }

        if (spec is not null)
        {
            _ownedConnection = ConnectionFactory.Create(spec, WriteVerbose);
            return _ownedConnection;
        }

        PmpMailConnection? session = SessionConnection.Current;
        if (session is null)
        {
            throw new PmpMailSetupException(
                "NoConnection",
                "No credentials were given and there is no session connection.",
                "Pass -TenantId and -ClientId with -ClientSecret, -ClientSecretCredential, -CertificateThumbprint, -Certificate or -CertificatePath; or -Connection, -ProfileName; or run Connect-PmpMail first.");
        }

        RefuseEndpointOverrides("the Connect-PmpMail session connection");
        WriteVerbose($"Using the session connection from Connect-PmpMail: {session}.");
        return session;
    }

    /// <summary>
    /// True after Ctrl+C. A native call in flight cannot be cancelled (the C ABI has no cancel), so the cmdlet
    /// checks this before starting the next one and sends nothing more.
    /// </summary>
    internal bool IsStopping => _stopping;

    /// <inheritdoc />
    protected override void StopProcessing() => _stopping = true;

    /// <summary>Frees a connection this invocation built. PowerShell calls it when the pipeline ends or stops.</summary>
    public void Dispose()
    {
        _ownedConnection?.Dispose();
        _ownedConnection = null;
        GC.SuppressFinalize(this);
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
                $"-Environment, -AuthorityHost, -GraphRoot and -TrustedCaPath apply only when credentials or a profile are given; {source} already has its endpoints.",
                "Remove those parameters, or pass credentials or -ProfileName.");
        }
    }
}
